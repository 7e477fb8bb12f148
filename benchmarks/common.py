"""Helpers shared by the benchmarks: interleaved timing, medians, tables and the machine record."""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from minigrad_nn.bench.timing import interleaved_samples, markdown_table

__all__ = [
    "RESULTS_DIR",
    "blas_info",
    "interleaved_medians",
    "interleaved_samples",
    "machine",
    "markdown_table",
    "save_results",
    "torch_available",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def interleaved_medians(
    systems: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1
) -> dict[str, float]:
    """Median wall time (seconds) of each callable over interleaved runs."""
    samples = interleaved_samples(systems, repeats, warmup)
    return {name: statistics.median(values) for name, values in samples.items()}


def torch_available() -> bool:
    """Whether PyTorch can be imported: the benchmarks time it beside minigrad when it can."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def blas_info() -> dict[str, Any]:
    """Which BLAS NumPy uses and with how many threads (threadpoolctl when installed)."""
    info: dict[str, Any] = {}
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: pool.get(k) for k in ("internal_api", "version", "num_threads")}
            for pool in threadpool_info()
        ]
    except ImportError:
        modern = np.lib.NumpyVersion(np.__version__) >= "1.25.0"
        config = np.show_config(mode="dicts") if modern else {}
        blas = config.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    return info


def machine() -> dict[str, Any]:
    """The machine a benchmark ran on: CPU, cores, Python, NumPy and BLAS."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        # The interpreter's build moves per-op ratios by ~10% (an optimised distribution build
        # runs the engine's Python faster than a plain source build): say which one ran.
        "python_executable": sys.executable,
        "python_build": " ".join(platform.python_build()),
        "numpy": np.__version__,
        **blas_info(),
    }


def save_results(name: str, results: Any) -> Path:
    """Write results with the machine record to benchmarks/results/<name>.json."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), "results": results}, indent=2, default=str))
    return path
