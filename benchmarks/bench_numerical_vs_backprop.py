"""Backpropagation against the numerical gradient: `minigrad_nn.bench.grad`, run from the clone.

The benchmark ships with the package (`minigrad bench grad` works from an installed wheel); this
script runs it for `run_all.py`, saving its JSON to `benchmarks/results/` and its plot to the
repository's figure `benchmarks/numerical_vs_backprop.png` (shown by the README).

    python benchmarks/bench_numerical_vs_backprop.py [--quick] [--plots]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

try:
    import minigrad_nn  # noqa: F401
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from minigrad_nn.bench.grad import PER_ELEMENT_TARGET, run
from minigrad_nn.bench.grad_report import plot as plot_to
from minigrad_nn.bench.grad_report import table

try:
    from benchmarks.common import save_results
except ImportError:  # run as a script from the benchmarks folder
    from common import save_results  # type: ignore

__all__ = ["PER_ELEMENT_TARGET", "PLOT_PATH", "main", "plot", "run", "table"]

PLOT_PATH = Path(__file__).resolve().parent / "numerical_vs_backprop.png"


def plot(results: list[dict[str, Any]], path: Path = PLOT_PATH) -> Path | None:
    """The repository's figure; None without matplotlib."""
    try:
        written = plot_to(results, path)
    except ImportError:
        return None
    return None if written is None else Path(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="time the numerical gradient on a random subset of elements and extrapolate",
    )
    parser.add_argument("--plots", action="store_true", help=f"write {PLOT_PATH.name}")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print("## Backprop vs numerical gradient\n")
    print(table(results))
    print(f"\nresults written to {save_results('numerical_vs_backprop', results)}")
    if args.plots:
        path = plot(results)
        print(f"plot written to {path}" if path else "matplotlib is not installed: no plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
