"""Run every benchmark section and check the performance targets (`minigrad bench` runs this).

Sections: `grad` (backprop vs numerical gradient), `train` (training throughput against the
hand-fused NumPy floor, and peak memory), `overhead` (per-op chain against raw NumPy), `optim`
(optimizer step against raw in-place NumPy), `conv` (the book's CNNs' training step against
PyTorch and a NumPy floor). Each prints one markdown table and writes its JSON
to benchmarks/results/ (git-ignored) with the machine record; a summary of every target, as a
ratio to its baseline measured in the same run, comes last.

    python benchmarks/run_all.py [grad|train|overhead|optim|conv ...] [--quick] [--plots]
                                 [--threads N]

BLAS (and torch) run on 1 thread unless `--threads` says otherwise (0: as configured).

`--quick` takes under 2 minutes, the full run under 15 on a 2-core machine.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make `benchmarks.*` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_conv, bench_numerical_vs_backprop, bench_overhead, bench_train
from benchmarks.common import RESULTS_DIR, machine, markdown_table, save_results

SECTIONS = ("grad", "train", "overhead", "optim", "conv")
TITLES = {
    "grad": "Backprop vs numerical gradient",
    "train": "Training throughput: ratio to the hand-fused NumPy floor",
    "overhead": "Per-op overhead: chain of adds, forward + backward, against raw NumPy",
    "optim": "Optimizer step against raw in-place NumPy (784-1000-1000-10 parameters)",
    "conv": "CNN training step (the book's SimpleConvNet and DeepConvNet) against PyTorch",
}
JSON_NAMES = {
    "grad": "numerical_vs_backprop",
    "train": "train",
    "overhead": "overhead",
    "optim": "optim",
    "conv": "conv",
}


def _optim_module() -> Any:
    from benchmarks import bench_optim

    return bench_optim


def _section(name: str) -> tuple[Callable[[bool], list[dict]], Callable[[list[dict]], str]]:
    """`run(quick)` and `table(results)` of a section."""
    module = {
        "grad": bench_numerical_vs_backprop,
        "train": bench_train,
        "overhead": bench_overhead,
        "conv": bench_conv,
    }.get(name) or _optim_module()
    table = getattr(module, "table", None) or module.markdown
    return module.run, table


def _openblas_function(name: str) -> Callable[..., Any] | None:
    """`openblas_<name>` from the OpenBLAS that NumPy loaded (any of its symbol spellings)."""
    try:
        maps = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return None
    for path in sorted({line.split()[-1] for line in maps if "openblas" in line.lower()}):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("", "scipy_"):
            for suffix in ("", "64_"):
                function = getattr(lib, f"{prefix}openblas_{name}{suffix}", None)
                if function is not None:
                    return function
    return None


def blas_threads() -> int | None:
    """OpenBLAS's thread count, asked from the loaded library when threadpoolctl is absent."""
    get = _openblas_function("get_num_threads")
    return int(get()) if get is not None else None


