"""What `fit` does differently under `mpirun -n N` (N > 1), kept here so training.py stays short.

`fit` takes the global batch and the whole data set, as in one process: each rank trains on its
share of every batch (`sharded_loader`) through `DistributedDataParallel`, measures its share of
the data (`rank_share`) and sums the counts over the ranks, and averages the batch losses, so the
history holds the numbers one process would have computed. Only rank 0 prints, shows progress
and writes the checkpoint; a checkpoint records the number of ranks and is resumed with as many.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg

from ..checkpoint import CheckpointError
from ..data import DataLoader, Dataset, TensorDataset
from . import comm
from .sampler import DistributedSampler

__all__ = [
    "check_loader",
    "check_ranks",
    "is_parallel",
    "mean_over_ranks",
    "rank_share",
    "sharded_loader",
    "sum_over_ranks",
]


def is_parallel() -> bool:
    """Whether this process is one of several ranks."""
    return comm.get_world_size() > 1


def sharded_loader(dataset: Dataset, batch_size: int, seed: int | None) -> DataLoader:
    """This rank's loader for the global `batch_size`: batch_size / N samples of each batch of
    the permutation one process with `DataLoader(seed=seed)` would walk. Without a seed, rank
    0 draws one (from minigrad's default generator) for all."""
    world = comm.get_world_size()
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} is the global batch, split evenly over the {world} ranks: "
            f"it must be a multiple of {world}"
        )
    if seed is None:
        seed = comm.broadcast_object(int(mg.random.child_generator().integers(2**62)))
    sampler = DistributedSampler(dataset, seed=seed)
    return DataLoader(dataset, batch_size // world, sampler=sampler)


def check_loader(loader: DataLoader) -> None:
    """A loader given to `fit` under mpirun must give each rank its own share."""
    if not isinstance(loader.sampler, DistributedSampler):
        raise ValueError(
            f"under mpirun ({comm.get_world_size()} ranks), fit needs the data itself (it gives "
            "each rank its share of every batch) or a DataLoader with a DistributedSampler; "
            "this DataLoader would give every rank the same batches"
        )


def rank_share(dataset: Dataset) -> Dataset:
    """Every N-th sample from this rank's number on: the ranks' shares cover the data once."""
    rank, world = comm.get_rank(), comm.get_world_size()
    if isinstance(dataset, TensorDataset):
        return TensorDataset(*(array[rank::world] for array in dataset.arrays))
    return _Strided(dataset, rank, world)


class _Strided(Dataset):
    def __init__(self, dataset: Dataset, start: int, step: int) -> None:
        self.dataset, self.start, self.step = dataset, start, step

    def __len__(self) -> int:
        return len(range(self.start, len(self.dataset), self.step))

    def __getitem__(self, index: Any) -> Any:
        return self.dataset[self.start + int(index) * self.step]


def sum_over_ranks(*values: float) -> tuple[float, ...]:
    """Each value summed over the ranks (counts stay exact: float64 holds integers to 2^53)."""
    totals = comm.all_reduce(np.array(values, dtype=np.float64))
    return tuple(float(v) for v in totals)


def mean_over_ranks(values: list[float]) -> list[float]:
    """Element-wise mean over the ranks: the global batch's loss from each rank's share (the
    shares are equal in size)."""
    return comm.all_reduce(np.array(values, dtype=np.float64), op="mean").tolist()


def check_ranks(path: str, saved: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint written by another number of ranks, saying so."""
    before, now = int(saved.get("ranks", 1)), comm.get_world_size()
    if before != now:
        def run(n: int) -> str:
            return f"mpirun -n {n}" if n > 1 else "one process (no mpirun)"

        raise CheckpointError(
            f"{path} was written by a run on {before} rank{'s' if before > 1 else ''}, and "
            f"this run has {now}: resume it with {run(before)}, or start a new run with "
            "overwrite=True (--overwrite)"
        )
