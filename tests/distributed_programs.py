"""Programs that tests/test_distributed.py runs under `mpirun -n 2`, and their one-process twins.

    python tests/distributed_programs.py SCENARIO OUT_DIR

Each rank writes what the test checks to OUT_DIR (`rank0.npz`, ...). The training scenarios
follow the issue's proof: two ranks with batch 50 each against one process with batch 100 on
the same samples, in float64, for 20 steps (two epochs of 1000 samples).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

import minigrad_nn as nn
from minigrad_nn import distributed as dist
from minigrad_nn import optim

N_SAMPLES, GLOBAL_BATCH, EPOCHS, SEED = 1000, 100, 2, 0


def dataset() -> nn.TensorDataset:
    """Three Gaussian blobs in 20 dimensions, float64."""
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 2.0, (3, 20))
    t = rng.integers(0, 3, N_SAMPLES)
    return nn.TensorDataset(centres[t] + rng.normal(0, 1.0, (N_SAMPLES, 20)), t)


def make_model(batchnorm: bool = False) -> nn.Module:
    layers = [nn.Linear(20, 16, dtype=np.float64, seed=1), nn.ReLU()]
    if batchnorm:
        layers.append(nn.BatchNorm1d(16, dtype=np.float64))
    layers += [nn.Linear(16, 16, dtype=np.float64, seed=2), nn.Tanh()]
    layers += [nn.Linear(16, 3, dtype=np.float64, seed=3)]
    return nn.Sequential(*layers)


def make_optimizer(name: str, model: nn.Module) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return optim.Adam(model.parameters(), lr=0.01)


def step(model: nn.Module, opt: optim.Optimizer, x: np.ndarray, t: np.ndarray) -> None:
    loss = nn.CrossEntropyLoss()(model(x), t)
    opt.zero_grad()
    loss.backward()
    opt.step()


def one_process(opt_name: str) -> dict[str, np.ndarray]:
    """The reference: one process, batch 100, a seeded DataLoader."""
    model = make_model()
    opt = make_optimizer(opt_name, model)
    loader = nn.DataLoader(dataset(), GLOBAL_BATCH, shuffle=True, seed=SEED)
    for _ in range(EPOCHS):
        for x, t in loader:
            step(model, opt, x, t)
    return dict(model.state_dict())


def batchnorm_one_process() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """What two ranks do with BatchNorm, simulated in one process (docs/distributed.md):
    each half of the global batch is normalised with its own statistics, the gradient is the
    mean of the halves', and each forward starts from rank 0's running statistics (broadcast).
    Rank r's half of a global batch is every other sample from position r (DistributedSampler).
    Returns rank 0's final state and rank 1's final buffers."""
    model = make_model(batchnorm=True)
    opt = make_optimizer("sgd", model)
    loader = nn.DataLoader(dataset(), GLOBAL_BATCH, shuffle=True, seed=SEED)
    bn = model[2]
    rank1_buffers: dict[str, np.ndarray] = {}
    for _ in range(EPOCHS):
        for x, t in loader:
            opt.zero_grad()
            start = [b.copy() for b in bn.buffers()]
            for rank in (1, 0):  # rank 0 last, so its running statistics are the ones kept
                for buffer, value in zip(bn.buffers(), start, strict=True):
                    buffer[...] = value
                loss = nn.CrossEntropyLoss()(model(x[rank::2]), t[rank::2])
                (loss * 0.5).backward()
                if rank == 1:
                    rank1_buffers = {f"2.{k}": b.copy() for k, b in bn.named_buffers()}
            opt.step()
    return dict(model.state_dict()), rank1_buffers


# ---------------------------------------------------------------------------- under mpirun


def ranks_training(opt_name: str, batchnorm: bool, out: str) -> None:
    model = make_model(batchnorm)
    # A different start on rank 1: DistributedDataParallel must take rank 0's parameters.
    if dist.get_rank() == 1:
        for p in model.parameters():
            p.data[...] = 0.5
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001)  # several buckets
    opt = make_optimizer(opt_name, ddp)
    data = dataset()
    sampler = dist.DistributedSampler(data, seed=SEED)
    loader = nn.DataLoader(data, GLOBAL_BATCH // dist.get_world_size(), sampler=sampler)
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        for x, t in loader:
            step(ddp, opt, x, t)
    nn.save(dict(ddp.module.state_dict()), os.path.join(out, f"rank{dist.get_rank()}.npz"))


def collectives(out: str) -> None:
    rank, size = dist.get_rank(), dist.get_world_size()
    summed = dist.all_reduce(np.arange(4.0) + rank)
    mean = dist.all_reduce(np.full((2, 3), float(rank)), op="mean")
    strided = np.zeros((3, 4))
    strided[:, 1] = rank + 1
    dist.all_reduce(strided[:, 1])  # a non-contiguous view is reduced in place too
    root1 = dist.broadcast(np.full(3, rank, dtype=np.int64), root=1)
    number = dist.all_reduce(rank + 1)
    obj = dist.broadcast_object({"from": rank, "list": [rank] * 3}, root=0)
    dist.barrier()
    nn.save(
        {"size": size, "summed": summed, "mean": mean, "strided": strided, "root1": root1,
         "number": number, "object": obj, "initialized": dist.is_initialized()},
        os.path.join(out, f"rank{rank}.npz"),
    )


def crash() -> None:
    """Rank 1 raises after two collectives; rank 0 goes on reducing with a long timeout."""
    dist.init(timeout=600)
    for i in range(1000):
        if dist.get_rank() == 1 and i == 2:
            raise ValueError("boom on rank 1")
        dist.all_reduce(np.ones(3))
    print("rank 0 finished", flush=True)


def hang() -> None:
    """Rank 1 never arrives at the barrier; rank 0 must give up after 2 s."""
    dist.init(timeout=2)
    if dist.get_rank() == 1:
        time.sleep(600)
    dist.barrier()


def main(argv: list[str]) -> None:
    scenario, out = argv[1], argv[2] if len(argv) > 2 else "."
    if scenario in ("sgd", "adam"):
        ranks_training(scenario, batchnorm=False, out=out)
    elif scenario == "batchnorm":
        ranks_training("sgd", batchnorm=True, out=out)
    elif scenario == "collectives":
        collectives(out)
    elif scenario == "crash":
        crash()
    elif scenario == "hang":
        hang()
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main(sys.argv)
