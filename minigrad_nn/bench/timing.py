"""Timing on a noisy machine: callables run in turn, so slow phases hit every one alike; and a
markdown table for the results."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["interleaved_samples", "markdown_table", "seconds"]


def interleaved_samples(
    systems: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Every wall time (seconds) of each callable, run in turn `repeats` times, so that slow
    phases of a noisy machine hit every system alike."""
    for _ in range(warmup):
        for run in systems.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(repeats):
        for name, run in systems.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def seconds(value: float) -> str:
    """A duration with a readable unit: `2.31 s`, `4.70 ms`, `228 us`."""
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.2f} ms"
    return f"{value * 1e6:.0f} us"
