"""`minigrad train`: train an MLP, or the book's SimpleConvNet / DeepConvNet, on MNIST or
Fashion-MNIST from the command line.

The run never loses work: every output path is checked before training starts, an existing
checkpoint or model file is replaced only when the user resumes it or says `--overwrite`, and
`--resume` with other settings lists every difference and stops (`minigrad_nn.checkpoint`).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
from collections.abc import Callable
from typing import Any

from . import optim
from .cli_common import (
    UsageError,
    add_common_options,
    load_data,
    non_negative_float,
    positive_float,
    positive_int,
    probability,
)
from .distributed import comm
from .history import PLOT_HINT, History
from .losses import CrossEntropyLoss
from .models import MLP, DeepConvNet, SimpleConvNet
from .module import Module
from .serialization import check_writable, save
from .threads import available_cores, default_threads, limit_threads
from .training import fit

__all__ = ["add_train_parser", "run_training", "train"]

#: name -> (optimizer class, default learning rate).
OPTIMIZERS: dict[str, tuple[Callable[..., optim.Optimizer], float]] = {
    "sgd": (optim.SGD, 0.1),
    "momentum": (optim.Momentum, 0.01),
    "adagrad": (optim.Adagrad, 0.01),
    "rmsprop": (optim.RMSprop, 0.001),
    "adam": (optim.Adam, 0.001),
    "adamw": (optim.AdamW, 0.001),
}
SCHEDULERS = ("none", "cosine")
#: --model: the book's convolutional networks take the images as (N, 1, 28, 28).
CNNS: dict[str, type[Module]] = {"simple-cnn": SimpleConvNet, "deep-cnn": DeepConvNet}
N_PIXELS, N_CLASSES = 784, 10
BOOK_ITERS = 10000  # the book's run: iters_num = 10000

TRAIN_DESCRIPTION = """\
Train a fully connected network (784-HIDDEN...-10) and print one line per epoch:
train loss, train and test accuracy, learning rate, seconds; then a summary.
The defaults are the book's TwoLayerNet run: 784-50-10, ReLU, SGD lr 0.1,
batch 100, 10000 iterations (16.7 epochs), which reaches about 97% test
accuracy on MNIST in under half a minute.

Work is never lost: output paths are checked before training; an existing
--checkpoint or --save file is replaced only by --resume or --overwrite; the
checkpoint stores the run's settings, and --resume with different ones lists
each difference and stops. On resume only the length may change: --epochs
(or --iters) counts all epochs, those in the checkpoint included, and a cosine
schedule is stretched over the new length.
"""
TRAIN_EPILOG = """\
examples:
  minigrad train                                   # the book's run: ~97% on MNIST
  minigrad train --limit 6000                      # the same run on a tenth of the data
  minigrad train --hidden 100 100 --optimizer adam --epochs 5
  minigrad train --hidden 1024 1024 --dropout 0.2 --optimizer adam --scheduler cosine \\
                 --epochs 20 --save model.npz --plot curves.png
  minigrad train --model simple-cnn --optimizer adam --epochs 20   # the book's ch. 7 CNN
  minigrad train --epochs 20 --checkpoint run.ckpt  # Ctrl-C, then add --resume to continue
  minigrad train --epochs 30 --checkpoint run.ckpt --resume   # 10 more epochs