def set_threads(n: int) -> None:
    """Limit NumPy's BLAS (threadpoolctl, or OpenBLAS directly) and torch to `n` threads."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:
        set_blas = _openblas_function("set_num_threads")
        if set_blas is None:
            raise RuntimeError("cannot set the BLAS thread count: install threadpoolctl") from None
        set_blas(ctypes.c_int(n))
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass


def machine_record() -> dict[str, Any]:
    """`common.machine()` plus the BLAS thread count, torch and the load at the start."""
    record = machine()
    if "threadpools" not in record:
        record["blas_threads"] = blas_threads()
    try:
        import torch

        record["torch"] = f"{torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        record["torch"] = None
    if hasattr(os, "getloadavg"):
        record["load_average_1_5_15_min"] = [round(x, 2) for x in os.getloadavg()]
    return record


def describe(record: dict[str, Any]) -> str:
    blas = record.get("blas") or {}
    pools = record.get("threadpools")
    if pools:
        blas_text = ", ".join(
            f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)"
            for p in pools
        )
    else:
        threads = record.get("blas_threads")
        blas_text = f"{blas.get('name')} {blas.get('version')}" + (
            f" ({threads} threads)" if threads else ""
        )
    lines = [
        f"- date: {record['date']}",
        f"- CPU: {record['cpu']}, {record['cores']} cores",
        f"- Python {record['python']}, NumPy {record['numpy']}, BLAS: {blas_text}",
        f"- torch: {record['torch'] or 'not installed'}",
    ]
    if "load_average_1_5_15_min" in record:
        lines.append(f"- load average at start (1, 5, 15 min): {record['load_average_1_5_15_min']}")
    return "\n".join(lines)


def targets(results: dict[str, list[dict]]) -> list[tuple[str, str, str, str]]:
    """One row per performance target: what, measured ratio, target, met / NOT met."""
    rows = []

    def add(what: str, ratio: float, target: float, kind: str = "x") -> None:
        met = "met" if ratio <= target else "NOT met"
        rows.append((what, f"{ratio:.2f}{kind}", f"<= {target}{kind}", met))

    for r in results.get("train", []):
        if r.get("target") is None:
            continue
        label = r["case"] if r["kind"] == "time" else f"peak memory, {r['case']}"
        add(label, r["ratio"], r["target"])
    for r in results.get("overhead", []):
        if tuple(r["shape"]) == (1, 1):
            add("per-op chain of adds fwd+bwd, 1x1", r["ratio"], bench_overhead.TARGET)
    for r in results.get("optim", []):
        add(f"optimizer step, {r['optimizer']}", r["ratio"], r.get("target", 1.10))
    for r in results.get("conv", []):
        if "ratio" in r:  # against PyTorch, so only where torch is installed
            add(f"{r['case']}, against PyTorch", r["ratio"], r["target"])
    for r in results.get("grad", []):
        if r["section"] == "check":
            add(
                f"numerical gradient per element / 2 loss evals, batch {r['batch']}",
                r["per_element_over_two_losses"],
                bench_numerical_vs_backprop.PER_ELEMENT_TARGET,
            )
    return rows


def plot_train(rows: list[dict], path: Path) -> Path | None:
    """Bar chart of each system's time as a ratio to the floor (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    timed = [r for r in rows if r["kind"] == "time"]
    if not timed:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.8), dpi=120)
    width = 0.27
    positions = np.arange(len(timed))
    ax.bar(positions - width, [1.0] * len(timed), width, label="NumPy floor")
    ax.bar(positions, [r["ratio"] for r in timed], width, label="minigrad")
    if any("torch_ratio" in r for r in timed):
        ax.bar(positions + width, [r.get("torch_ratio", 0) for r in timed], width, label="torch")
    for i, r in enumerate(timed):
        if r.get("target"):
            ax.hlines(r["target"], i - 1.5 * width, i + 1.5 * width, colors="k", linestyles="--")
    ax.set_xticks(positions, [r["case"].replace(", ", "\n") for r in timed], fontsize=8)
    ax.set_ylabel("time / floor (dashed: target)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="run_all",
        description=__doc__.splitlines()[0],
        epilog="JSON goes to benchmarks/results/; the machine is recorded with every result.",
    )
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"which to run, of {', '.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer repeats; numerical gradient timed on a subset (< 2 minutes)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="run NumPy's BLAS (and torch) with N threads; 0 leaves them as configured "
        "(default: 1, for every system alike: on a shared or loaded machine more BLAS threads "
        "wait for each other and a small matmul can take 20x longer, which swamps what is "
        "measured)",
    )
    parser.add_argument(
        "--plots",
        action="store_true",
        help="write PNGs (needs matplotlib): benchmarks/numerical_vs_backprop.png "
        "and benchmarks/results/train.png",
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}: choose from {', '.join(SECTIONS)}")
    sections = [s for s in SECTIONS if s in args.sections] if args.sections else list(SECTIONS)

    if args.threads < 0:
        parser.error("--threads must be 0 (as configured) or more")
    if args.threads:
        set_threads(args.threads)
    record = machine_record()
    print(f"# minigrad benchmarks{' (--quick)' if args.quick else ''}\n")
    print(describe(record) + "\n")
    results: dict[str, list[dict]] = {}
    started = time.perf_counter()
    for name in sections:
        run, table = _section(name)
        begin = time.perf_counter()
        results[name] = run(args.quick)
        print(f"## {TITLES[name]}\n")
        print(table(results[name]))
        path = save_results(JSON_NAMES[name], results[name])
        print(f"\n({time.perf_counter() - begin:.0f} s; JSON written to {path})\n")
        sys.stdout.flush()
    summary = targets(results)
    if summary:
        print("## Targets (ratios to the baseline measured in the same run)\n")
        print(markdown_table(["case", "measured", "target", ""], summary))
    save_results(
        "run_all",
        {
            "machine": record,
            "quick": args.quick,
            "sections": sections,
            "targets": summary,
            "seconds": time.perf_counter() - started,
        },
    )
    if args.plots:
        written = []
        if "grad" in results:
            written.append(bench_numerical_vs_backprop.plot(results["grad"]))
        if "train" in results:
            RESULTS_DIR.mkdir(exist_ok=True)
            written.append(plot_train(results["train"], RESULTS_DIR / "train.png"))
        if any(p is None for p in written):
            print("\nmatplotlib is not installed: no plots")
        for p in written:
            if p is not None:
                print(f"\nplot written to {p}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
