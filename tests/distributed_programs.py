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
ALGORITHM_VARIABLE = "OMPI_MCA_coll_libnbc_iallreduce_algorithm"  # set by dist.init()


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


def ranks_training(opt_name: str, batchnorm: bool, overlap: bool) -> dict[str, np.ndarray]:
    model = make_model(batchnorm)
    # A different start on rank 1: DistributedDataParallel must take rank 0's parameters.
    if dist.get_rank() == 1:
        for p in model.parameters():
            p.data[...] = 0.5
    # Small buckets, so that there are several.
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001, overlap=overlap)
    opt = make_optimizer(opt_name, ddp)
    data = dataset()
    sampler = dist.DistributedSampler(data, seed=SEED)
    loader = nn.DataLoader(data, GLOBAL_BATCH // dist.get_world_size(), sampler=sampler)
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        for x, t in loader:
            step(ddp, opt, x, t)
    return dict(ddp.module.state_dict())


#: The training runs of the `training` scenario: (optimizer, BatchNorm, overlap) by name.
TRAINING_RUNS = {
    "sgd": ("sgd", False, True),
    "adam": ("adam", False, True),
    "sgd-after-backward": ("sgd", False, False),
    "batchnorm": ("sgd", True, True),
}


def training(out: str) -> None:
    """Every run of TRAINING_RUNS in one launch (a launch costs seconds)."""
    states = {
        name: ranks_training(opt_name, batchnorm, overlap)
        for name, (opt_name, batchnorm, overlap) in TRAINING_RUNS.items()
    }
    nn.save(states, os.path.join(out, f"rank{dist.get_rank()}.npz"))


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
         "number": number, "object": obj, "initialized": dist.is_initialized(),
         "iallreduce_algorithm": os.environ.get(ALGORITHM_VARIABLE)},
        os.path.join(out, f"rank{rank}.npz"),
    )


def local_gradients(model: nn.Module, batches: list, mean: bool = True) -> list[np.ndarray]:
    """The gradients a copy of `model` without DDP accumulates over `batches`, averaged over
    the ranks with all_reduce (`mean`): what DDP must give."""
    copy = make_model()
    copy.load_state_dict(model.state_dict())
    for x, t in batches:
        nn.CrossEntropyLoss()(copy(x), t).backward()
    grads = [p.grad.numpy() for p in copy.parameters()]
    return [dist.all_reduce(g, op="mean") for g in grads] if mean else grads


