"""Data-parallel training: an epoch on N ranks under mpirun against one process, same global batch.

Every system trains the same model from the same weights on MNIST with plain SGD, one BLAS
thread per process, the global batch split over the ranks by `DistributedSampler`:
  * `1 process`: plain `python`, batch 200 (no MPI; DistributedDataParallel is a no-op);
  * `N ranks`: `mpirun -n N`, batch 200/N each, gradients reduced while backward runs
    (`overlap=True`, the default);
  * `N ranks, reduce after backward`: the same with `overlap=False`;
  * `N ranks, no communication`: each rank trains its own copy on its share, never reducing or
    waiting: the best N processes can do on this machine at this moment (a bound, not a
    training), so that a loaded machine's shortfall is told apart from the communication's.
Launches are interleaved (round after round) and each launch times several epochs after a
warm-up; the speedup is the median over rounds of each round's 1-process time over its N-rank
time. Communication is DistributedDataParallel's `communication_seconds` (copying gradients into
buckets, starting the reductions, waiting for them, copying back), and, apart, the time of one
bare all-reduce of the gradient's bytes after a barrier: the transfer itself, without waiting for
a slower rank.

    python benchmarks/bench_distributed.py [--model mlp|mlp-big|conv] [--ranks 2] [--rounds 3]
                                           [--quick]

`mlp` is 784-50-10, `mlp-big` 784-1000-1000-10, `conv` models.SimpleConvNet.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

try:
    import minigrad_nn as nn
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import minigrad_nn as nn

from minigrad_nn import distributed as dist
from minigrad_nn import optim

try:
    from benchmarks.common import markdown_table, save_results
except ImportError:  # run as a script from the benchmarks folder
    from common import markdown_table, save_results  # type: ignore

GLOBAL_BATCH = 200
LR = 0.1
SPEEDUP_TARGET = 1.5  # on the MLP, 2 ranks on 2 cores
REPO = Path(__file__).resolve().parents[1]


MLPS = {"mlp": (784, 50, 10), "mlp-big": (784, 1000, 1000, 10)}


def build_model(name: str) -> nn.Module:
    if name in MLPS:
        from minigrad_nn.models import MLP

        return MLP(MLPS[name], seed=0)
    from minigrad_nn import models

    if not hasattr(models, "SimpleConvNet"):
        raise SystemExit("models.SimpleConvNet is not in this version of minigrad_nn")
    return models.SimpleConvNet(seed=0)


# ---------------------------------------------------------------------------- one launch


def worker(args: argparse.Namespace) -> None:
    """Train `args.epochs` timed epochs after a warm-up; rank 0 prints one JSON line."""
    dist.init()
    rank, world = dist.get_rank(), dist.get_world_size()
    (x, t), _ = nn.load_mnist(flatten=args.model in MLPS)
    if args.limit:
        x, t = x[: args.limit], t[: args.limit]
    model = build_model(args.model)
    ddp = None if args.no_communication else dist.DistributedDataParallel(
        model, overlap=not args.after_backward
    )
    net = model if ddp is None else ddp
    opt = optim.SGD(net.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    data = nn.TensorDataset(x, t)
    sampler = dist.DistributedSampler(data, seed=0, drop_last=True)
    loader = nn.DataLoader(data, GLOBAL_BATCH // world, sampler=sampler, drop_last=True)

    def step(xb: np.ndarray, tb: np.ndarray) -> None:
        loss = loss_fn(net(xb), tb)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for i, (xb, tb) in enumerate(loader):  # warm-up: caches, first allocations
        step(xb, tb)
        if i == 20:
            break
    epochs, comm = [], []
    for _ in range(args.epochs):
        dist.barrier()
        start, comm_start = time.perf_counter(), communication_seconds(ddp)
        for xb, tb in loader:
            step(xb, tb)
        epochs.append(time.perf_counter() - start)
        comm.append(communication_seconds(ddp) - comm_start)
    n_params = sum(p.size for p in model.parameters())
    bare = bare_all_reduce(n_params) if world > 1 else 0.0
    if rank == 0:
        print("RESULT " + json.dumps({
            "world": world, "epoch_seconds": epochs, "communication_seconds": comm,
            "steps": len(loader), "parameters": n_params, "bare_all_reduce_seconds": bare,
        }), flush=True)


def communication_seconds(ddp: dist.DistributedDataParallel | None) -> float:
    return 0.0 if ddp is None else ddp.communication_seconds


def bare_all_reduce(n_params: int, repeats: int = 50) -> float:
    """Median seconds of one all-reduce of `n_params` float32 values, ranks in step."""
    buffer = np.zeros(n_params, dtype=np.float32)
    times = []
    for _ in range(repeats):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(buffer)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compute_model(args: argparse.Namespace) -> None:
    """One process: the median time of a training step at several batch sizes (interleaved),
    fitted as overhead + per-sample cost x batch: the compute side of docs/distributed.md's
    scaling model."""
    (x, t), _ = nn.load_mnist(flatten=args.model in MLPS)
    model = build_model(args.model)
    opt = optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    batches = [10, 25, 50, 100, 200]  # a rank's share of the global batch 200, N = 20 ... 1
    rng = np.random.default_rng(0)
    times: dict[int, list[float]] = {b: [] for b in batches}
    for repeat in range(args.epochs * 20 + 5):
        for b in batches:
            index = rng.integers(0, len(x), b)
            start = time.perf_counter()
            loss = loss_fn(model(x[index]), t[index])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if repeat >= 5:
                times[b].append(time.perf_counter() - start)
    medians = [statistics.median(times[b]) for b in batches]
    per_sample, overhead = np.polyfit(batches, medians, 1)
    print("RESULT " + json.dumps({
        "batches": batches, "step_seconds": medians,
        "overhead_seconds": overhead, "seconds_per_sample": per_sample,
    }), flush=True)


# ---------------------------------------------------------------------------- the driver


def launch(
    args: argparse.Namespace, ranks: int, variant: str = "", fit: bool = False
) -> dict[str, Any]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, __file__, "--worker", "--model", args.model,
               "--epochs", str(args.epochs), "--limit", str(args.limit)]
    if variant:
        command.append(f"--{variant}")
    if fit:
        command.append("--compute-model")
    if ranks > 1:
        command = dist.mpirun_command(ranks, *command)
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads(lines[0][len("RESULT "):])


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.ranks
    systems = {
        "1 process": (1, ""),
        f"{n} ranks": (n, ""),
        f"{n} ranks, reduce after backward": (n, "after-backward"),
        f"{n} ranks, no communication (bound)": (n, "no-communication"),
    }
    rounds: list[dict[str, Any]] = []
    load_before = load_average()
    for _ in range(args.rounds):
        rounds.append({name: launch(args, r, variant) for name, (r, variant) in systems.items()})
    load_after = load_average()

    def epoch(result: dict[str, Any]) -> float:
        return statistics.median(result["epoch_seconds"])

    rows, summary = [], {}
    for name in systems:
        epochs = [epoch(r[name]) for r in rounds]
        comm = [statistics.median(r[name]["communication_seconds"]) for r in rounds]
        speedups = [epoch(r["1 process"]) / epoch(r[name]) for r in rounds]
        steps = rounds[0][name]["steps"]
        bare = statistics.median(r[name]["bare_all_reduce_seconds"] for r in rounds)
        summary[name] = {
            "epoch_seconds": statistics.median(epochs),
            "speedup": statistics.median(speedups),
            "communication_seconds": statistics.median(comm),
            "steps": steps,
            "bare_all_reduce_seconds": bare,
            "rounds": [r[name] for r in rounds],
        }
        s = summary[name]
        comm_seconds = s["communication_seconds"]
        rows.append([
            name, f"{s['epoch_seconds']:.3f}", f"{s['speedup']:.2f}x",
            f"{comm_seconds:.3f} ({comm_seconds / s['epoch_seconds']:.0%})",
            f"{comm_seconds / steps * 1e6:.0f}",
            f"{bare * 1e6:.0f}" if bare else "-",
        ])
    params = rounds[0]["1 process"]["parameters"]
    print(f"\n{args.model}: {params:,} parameters ({params * 4 / 1024:.0f} KiB of float32 "
          f"gradients), global batch {GLOBAL_BATCH}, {args.rounds} rounds x {args.epochs} epochs, "
          f"1 BLAS thread per process; load average {load_before} before, {load_after} after\n")
    print(markdown_table(
        ["system", "epoch (s)", "speedup", "communication (s, share)", "comm per step (us)",
         "bare all-reduce (us)"], rows))
    fit = launch(args, 1, fit=True)
    print(f"\none process, step time = overhead + cost per sample x batch, fitted over batches "
          f"{fit['batches']}: {fit['overhead_seconds'] * 1e6:.0f} us + "
          f"{fit['seconds_per_sample'] * 1e6:.2f} us x batch (load average {load_average()})")
    speedup = summary[f"{n} ranks"]["speedup"]
    if args.model == "mlp" and n == 2:
        verdict = "met" if speedup >= SPEEDUP_TARGET else "NOT met"
        print(f"\ntarget: 2-rank speedup >= {SPEEDUP_TARGET}x on the MLP: {speedup:.2f}x, "
              f"{verdict}")
    return {"model": args.model, "ranks": n, "global_batch": GLOBAL_BATCH,
            "load_average": [load_before, load_after], "systems": summary, "compute_model": fit}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*MLPS, "conv"], default="mlp")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved launches per system")
    parser.add_argument("--epochs", type=int, default=3, help="timed epochs per launch")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 epoch on 12,000 images")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--after-backward", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-communication", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--compute-model", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        compute_model(args) if args.compute_model else worker(args)
        return 0
    if args.quick:
        args.rounds, args.epochs, args.limit = 1, 1, args.limit or 12_000
    results = run(args)
    path = save_results(f"distributed_{args.model}", results)
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
