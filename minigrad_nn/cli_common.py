"""What the `minigrad` subcommands share: one-line usage errors, number types for flags, the
data and model options, and loading the chosen data set."""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from typing import Any

from . import datasets
from .models import ACTIVATIONS

__all__ = [
    "DATASETS",
    "Parser",
    "UsageError",
    "add_common_options",
    "load_data",
    "non_negative_float",
    "positive_float",
    "positive_int",
    "probability",
]

DATASETS = ("mnist", "fashion-mnist")


class UsageError(Exception):
    """A command line that cannot work (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: `prog: error: message (see prog --help)`."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


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


def add_common_options(parser: argparse.ArgumentParser) -> None:
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


def load_data(args: argparse.Namespace, quiet: bool) -> tuple[Any, Any]:
    """The chosen data set's ((x_train, t_train), (x_test, t_test))."""
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        raise UsageError(f"--data-dir {args.data_dir}: no such folder")
    spec = datasets.MNIST if args.dataset == "mnist" else datasets.FASHION_MNIST
    try:
        return datasets.load_dataset(spec, root=args.data_dir, progress=not quiet)
    except datasets.DatasetNotFoundError as err:  # name our flag rather than the API's argument
        raise datasets.DatasetNotFoundError(
            str(err).replace("pass root=<folder>", "pass --data-dir <folder>")
        ) from err