def ddp_features(out: str) -> None:
    """no_sync, accumulation over two synced backwards, and the unused-parameter error."""
    rank = dist.get_rank()
    data = dataset()
    batches = [data[np.arange(10 * i + rank * 5, 10 * i + rank * 5 + 5)] for i in range(3)]
    model = make_model()
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001)
    loss_fn = nn.CrossEntropyLoss()
    with ddp.no_sync():  # accumulate locally, then one synced backward averages the sum
        loss_fn(ddp(batches[0][0]), batches[0][1]).backward()
    no_sync_local = [p.grad.numpy().copy() for p in model.parameters()]
    loss_fn(ddp(batches[1][0]), batches[1][1]).backward()
    local = local_gradients(model, batches[:1], mean=False)
    same = [np.array_equal(a, b) for a, b in zip(no_sync_local, local, strict=True)]
    results = {
        "no_sync_is_local": same,
        "no_sync_then_sync": [
            float(np.max(np.abs(p.grad.numpy() - expected)))
            for p, expected in zip(
                model.parameters(), local_gradients(model, batches[:2]), strict=True
            )
        ],
    }
    loss_fn(ddp(batches[2][0]), batches[2][1]).backward()  # no zero_grad: accumulates
    results["accumulated"] = [
        float(np.max(np.abs(p.grad.numpy() - expected)))
        for p, expected in zip(model.parameters(), local_gradients(model, batches), strict=True)
    ]
    ddp.zero_grad()
    loss = loss_fn(ddp.module[0](batches[0][0]), batches[0][1] % 3)  # the later layers unused
    loss.backward()
    try:
        ddp(batches[0][0])
    except RuntimeError as err:
        results["unused"] = str(err)
    ddp.zero_grad()  # the wrapper works again once the error is handled
    loss_fn(ddp(batches[0][0]), batches[0][1]).backward()
    results["after_the_error"] = [
        float(np.max(np.abs(p.grad.numpy() - expected)))
        for p, expected in zip(model.parameters(), local_gradients(model, batches[:1]), strict=True)
    ]
    # Overlap: the buckets of the last layers start reducing while backward goes on (the
    # gradient has not yet reached the first layer's output).
    events = []
    start_sum = dist.comm.start_sum
    dist.comm.start_sum = lambda buffer: (events.append("reduction started"), start_sum(buffer))[1]
    ddp.zero_grad()
    ddp(batches[0][0])  # (the wrapper's checks; the forward below is done layer by layer)
    first = model[0](batches[0][0])
    first.register_hook(lambda grad: events.append("first layer's output"))
    loss_fn(model[4](model[3](model[2](model[1](first)))), batches[0][1]).backward()
    dist.comm.start_sum = start_sum
    results["overlap_events"] = events
    results["iallreduce_algorithm"] = os.environ[ALGORITHM_VARIABLE]
    results["overlap_grads"] = [
        float(np.max(np.abs(p.grad.numpy() - expected)))
        for p, expected in zip(model.parameters(), local_gradients(model, batches[:1]), strict=True)
    ]
    ddp.close()  # unhooked: the model's gradients are its own again
    model.zero_grad()
    loss_fn(model(batches[0][0]), batches[0][1]).backward()
    local = local_gradients(model, batches[:1], mean=False)
    results["closed_is_local"] = [
        np.array_equal(p.grad.numpy(), g) for p, g in zip(model.parameters(), local, strict=True)
    ]
    nn.save(results, os.path.join(out, f"rank{rank}.npz"))


def fit_run(epochs: int, checkpoint: str | None = None, resume: bool = False):
    """`nn.fit` as one process would call it: the whole data, the global batch 100."""
    x, t = dataset().arrays
    model = make_model()
    history = nn.fit(
        model, nn.CrossEntropyLoss(), make_optimizer("sgd", model), (x, t), (x[:300], t[:300]),
        epochs=epochs, batch_size=GLOBAL_BATCH, seed=SEED, progress=False,
        checkpoint=checkpoint, resume=resume,
    )
    return model, history


def fitting(out: str) -> None:
    """fit under mpirun: straight, stopped and resumed, and refused by rank 0's check."""
    straight, history = fit_run(2, os.path.join(out, "straight.ckpt"))
    fit_run(1, os.path.join(out, "resumed.ckpt"))
    resumed, resumed_history = fit_run(2, os.path.join(out, "resumed.ckpt"), resume=True)
    try:
        fit_run(1, os.path.join(out, "straight.ckpt"))
        refused = ""
    except nn.CheckpointError as err:
        refused = str(err)
    nn.save(
        {"model": dict(straight.state_dict()), "history": history.state_dict(),
         "resumed": dict(resumed.state_dict()), "resumed_history": resumed_history.state_dict(),
         "refused": refused},
        os.path.join(out, f"rank{dist.get_rank()}.npz"),
    )


def mismatch() -> None:
    """Rank 1 builds a different model: its DistributedDataParallel refuses it."""
    hidden = 16 if dist.get_rank() == 0 else 17
    dist.DistributedDataParallel(nn.Sequential(nn.Linear(20, hidden), nn.Linear(hidden, 3)))
    dist.barrier()


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
    if scenario == "training":
        training(out)
    elif scenario == "ddp-features":
        ddp_features(out)
    elif scenario == "fit":
        fitting(out)
    elif scenario == "mismatch":
        mismatch()
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
