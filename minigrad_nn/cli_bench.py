"""`minigrad bench grad`: backprop against the numerical gradient, from the installed package.

The benchmark itself is `minigrad_nn.bench.grad`; it needs nothing but the package and MNIST
(downloaded once when not found). The repository's `benchmarks/` folder has the comparisons
that need a clone (training against a hand-written NumPy floor and PyTorch, per-op overhead,
optimizer steps): `python benchmarks/run_all.py` there.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from .bench import grad
from .bench.grad_report import plot, table
from .cli_common import UsageError, positive_int
from .serialization import check_writable
from .threads import limit_threads

__all__ = ["add_bench_parser", "run_bench"]

SECTIONS = ("grad",)
CLONE_SECTIONS = ("train", "overhead", "optim")


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `bench` subcommand to `subparsers` (from `ArgumentParser.add_subparsers()`);
    its handler is stored as the `handler` default: `args.handler(args)` returns the status."""
    parser = subparsers.add_parser(
        "bench",
        help="time backprop against the numerical gradient (the book's gradient check)",
        description=(
            "minigrad bench grad: the book's 784-50-10 network on MNIST in float64; one backprop "
            "gradient against the numerical gradient (central differences, every parameter) at "
            "batch 3 and 100, their difference per parameter, and how both scale with the "
            "hidden size (5 to 100). Prints markdown tables. The comparisons against a NumPy "
            "floor and PyTorch need a clone of the repository: python benchmarks/run_all.py."
        ),
    )
    parser.add_argument(
        "section",
        nargs="?",
        default="grad",
        metavar="SECTION",
        help="what to time: grad (the only one in the package) (default: grad)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="time the numerical gradient on random blocks of each parameter and extrapolate "
        "(about a minute instead of up to ten) (default: off)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="N",
        help="BLAS threads (default: %(default)s, steady on a busy machine and fastest for "
        "these small matrices)",
    )
    parser.add_argument(
        "--plot",
        metavar="PATH",
        help="write a log-log PNG of time per gradient against the parameter count to PATH "
        "(needs matplotlib: pip install 'minigrad-numpy[plot]') (default: off)",
    )
    parser.add_argument(
        "--json", metavar="PATH", help="write the measurements as JSON to PATH (default: off)"
    )
    parser.set_defaults(handler=run_bench)
    return parser


def run_bench(args: argparse.Namespace) -> int:
    """Run the section asked for and print its tables; write the plot and JSON when asked."""
    if args.section in CLONE_SECTIONS:
        raise UsageError(
            f"the {args.section} benchmark compares against a NumPy floor and PyTorch and needs "
            f"a clone of the repository: python benchmarks/run_all.py {args.section}"
        )
    if args.section not in SECTIONS:
        raise UsageError(f"unknown section {args.section!r} (choose from {', '.join(SECTIONS)})")
    for flag in ("plot", "json"):
        path = getattr(args, flag)
        if path:
            try:
                check_writable(path)
            except OSError as err:
                raise UsageError(f"--{flag} {path}: {err.strerror or err}") from err
    if args.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ImportError("--plot needs matplotlib: pip install 'minigrad-numpy[plot]'")
    with limit_threads(args.threads):
        results = grad.run(quick=args.quick)
    print("## Backprop vs numerical gradient\n")
    print(table(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
        print(f"\nresults written to {os.fspath(args.json)}")
    if args.plot:
        print(f"plot written to {plot(results, args.plot)}")
    return 0
