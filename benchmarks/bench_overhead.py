"""Per-op overhead: a chain of N adds, forward + backward, against raw NumPy doing the same work.

On (1, 1) float32 operands NumPy's arithmetic costs almost nothing, so the ratio is the
framework's own cost per op: building the graph node in forward, and taking it, calling its rule
and passing the gradient on in backward. The raw NumPy baseline does the same 200 adds forward,
then 200 backward steps that each make a fresh array (the gradient times the local derivative,
as a hand-written backprop does); no copies of the inputs hide anything. Both run in the same
process, interleaved, and the ratio is the median over rounds of the per-round ratio. 100x100
operands are reported beside it, where NumPy's work starts to dominate.

Two more systems run the same chain, each interleaved with raw NumPy in a pairing of its own (so
that they do not change minigrad's figure): PyTorch, when it is installed (never a dependency),
and `reference_autodiff.py`, the smallest autodiff on NumPy (micrograd's shape, none of
minigrad's checks), which shows what the interpreter alone costs per op.

Target: <= 3.5x at 1x1 (the goal is 2.5x, about where the reference lands).

    python benchmarks/bench_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

import minigrad as mg

try:
    from benchmarks.common import interleaved_samples, markdown_table, save_results, torch_available
    from benchmarks.reference_autodiff import Value
except ImportError:  # run as a script from the benchmarks folder
    from common import (  # type: ignore[no-redef]
        interleaved_samples,
        markdown_table,
        save_results,
        torch_available,
    )
    from reference_autodiff import Value  # type: ignore[no-redef]

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


def reference_chain(x0: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """The same chain on `reference_autodiff.Value`s."""
    x = Value(x0)
    y = x
    for _ in range(n):
        y = y + a
    y.backward(np.ones_like(x0))
    return x.grad


def torch_chain(x0: np.ndarray, a: np.ndarray, n: int) -> np.ndarray:
    """The same chain in PyTorch, on tensors sharing the arrays' memory."""
    import torch

    x = torch.from_numpy(x0).requires_grad_()
    constant = torch.from_numpy(a)
    y = x
    for _ in range(n):
        y = y + constant
    y.backward(torch.ones_like(y))
    return x.grad.numpy()


CHAINS = {"minigrad": minigrad_chain, "reference": reference_chain, "torch": torch_chain}


def measure(shape: tuple[int, ...], n: int, repeats: int, use_torch: bool) -> dict[str, Any]:
    """Time each system's chain against raw NumPy's, in one interleaved pairing per system."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    a = rng.standard_normal(shape).astype(np.float32)
    result: dict[str, Any] = {"shape": shape, "ops": n, "torch_ratio": None}
    for name, chain in CHAINS.items():
        if name == "torch" and not use_torch:
            continue
        numpy_times, times = paired_samples(chain, x, a, n, repeats)
        ratio = statistics.median(t / r for t, r in zip(times, numpy_times, strict=True))
        if name == "minigrad":
            result["numpy_us_per_op"] = statistics.median(numpy_times) / n * 1e6
            result["minigrad_us_per_op"] = statistics.median(times) / n * 1e6
            result["ratio"] = ratio
        else:
            result[f"{name}_ratio"] = ratio
    return result


def paired_samples(
    chain: Callable[[np.ndarray, np.ndarray, int], np.ndarray],
    x: np.ndarray,
    a: np.ndarray,
    n: int,
    repeats: int,
) -> tuple[list[float], list[float]]:
    """Times of raw NumPy's chain and of `chain`, interleaved, after checking that `chain` gives
    exactly NumPy's gradient."""
    np.testing.assert_array_equal(chain(x, a, n), raw_numpy_chain(x, a, n))
    samples = interleaved_samples(
        {"numpy": lambda: raw_numpy_chain(x, a, n), "system": lambda: chain(x, a, n)}, repeats
    )
    return samples["numpy"], samples["system"]


def run(quick: bool = False, use_torch: bool | None = None) -> list[dict[str, Any]]:
    """Measure every shape; fewer repeats when `quick`; PyTorch too when it is importable."""
    use_torch = torch_available() if use_torch is None else use_torch
    return [measure(shape, OPS, 5 if quick else 60, use_torch) for shape in SHAPES]


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        (
            "x".join(map(str, r["shape"])),
            r["ops"],
            f"{r['numpy_us_per_op']:.2f}",
            f"{r['minigrad_us_per_op']:.2f}",
            f"{r['ratio']:.2f}x",
            f"{r['reference_ratio']:.2f}x",
            "-" if r["torch_ratio"] is None else f"{r['torch_ratio']:.2f}x",
            (f"target <= {TARGET}x: " + ("met" if r["ratio"] <= TARGET else "NOT met"))
            if tuple(r["shape"]) == SHAPES[0]
            else "",
        )
        for r in results
    ]
    headers = [
        "shape", "adds", "NumPy us/op", "minigrad us/op", "minigrad / NumPy",
        "reference autodiff / NumPy", "torch / NumPy", "",
    ]
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
