"""Per-op overhead: a chain of N adds, forward + backward, against raw NumPy doing the same work.

On (1, 1) float32 operands NumPy's arithmetic costs almost nothing, so the ratio is the
framework's own cost per op: building the graph node in forward, and taking it, calling its rule
and passing the gradient on in backward. The raw NumPy baseline does the same 200 adds forward,
then 200 backward steps that each make a fresh array (the gradient times the local derivative,
as a hand-written backprop does); no copies of the inputs hide anything. Both run in the same
process, interleaved, and the ratio is the median over rounds of the per-round ratio. 100x100
operands are reported beside it, where NumPy's work starts to dominate.

Target: <= 3.5x at 1x1 (PyTorch CPU measures 3.9x here; the goal is 2.5x).

    python benchmarks/bench_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

import numpy as np

import minigrad as mg

try:
    from benchmarks.common import interleaved_samples, markdown_table, save_results
except ImportError:  # run as a script from the benchmarks folder
    from common import interleaved_samples, markdown_table, save_results  # type: ignore[no-redef]

TARGET = 3.5
GOAL = 2.5
SHAPES = [(1, 1), (100, 100)]
OPS = 200


def raw_numpy_chain(x: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """y = x + a + a + ... (n adds), then dy/dx by the chain rule, one fresh array per step."""
    y = x
    for _ in range(n):
        y = y + a
    grad = np.ones_like(y)
    one = np.ones_like(y)  # d(y + a)/dy
    for _ in range(n):
        grad = grad * one
    return grad


def minigrad_chain(x0: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """The same chain on Tensors: n Add ops forward from a leaf, then backward."""
    x = mg.Tensor(x0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y + a
    y.backward(np.ones_like(x0))
    return x.grad.data


def measure(shape: tuple[int, ...], n: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    a = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(minigrad_chain(x, a, n), raw_numpy_chain(x, a, n))
    samples = interleaved_samples(
        {"numpy": lambda: raw_numpy_chain(x, a, n), "minigrad": lambda: minigrad_chain(x, a, n)},
        repeats,
    )
    numpy_us, minigrad_us = (statistics.median(samples[k]) / n * 1e6 for k in ("numpy", "minigrad"))
    ratio = statistics.median(
        m / r for m, r in zip(samples["minigrad"], samples["numpy"], strict=True)
    )
    return {
        "shape": shape,
        "ops": n,
        "numpy_us_per_op": numpy_us,
        "minigrad_us_per_op": minigrad_us,
        "ratio": ratio,
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every shape; fewer repeats when `quick`."""
    return [measure(shape, OPS, 5 if quick else 60) for shape in SHAPES]


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        (
            "x".join(map(str, r["shape"])),
            r["ops"],
            f"{r['numpy_us_per_op']:.2f}",
            f"{r['minigrad_us_per_op']:.2f}",
            f"{r['ratio']:.2f}x",
            (f"target <= {TARGET}x: " + ("met" if r["ratio"] <= TARGET else "NOT met"))
            if tuple(r["shape"]) == SHAPES[0]
            else "",
        )
        for r in results
    ]
    headers = ["shape", "adds", "NumPy us/op", "minigrad us/op", "ratio", ""]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print("## Per-op overhead: chain of adds, forward + backward, against raw NumPy\n")
    print(table(results))
    print(f"\nresults written to {save_results('overhead', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
