"""The `minigrad` command (also `python -m minigrad_nn`): `minigrad train` and `minigrad gradcheck`.

Mistakes in the command line exit with status 2, problems met while running (missing data, an
unreadable checkpoint) with 1; either prints a one-line message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import minigrad as mg

from . import datasets, optim
from .cli_bench import add_bench_parser
from .datasets import DatasetError
from .losses import CrossEntropyLoss
from .models import ACTIVATIONS, MLP
from .serialization import SerializationError, save
from .training import PLOT_HINT, CheckpointError, History, fit

__all__ = ["build_parser", "main", "run_training"]

#: name -> (optimizer class, default learning rate).
OPTIMIZERS: dict[str, tuple[Callable[..., optim.Optimizer], float]] = {
    "sgd": (optim.SGD, 0.1),
    "momentum": (optim.Momentum, 0.01),
    "adagrad": (optim.Adagrad, 0.01),
    "rmsprop": (optim.RMSprop, 0.001),
    "adam": (optim.Adam, 0.001),
    "adamw": (optim.AdamW, 0.001),
}
DATASETS = ("mnist", "fashion-mnist")
SCHEDULERS = ("none", "cosine")
N_PIXELS, N_CLASSES = 784, 10
BOOK_ITERS = 10000  # the book's run: iters_num = 10000

TRAIN_DESCRIPTION = """\
Train a fully connected network (784-HIDDEN...-10) and print one line per epoch:
train loss, train and test accuracy, learning rate, seconds; then a summary.
The defaults are the book's TwoLayerNet run: 784-50-10, ReLU, SGD lr 0.1,
batch 100, 10000 iterations (16.7 epochs), which reaches about 97% test
accuracy on MNIST in under half a minute.
"""
TRAIN_EPILOG = """\
examples:
  minigrad train                                   # the book's run: ~97% on MNIST
  minigrad train --epochs 3 --limit 10000          # a quick look
  minigrad train --hidden 100 100 --optimizer adam --epochs 5
  minigrad train --hidden 1024 1024 --dropout 0.2 --optimizer adam --scheduler cosine \\
                 --epochs 20 --save model.npz --plot curves.png
  minigrad train --epochs 20 --checkpoint run.ckpt  # Ctrl-C, then add --resume to continue
