"""Per-op overhead: a chain of N elementwise ops, forward + backward, against raw NumPy.

The raw NumPy baseline does the same arithmetic the way a hand-written backprop does (the book's
MulLayer): the forward pass keeps each op's input for the backward pass, and the backward pass
multiplies the gradient by each op's local derivative. Both run in the same process, interleaved,
and the ratio of medians is reported. Target: <= 2.5x at 100x100 float32 (the size of a small
layer's activations), where Python overhead and NumPy's work are of the same order.

    python benchmarks/bench_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

import minigrad as mg

try:
    from benchmarks.common import interleaved_medians, markdown_table, save_results
except ImportError:  # run as a script from the benchmarks folder
    from common import interleaved_medians, markdown_table, save_results  # type: ignore[no-redef]

TARGET = 2.5
SHAPES = [(10,), (100, 100), (1000, 1000)]


def raw_numpy_chain(x: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """y = x·a·a·…·a (n times) and dy/dx by hand, keeping each op's input like a MulLayer."""
    saved = []
    y = x
    for _ in range(n):
        saved.append(y)
        y = y * a
    grad = np.ones_like(y)
    for _ in reversed(saved):
        grad = grad * a
    return grad


def minigrad_chain(x0: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """The same chain on Tensors: n Mul ops forward, then backward."""
    x = mg.Tensor(x0, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * a
    y.backward(np.ones_like(x0))
    return x.grad.data


def measure(shape: tuple[int, ...], n: int, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    a = (1 + 1e-3 * rng.standard_normal(shape)).astype(np.float32)
    np.testing.assert_allclose(minigrad_chain(x, a, n), raw_numpy_chain(x, a, n), rtol=1e-5)
    times = interleaved_medians(
        {"numpy": lambda: raw_numpy_chain(x, a, n), "minigrad": lambda: minigrad_chain(x, a, n)},
        repeats,
    )
    numpy_us, minigrad_us = (times[k] / n * 1e6 for k in ("numpy", "minigrad"))
    return {
        "shape": shape,
        "ops": n,
        "numpy_us_per_op": numpy_us,
        "minigrad_us_per_op": minigrad_us,
        "ratio": minigrad_us / numpy_us,
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every shape; fewer repeats when `quick`."""
    results = []
    for shape in SHAPES:
        n = 20 if shape == (1000, 1000) else 200
        repeats = 3 if quick else (5 if shape == (1000, 1000) else 30)
        results.append(measure(shape, n, repeats))
    return results


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        (
            "x".join(map(str, r["shape"])),
            r["ops"],
            f"{r['numpy_us_per_op']:.2f}",
            f"{r['minigrad_us_per_op']:.2f}",
            f"{r['ratio']:.2f}x",
            ("target <= 2.5x: " + ("met" if r["ratio"] <= TARGET else "NOT met"))
            if r["shape"] == (100, 100)
            else "",
        )
        for r in results
    ]
    headers = ["shape", "ops", "NumPy us/op", "minigrad us/op", "ratio", ""]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args(argv)
    results = run(args.quick)
    print("## Per-op overhead: chain of Mul ops, forward + backward\n")
    print(table(results))
    print(f"\nresults written to {save_results('overhead', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
