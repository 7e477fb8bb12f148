"""The `minigrad` command (also `python -m minigrad_nn`): `train`, `gradcheck` and `bench`.

Mistakes in the command line exit with status 2, problems met while running (missing data, an
unreadable checkpoint, a full disk) with 1; either prints a one-line message on stderr, never a
traceback. `train` lives in `cli_train.py`, `bench` in `cli_bench.py`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

import minigrad as mg

from . import distributed
from .checkpoint import CheckpointError
from .cli_bench import add_bench_parser
from .cli_common import (
    Parser,
    UsageError,
    add_common_options,
    load_data,
    positive_float,
    positive_int,
)
from .cli_train import add_train_parser, run_training
from .datasets import DatasetError, DatasetNotFoundError
from .losses import CrossEntropyLoss
from .models import MLP
from .serialization import SerializationError

__all__ = ["build_parser", "main", "run_training"]

N_PIXELS, N_CLASSES = 784, 10


def build_parser() -> argparse.ArgumentParser:
    """The `minigrad` parser with its `train`, `gradcheck` and `bench` subcommands."""
    parser = Parser(
        prog="minigrad",
        description="Train and check neural networks built on minigrad, a NumPy autodiff engine.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {mg.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train_parser(commands)
    _add_gradcheck(commands)
    add_bench_parser(commands)
    return parser


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
    add_common_options(p)
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
        return _error_status(2)
    except DatasetNotFoundError as err:  # one line per folder searched, and what to do
        print(f"minigrad {args.command}: error: {err}", file=sys.stderr)
        return _error_status(1)
    except (
        DatasetError,
        CheckpointError,
        SerializationError,
        FloatingPointError,
        ImportError,
        OSError,
    ) as err:
        print(f"minigrad {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return _error_status(1)
    except KeyboardInterrupt:
        print("minigrad: interrupted", file=sys.stderr)
        return 130


def _error_status(status: int) -> int:
    """`status`; under `mpirun -n N`, the error ends every rank at once (the others would wait
    for this one until their timeout)."""
    if distributed.is_initialized() and distributed.get_world_size() > 1:
        distributed.abort(status)
    return status


def _one_line(err: BaseException) -> str:
    """The exception's message with its lines joined; an OSError of ours (which names the
    user's path in its text) without its `[Errno N]` prefix."""
    text = str(err) or type(err).__name__
    if isinstance(err, OSError) and err.filename is None and err.strerror:
        text = err.strerror
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


# ---------------------------------------------------------------------------- gradcheck


def gradcheck(args: argparse.Namespace) -> int:
    """`minigrad gradcheck`: backprop vs numerical gradient per parameter, in float64."""
    (x_train, t_train), _ = load_data(args, quiet=False)
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