"""


class UsageError(Exception):
    """A command line that cannot work (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `prog: error: message (see prog --help)`."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------------- arguments


def _number_type(convert: Callable[[str], Any], accept: Callable[[Any], bool], what: str) -> Any:
    """An argparse type: `convert(text)` when finite and accepted, else an error naming `what`."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and accept(value)):
            raise argparse.ArgumentTypeError(f"must be a {what}, got {text!r}")
        return value

    parse.__name__ = what  # argparse names the type in some of its messages
    return parse


positive_int = _number_type(int, lambda v: v >= 1, "positive integer")
positive_float = _number_type(float, lambda v: v > 0, "positive number")
probability = _number_type(float, lambda v: 0 <= v < 1, "number in [0, 1)")
non_negative_float = _number_type(float, lambda v: v >= 0, "number >= 0")


def build_parser() -> argparse.ArgumentParser:
    """The `minigrad` parser with its `train`, `gradcheck` and `bench` subcommands."""
    parser = _Parser(
        prog="minigrad",
        description="Train and check neural networks built on minigrad, a NumPy autodiff engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {mg.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(commands)
    _add_gradcheck(commands)
    add_bench_parser(commands)
    return parser


def _add_common_options(parser: argparse.ArgumentParser) -> None:
    """The data and model options that `train` and `gradcheck` share."""
    parser.add_argument(
        "--dataset", choices=DATASETS, default="mnist", help="the data set (default: %(default)s)"
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding the IDX files, searched first (default: $MINIGRAD_DATA, the "
        "repository's datasets/, the user cache; downloaded when none has them)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the initial weights, the shuffling and dropout (default: %(default)s)",
    )
    parser.add_argument(
        "--hidden",
        type=positive_int,
        nargs="+",
        default=[50],
        metavar="N",
        help="hidden layer sizes, one or more (default: 50)",
    )
    parser.add_argument(
        "--activation",
        choices=tuple(ACTIVATIONS),
        default="relu",
        help="activation after each hidden layer (default: %(default)s)",
    )


def _add_train(commands: Any) -> None:
    lrs = ", ".join(f"{lr:g} for {name}" for name, (_, lr) in OPTIMIZERS.items())
    p = commands.add_parser(
        "train",
        help="train an MLP on MNIST or Fashion-MNIST",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_common_options(p)
    p.add_argument(
        "--dropout",
        type=probability,
        default=0.0,
        metavar="P",
        help="dropout probability after each activation (default: %(default)s)",
    )
    p.add_argument(
        "--optimizer",
        choices=tuple(OPTIMIZERS),
        default="sgd",
        help="optimizer; momentum is SGD with momentum 0.9 (default: %(default)s)",
    )
    p.add_argument(
        "--lr", type=positive_float, metavar="LR", help=f"learning rate (default: {lrs})"
    )
    p.add_argument(
        "--weight-decay",
        type=non_negative_float,
        metavar="WD",
        help="weight decay (default: the optimizer's own: 0, and 0.01 for adamw)",
    )
    p.add_argument(
        "--scheduler",
        choices=SCHEDULERS,
        default="none",
        help="learning-rate schedule, stepped once per epoch; cosine anneals to 0 "
        "over the run (default: %(default)s)",
    )
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=100,
        metavar="N",
        help="mini-batch size (default: %(default)s)",
    )
    length = p.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs",
        type=positive_int,
        metavar="N",
        help=f"passes over the training data (default: the book's run, --iters {BOOK_ITERS})",
    )
    length.add_argument(
        "--iters",
        type=positive_int,
        metavar="N",
        help="train exactly N iterations (mini-batches) instead of whole epochs; the last "
        f"epoch may be partial (default: {BOOK_ITERS} unless --epochs is given)",
    )
    p.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="train on the first N training images only, for quick runs (default: all)",
    )
    p.add_argument(
        "--save",
        metavar="PATH",
        help="write the trained model's state dict (.npz) to PATH; load it with "
        "model.load_state_dict(minigrad_nn.load(PATH)) (default: off)",
    )
    p.add_argument(
        "--plot",
        metavar="PATH",
        help=f"write a PNG of the loss and accuracy curves to PATH; needs matplotlib: "
        f"{PLOT_HINT} (default: off)",
    )
    p.add_argument(
        "--checkpoint",
        metavar="PATH",
        help="save a checkpoint to PATH after every epoch and on Ctrl-C (default: off)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue from the --checkpoint file, up to --epochs (or --iters) in all "
        "(default: off)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (the epoch lines are still printed) (default: off)",
    )
    p.set_defaults(handler=train)


def _add_gradcheck(commands: Any) -> None:
    p = commands.add_parser(
        "gradcheck",
        help="check backprop against numerical gradients (the book's check)",
        description="Compare each parameter's gradient from backprop with the numerical "
        "(central difference) gradient, in float64, for TwoLayerNet (784-50-10) on "
        "the first training images; print the mean absolute difference per "
        "parameter (W1, b1, W2, b2, ...) and exit with status 1 when one exceeds "
        "the threshold.",
    )
    _add_common_options(p)
    p.add_argument(
        "--samples",
        type=positive_int,
        default=3,
        metavar="N",
        help="how many training images (default: %(default)s)",
    )
    p.add_argument(
        "--eps",
        type=positive_float,
        default=1e-4,
        help="step of the central differences (default: %(default)s)",
    )
    p.add_argument(
        "--threshold",
        type=positive_float,
        default=1e-6,
        help="largest mean absolute difference that passes (default: %(default)s)",
    )
    p.set_defaults(handler=gradcheck)


# ---------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as err:
        print(f"minigrad {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (DatasetError, CheckpointError, SerializationError, ImportError, OSError) as err:
        print(f"minigrad {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("minigrad: interrupted", file=sys.stderr)
        return 130


def _one_line(err: BaseException) -> str:
    """The exception's message with its lines joined (an OSError keeps its file name)."""
    text = str(err) or type(err).__name__
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def _load_data(args: argparse.Namespace, quiet: bool) -> tuple[Any, Any]:
    """The chosen data set's ((x_train, t_train), (x_test, t_test))."""
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir}: no such folder")
    spec = datasets.MNIST if args.dataset == "mnist" else datasets.FASHION_MNIST
    try:
        return datasets.load_dataset(spec, root=args.data_dir, progress=not quiet)
    except datasets.DatasetNotFoundError as err:  # name our flag rather than the API's argument
        raise DatasetError(
            str(err).replace("pass root=<folder>", "pass --data-dir <folder>")
        ) from err


# ---------------------------------------------------------------------------- train


def train(args: argparse.Namespace) -> int:
    """`minigrad train`: train, print a summary, save the model and curves when asked."""
    model, history = run_training(args)
    print(_summary(history))
    _write_outputs(args, model, history)
    return 0


def run_training(args: argparse.Namespace) -> tuple[MLP, History]:
    """Load the data, build the MLP and optimizer from `args` and run `fit` (prints its lines)."""
    _check_train_paths(args)
    (x_train, t_train), test = _load_data(args, args.quiet)
    if args.limit is not None:
        x_train, t_train = x_train[: args.limit], t_train[: args.limit]
    model = MLP((N_PIXELS, *args.hidden, N_CLASSES), args.activation, args.dropout, args.seed)
    optimizer = _optimizer(args, model)
    epochs, iters = _run_length(args)
    n_epochs = math.ceil(iters / math.ceil(len(x_train) / args.batch_size)) if iters else epochs
    scheduler = (
        optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_epochs)
        if args.scheduler == "cosine"
        else None
    )
    print(_header(args, model, optimizer, len(x_train), len(test[0]), n_epochs))
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
        iters=iters,
    )
    return model, history


