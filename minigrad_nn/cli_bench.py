"""`minigrad bench`: run the repository's benchmarks (`benchmarks/run_all.py`).

The benchmarks are not part of the installed package: they live in the repository next to it,
so this command needs a clone (an editable install, or `python -m minigrad_nn` from the
checkout). Without one it says so and exits with status 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import minigrad_nn

SECTIONS = ("grad", "train", "overhead", "optim")


def benchmarks_dir() -> Path:
    """Where the repository's `benchmarks/` folder is, if this package sits in a clone."""
    return Path(minigrad_nn.__file__).resolve().parent.parent / "benchmarks"


def add_bench_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `bench` subcommand to `subparsers` (from `ArgumentParser.add_subparsers()`);
    its handler is stored as the `handler` default (as `minigrad train`'s):
    `args.handler(args)` returns the exit status."""
    parser = subparsers.add_parser(
        "bench",
        help="time backprop against the numerical gradient, training against a NumPy floor",
        description=(
            "Run the benchmarks of a minigrad clone (benchmarks/run_all.py): backprop against "
            "the numerical gradient (grad), training throughput and memory against a "
            "hand-written NumPy floor (train), per-op overhead (overhead) and optimizer steps "
            "(optim). Prints one markdown table per section and whether each performance "
            "target is met; writes JSON to benchmarks/results/."
        ),
    )
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"sections to run, of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats, numerical gradient timed on a subset of elements (under 2 minutes; "
        "the full run takes up to 15)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="run NumPy's BLAS (and torch) with N threads, 0 for as configured (default: 1, "
        "the same for every system, steady on a loaded machine)",
    )
    parser.add_argument(
        "--plots",
        action="store_true",
        help="also write PNGs (needs matplotlib): benchmarks/numerical_vs_backprop.png and "
        "benchmarks/results/train.png",
    )
    parser.set_defaults(handler=run_bench)
    return parser


def run_bench(args: argparse.Namespace) -> int:
    """Run `benchmarks/run_all.py` of the clone this package lives in; 1 if there is none."""
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        print(
            f"minigrad bench: error: unknown section {unknown[0]!r} (choose from "
            f"{', '.join(SECTIONS)})",
            file=sys.stderr,
        )
        return 2
    folder = benchmarks_dir()
    if not (folder / "run_all.py").is_file():
        print(
            f"minigrad bench: error: minigrad bench needs a clone of the minigrad repository "
            f"(no benchmarks folder at {folder}); clone it and run `pip install -e .` there",
            file=sys.stderr,
        )
        return 1
    root = str(folder.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    run_all = importlib.import_module("benchmarks.run_all")
    argv = [
        *args.sections,
        *(["--quick"] if args.quick else []),
        *(["--plots"] if args.plots else []),
        *(["--threads", str(args.threads)] if args.threads is not None else []),
    ]
    return int(run_all.main(argv) or 0)