"""


def add_train_parser(commands: Any) -> argparse.ArgumentParser:
    """Add `train` to `commands` (from `add_subparsers()`); its handler is `train`."""
    lrs = ", ".join(f"{lr:g} for {name}" for name, (_, lr) in OPTIMIZERS.items())
    p = commands.add_parser(
        "train",
        help="train an MLP on MNIST or Fashion-MNIST",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(p)
    p.add_argument("--model", choices=("mlp", *CNNS), default="mlp",
                   help="mlp: 784-HIDDEN...-10; simple-cnn: the book's SimpleConvNet (chapter 7, "
                   "conv 30x5x5 - pool - 100 - 10); deep-cnn: its DeepConvNet (chapter 8, six 3x3 "
                   "convolutions, dropout 0.5). The CNNs ignore --hidden, --activation and "
                   "--dropout (default: %(default)s)")
    p.add_argument("--dropout", type=probability, default=0.0, metavar="P",
                   help="dropout probability after each activation (default: %(default)s)")
    p.add_argument("--optimizer", choices=tuple(OPTIMIZERS), default="sgd",
                   help="optimizer; momentum is SGD with momentum 0.9 (default: %(default)s)")
    p.add_argument("--lr", type=positive_float, metavar="LR",
                   help=f"learning rate (default: {lrs})")
    p.add_argument("--weight-decay", type=non_negative_float, metavar="WD",
                   help="weight decay (default: the optimizer's own: 0, and 0.01 for adamw)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default="none",
                   help="learning-rate schedule, stepped once per epoch; cosine anneals to 0 "
                   "over the run (default: %(default)s)")
    p.add_argument("--batch-size", type=positive_int, default=100, metavar="N",
                   help="mini-batch size (default: %(default)s)")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=positive_int, metavar="N",
                        help="passes over the training data, in all (a resumed run's included) "
                        f"(default: the book's run, --iters {BOOK_ITERS}, 16.7 epochs)")
    length.add_argument("--iters", type=positive_int, metavar="N",
                        help="train exactly N iterations (mini-batches) in all instead of whole "
                        f"epochs; the last epoch may be partial (default: {BOOK_ITERS} unless "
                        "--epochs is given, fewer with --limit)")
    p.add_argument("--limit", type=positive_int, metavar="N",
                   help="for a quick run: train on the first N training images only; without "
                   "--epochs or --iters the run keeps the book's 16.7 epochs, so it takes "
                   "N/60000 of the full run's time (--limit 6000: 1000 iterations) "
                   "(default: all images)")
    p.add_argument("--threads", type=positive_int, metavar="N",
                   help="BLAS threads for NumPy's matrix products (default: the fastest for "
                   "the job: 1 for small networks, where more threads only wait for each other "
                   f"and are much slower on a busy machine; all {available_cores()} cores when "
                   "a layer's product (batch x in x out) reaches 5e7, e.g. --hidden 1024 1024)")
    p.add_argument("--save", metavar="PATH",
                   help="write the trained model's state dict (.npz) to PATH; load it with "
                   "model.load_state_dict(minigrad_nn.load(PATH)); an existing file is "
                   "replaced only with --overwrite or --resume (default: off)")
    p.add_argument("--plot", metavar="PATH",
                   help=f"write a PNG of the loss and accuracy curves to PATH; needs "
                   f"matplotlib: {PLOT_HINT} (default: off)")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="save the run (state and settings) to PATH after every epoch; an "
                   "existing file is never replaced unless you --resume from it or say "
                   "--overwrite (default: off)")
    resume = p.add_mutually_exclusive_group()
    resume.add_argument("--resume", action="store_true",
                        help="continue from the --checkpoint file, up to --epochs (or --iters) "
                        "in all; other settings must be the checkpoint's (default: off)")
    resume.add_argument("--overwrite", action="store_true",
                        help="start a new run even if the --checkpoint file exists (replaced "
                        "when the first epoch ends), and replace an existing --save file "
                        "(default: off)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (the epoch lines are still printed) (default: off)")
    p.set_defaults(handler=train)
    return p


def train(args: argparse.Namespace) -> int:
    """`minigrad train`: train, print a summary, save the model and curves when asked.
    Under `mpirun -n N` the N ranks share each batch and only rank 0 prints and writes."""
    model, history, trained = run_training(args)
    if comm.get_rank() == 0:
        print(_summary(history, trained))
        _write_outputs(args, model, history)
    return 0


def run_training(args: argparse.Namespace) -> tuple[Module, History, int]:
    """Load the data, build the model and optimizer from `args` and run `fit` (prints its lines);
    returns the model, its history and the number of epochs trained by this call."""
    _check_train_paths(args)
    # Rank 0 first: a download into the cache happens once.
    (x_train, t_train), test = comm.rank0_first(lambda: load_data(args, args.quiet))
    full_size = len(x_train)
    if args.limit is not None:
        x_train, t_train = x_train[: args.limit], t_train[: args.limit]
    if args.model in CNNS:  # images stay images: (N, 1, 28, 28)
        x_train, test = x_train.reshape(-1, 1, 28, 28), (test[0].reshape(-1, 1, 28, 28), test[1])
        model: Module = CNNS[args.model](seed=args.seed)
    else:
        model = MLP((N_PIXELS, *args.hidden, N_CLASSES), args.activation, args.dropout, args.seed)
    optimizer = _optimizer(args, model)
    epochs, iters = _run_length(args, len(x_train), full_size)
    n_epochs = math.ceil(iters / math.ceil(len(x_train) / args.batch_size)) if iters else epochs
    scheduler = (
        optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
        if args.scheduler == "cosine"
        else None
    )
    threads = args.threads or (
        1 if args.model in CNNS else default_threads(model.sizes, args.batch_size)
    )
    if comm.get_rank() == 0:
        print(_header(args, model, optimizer, len(x_train), len(test[0]), n_epochs, iters,
                      threads))
    trained: list[int] = []
    with limit_threads(threads):
        history = fit(
            model,
            CrossEntropyLoss(),
            optimizer,
            (x_train, t_train),
            test,
            epochs=epochs,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=not args.quiet,
            scheduler=scheduler,
            checkpoint=args.checkpoint,
            resume=args.resume,
            # --overwrite may be about --save alone: fit's flag is only the checkpoint's.
            overwrite=args.overwrite and args.checkpoint is not None,
            settings=_settings(args, optimizer),
            callbacks=[lambda epoch, _: trained.append(epoch)],
            iters=iters,
        )
    return model, history, len(trained)


def _settings(args: argparse.Namespace, optimizer: optim.Optimizer) -> dict[str, Any]:
    """The flags that decide the run (all but its length and where things go), as the
    checkpoint stores them; the learning rate and weight decay as used."""
    group = optimizer.param_groups[0]
    model = {"--model": args.model} if args.model != "mlp" else {}  # older checkpoints lack it
    return {
        **model,
        "--dataset": args.dataset,
        "--limit": args.limit,
        "--hidden": list(args.hidden),
        "--activation": args.activation,
        "--dropout": args.dropout,
        "--optimizer": args.optimizer,
        "--lr": group.get("initial_lr", group["lr"]),
        "--weight-decay": group.get("weight_decay"),
        "--scheduler": args.scheduler,
        "--batch-size": args.batch_size,
        "--seed": args.seed,
    }


def _run_length(args: argparse.Namespace, n_train: int, full_size: int) -> tuple[int, int | None]:
    """(epochs, iters) for `fit`: --epochs, else --iters, else the book's 10000 iterations
    (16.7 epochs of 60000 images); with --limit the same number of epochs, so fewer
    iterations."""
    if args.epochs is not None:
        return args.epochs, None
    if args.iters is not None:
        return 1, args.iters
    return 1, max(1, round(BOOK_ITERS * n_train / full_size))


def _check_train_paths(args: argparse.Namespace) -> None:
    """Fail before training, not after it, on output paths and options that cannot work."""
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH")
    if args.overwrite and not (args.checkpoint or args.save):
        raise UsageError("--overwrite needs --checkpoint PATH or --save PATH")
    paths = [(flag, getattr(args, flag)) for flag in ("save", "plot", "checkpoint")]
    given = [(flag, path) for flag, path in paths if path]
    for flag, path in given:
        try:
            check_writable(path)
        except OSError as err:
            raise UsageError(f"--{flag} {path}: {err.strerror or err}") from err
    real = [os.path.realpath(path) for _, path in given]
    if len(set(real)) < len(real):
        raise UsageError("--save, --plot and --checkpoint must be different files")
    if args.save and os.path.exists(args.save) and not (args.overwrite or args.resume):
        raise UsageError(
            f"--save {args.save}: the file exists; add --overwrite to replace it, or choose "
            "another path"
        )
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise ImportError(f"--plot needs matplotlib: {PLOT_HINT}")


def _optimizer(args: argparse.Namespace, model: Module) -> optim.Optimizer:
    cls, default_lr = OPTIMIZERS[args.optimizer]
    options = {} if args.weight_decay is None else {"weight_decay": args.weight_decay}
    return cls(model.parameters(), lr=default_lr if args.lr is None else args.lr, **options)


def _header(
    args: argparse.Namespace,
    model: Module,
    optimizer: optim.Optimizer,
    n_train: int,
    n_test: int,
    n_epochs: int,
    iters: int | None,
    threads: int,
) -> str:
    if args.model in CNNS:
        sizes, dropout = type(model).__name__, ""
    else:
        sizes = "-".join(str(n) for n in model.sizes) + f" {args.activation}"
        dropout = f", dropout {args.dropout:g}" if args.dropout else ""
    length = f"{iters} iterations = {n_epochs} epochs" if iters else f"{n_epochs} epochs"
    schedule = f" ({args.scheduler})" if args.scheduler != "none" else ""
    ranks = comm.get_world_size()
    on_ranks = f" on {ranks} ranks ({args.batch_size // ranks} each)" if ranks > 1 else ""
    return (
        f"training {sizes}{dropout} on {args.dataset} ({n_train} train, "
        f"{n_test} test images): {args.optimizer} lr {optimizer.param_groups[0]['lr']:g}"
        f"{schedule}, batch {args.batch_size}{on_ranks}, {length}, seed {args.seed}, "
        f"{threads} thread{'s' if threads > 1 else ''}{' each' if ranks > 1 else ''}"
    )


def _summary(history: History, trained: int) -> str:
    if trained == 0:
        return (
            f"nothing to train: the checkpoint already holds {history.epochs} epochs, as many "
            "as asked for (--epochs or --iters counts them all; ask for more to continue)"
        )
    best = max(range(history.epochs), key=lambda e: history.test_acc[e] or 0.0)
    resumed = history.epochs - trained
    continued = f", {resumed} of them from the checkpoint" if resumed else ""
    return (
        f"done: {history.epochs} epochs ({history.iterations[-1]} iterations{continued}) in "
        f"{math.fsum(history.seconds[resumed:]):.1f} s; test accuracy "
        f"{history.test_acc[-1]:.4f} (best {history.test_acc[best]:.4f} at epoch {best + 1}), "
        f"train accuracy {history.train_acc[-1]:.4f}"
    )


def _write_outputs(args: argparse.Namespace, model: Module, history: History) -> None:
    if args.save:
        save(dict(model.state_dict()), args.save)
        print(f"saved the model to {args.save}")
    if args.plot and history.epochs:
        history.plot(args.plot)
        print(f"saved the curves to {args.plot}")
