"""Optimizer step cost against the same update written as raw in-place NumPy.

The parameters are those of a 784-1000-1000-10 MLP in float32 with random
gradients. Both versions run in the same process, interleaved, and the table
reports the median time of one step and the ratio (target: at most 1.10).

    python benchmarks/bench_optim.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    import minigrad as mg
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import minigrad as mg

from minigrad_nn import optim

SHAPES = [(784, 1000), (1000,), (1000, 1000), (1000,), (1000, 10), (10,)]
TARGET = 1.10
LR, MOMENTUM, BETAS, EPS = 0.01, 0.9, (0.9, 0.999), 1e-8


def random_arrays(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape, dtype=np.float32) for shape in SHAPES]


# ---------------------------------------------------------------------- raw NumPy baselines


def raw_sgd(params: list[np.ndarray], grads: list[np.ndarray]) -> Callable[[], None]:
    """x ← x - lr·g."""
    tmps = [np.empty_like(x) for x in params]

    def step() -> None:
        for x, g, tmp in zip(params, grads, tmps, strict=True):
            np.multiply(g, LR, out=tmp)
            x -= tmp

    return step


def raw_momentum(params: list[np.ndarray], grads: list[np.ndarray]) -> Callable[[], None]:
    """b ← μb + g, x ← x - lr·b."""
    bufs = [np.zeros_like(g) for g in grads]  # b₁ = μ·0 + g₁ = g₁, as PyTorch starts
    tmps = [np.empty_like(x) for x in params]

    def step() -> None:
        for x, g, b, tmp in zip(params, grads, bufs, tmps, strict=True):
            b *= MOMENTUM
            b += g
            np.multiply(b, LR, out=tmp)
            x -= tmp

    return step


def raw_adam(params: list[np.ndarray], grads: list[np.ndarray]) -> Callable[[], None]:
    """m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², x ← x - lr·m̂/(√v̂ + ε)."""
    beta1, beta2 = BETAS
    ms = [np.zeros_like(x) for x in params]
    vs = [np.zeros_like(x) for x in params]
    tmps = [np.empty_like(x) for x in params]
    t = 0

    def step() -> None:
        nonlocal t
        t += 1
        bias1, bias2 = 1 - beta1**t, 1 - beta2**t
        for x, g, m, v, tmp in zip(params, grads, ms, vs, tmps, strict=True):
            m *= beta1
            np.multiply(g, 1 - beta1, out=tmp)
            m += tmp
            v *= beta2
            np.multiply(g, g, out=tmp)
            tmp *= 1 - beta2
            v += tmp
            np.sqrt(v, out=tmp)
            tmp /= math.sqrt(bias2)
            tmp += EPS
            np.divide(m, tmp, out=tmp)
            tmp *= LR / bias1
            x -= tmp

    return step


# ---------------------------------------------------------------------- minigrad optimizers


def minigrad_step(
    make: Callable[[list[mg.Tensor]], optim.Optimizer],
    arrays: list[np.ndarray],
    grads: list[np.ndarray],
) -> Callable[[], None]:
    """The optimizer's step over Tensors wrapping `arrays` (no copy), with `grads`."""
    params = [mg.Tensor(x, requires_grad=True) for x in arrays]
    for p, g in zip(params, grads, strict=True):
        p.grad = mg.Tensor(g)
    return make(params).step


CASES: list[tuple[str, Callable, Callable]] = [
    ("SGD", lambda ps: optim.SGD(ps, lr=LR), raw_sgd),
    ("SGD momentum=0.9", lambda ps: optim.SGD(ps, lr=LR, momentum=MOMENTUM), raw_momentum),
    ("Adam", lambda ps: optim.Adam(ps, lr=LR, betas=BETAS, eps=EPS), raw_adam),
]


def median_times(steps: list[Callable[[], None]], repeats: int, number: int) -> list[float]:
    """Median seconds per call of each step function, timed in interleaved rounds."""
    for step in steps:  # warm up: state buffers, scratch arrays, caches
        for _ in range(2):
            step()
    samples: list[list[float]] = [[] for _ in steps]
    for round_ in range(repeats):
        order = range(len(steps)) if round_ % 2 == 0 else reversed(range(len(steps)))
        for i in order:  # alternate who goes first: no bias from warm caches or clocks
            start = time.perf_counter()
            for _ in range(number):
                steps[i]()
            samples[i].append((time.perf_counter() - start) / number)
    return [statistics.median(times) for times in samples]


def run(quick: bool = False) -> list[dict]:
    """Time each optimizer against its raw NumPy twin; one dict per optimizer."""
    repeats, number = (9, 2) if quick else (61, 3)
    rows = []
    for name, make, raw in CASES:
        # Both update the same parameter and gradient arrays, so that where the memory
        # happens to lie (huge pages, cache sets) does not tilt the comparison.
        arrays, grads = random_arrays(0), random_arrays(1)
        ours, baseline = minigrad_step(make, arrays, grads), raw(arrays, grads)
        t_ours, t_raw = median_times([ours, baseline], repeats, number)
        rows.append(
            {
                "optimizer": name,
                "minigrad_ms": 1e3 * t_ours,
                "numpy_ms": 1e3 * t_raw,
                "ratio": t_ours / t_raw,
                "target": TARGET,
            }
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| optimizer | minigrad step (ms) | raw in-place NumPy (ms) | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['optimizer']} | {r['minigrad_ms']:.2f} | {r['numpy_ms']:.2f} | {r['ratio']:.3f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a few seconds)")
    args = parser.parse_args(argv)
    rows = run(quick=args.quick)
    total = sum(x.size for x in random_arrays(0))
    print(f"784-1000-1000-10 MLP, {total:,} float32 parameters, median of interleaved repeats\n")
    print(markdown(rows))
    slow = [r["optimizer"] for r in rows if r["ratio"] > TARGET]
    print(f"\ntarget: ratio <= {TARGET:.2f}; " + (f"over it: {', '.join(slow)}" if slow else "met"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