def _run_length(args: argparse.Namespace) -> tuple[int, int | None]:
    """(epochs, iters) for `fit`: --epochs, else --iters, else the book's 10000 iterations."""
    if args.epochs is not None:
        return args.epochs, None
    return 1, BOOK_ITERS if args.iters is None else args.iters


def _check_train_paths(args: argparse.Namespace) -> None:
    """Fail before training, not after it, on output paths and options that cannot work."""
    for flag in ("save", "plot", "checkpoint"):
        path = getattr(args, flag)
        folder = os.path.dirname(os.path.abspath(path)) if path else None
        if folder is not None and not os.path.isdir(folder):
            raise UsageError(f"--{flag} {path}: folder {folder} does not exist")
    if args.resume and not args.checkpoint:
        raise UsageError("--resume needs --checkpoint PATH")
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise ImportError(f"--plot needs matplotlib: {PLOT_HINT}")


def _optimizer(args: argparse.Namespace, model: MLP) -> optim.Optimizer:
    cls, default_lr = OPTIMIZERS[args.optimizer]
    options = {} if args.weight_decay is None else {"weight_decay": args.weight_decay}
    return cls(model.parameters(), lr=default_lr if args.lr is None else args.lr, **options)


def _header(
    args: argparse.Namespace,
    model: MLP,
    optimizer: optim.Optimizer,
    n_train: int,
    n_test: int,
    n_epochs: int,
) -> str:
    sizes = "-".join(str(n) for n in model.sizes)
    dropout = f", dropout {args.dropout:g}" if args.dropout else ""
    iters = _run_length(args)[1]
    length = f"{iters} iterations = {n_epochs} epochs" if iters else f"{n_epochs} epochs"
    schedule = f" ({args.scheduler})" if args.scheduler != "none" else ""
    return (
        f"training {sizes} {args.activation}{dropout} on {args.dataset} ({n_train} train, "
        f"{n_test} test images): {args.optimizer} lr {optimizer.param_groups[0]['lr']:g}"
        f"{schedule}, batch {args.batch_size}, {length}, seed {args.seed}"
    )


def _summary(history: History) -> str:
    if history.epochs == 0:
        return "nothing to train: the checkpoint already holds every epoch asked for"
    best = max(range(history.epochs), key=lambda e: history.test_acc[e])
    return (
        f"done: {history.epochs} epochs ({history.iterations[-1]} iterations) in "
        f"{math.fsum(history.seconds):.1f} s; test accuracy {history.test_acc[-1]:.4f} "
        f"(best {history.test_acc[best]:.4f} at epoch {best + 1}), "
        f"train accuracy {history.train_acc[-1]:.4f}"
    )


def _write_outputs(args: argparse.Namespace, model: MLP, history: History) -> None:
    if args.save:
        save(dict(model.state_dict()), args.save)
        print(f"saved the model to {args.save}")
    if args.plot and history.epochs:
        history.plot(args.plot)
        print(f"saved the curves to {args.plot}")


# ---------------------------------------------------------------------------- gradcheck


def gradcheck(args: argparse.Namespace) -> int:
    """`minigrad gradcheck`: backprop vs numerical gradient per parameter, in float64."""
    (x_train, t_train), _ = _load_data(args, quiet=False)
    x = x_train[: args.samples].astype(np.float64)
    t = t_train[: args.samples]
    model = MLP((N_PIXELS, *args.hidden, N_CLASSES), args.activation, seed=args.seed).double()
    loss_fn = CrossEntropyLoss()

    def loss() -> mg.Tensor:
        return loss_fn(model(mg.Tensor(x)), mg.Tensor(t))

    loss().backward()
    failed = []
    for name, param in model.named_parameters():
        numeric = mg.numerical_gradient(lambda _: loss().item(), param, eps=args.eps)
        difference = float(np.mean(np.abs(param.grad.data - numeric)))
        print(f"{_book_name(name)}: {difference:.1e}")
        if not difference <= args.threshold:
            failed.append(_book_name(name))
    if failed:
        print(
            f"minigrad gradcheck: {', '.join(failed)} above the threshold {args.threshold:g}",
            file=sys.stderr,
        )
        return 1
    return 0


def _book_name(name: str) -> str:
    """`fc1.weight` -> `W1`, `fc1.bias` -> `b1` (the book's names)."""
    layer, kind = name.split(".")
    return ("W" if kind == "weight" else "b") + layer.removeprefix("fc")
