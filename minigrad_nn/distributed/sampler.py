"""`DistributedSampler`: each rank's share of one seeded permutation per epoch.

Every rank draws the same permutation (same seed, same epoch) and keeps every N-th index from its
rank on: rank r of N takes positions r, r + N, r + 2N, ... Batch j of `b` samples on each rank
is then made of positions j·N·b ... (j+1)·N·b - 1 of the permutation, which is batch j of a
single process loading N·b samples at a time: N ranks with batch b see exactly the samples of one
process with batch N·b, and the permutations are those of `DataLoader(shuffle=True, seed=seed)`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from . import comm

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """The indices of this rank's share of a dataset, for `DataLoader(dataset, sampler=...)`.

    `shuffle=True` draws a new permutation each epoch from a generator seeded with `seed`: epoch
    e's is the (e+1)-th permutation that generator draws, as a `DataLoader(shuffle=True,
    seed=seed)` of one process would. Iterating moves to the next epoch; `set_epoch(e)` (PyTorch's
    spelling) chooses the epoch explicitly, e.g. when resuming. When the dataset does not divide
    evenly, the permutation is padded with its first indices (`drop_last=False`, a few samples
    are seen twice an epoch) or cut (`drop_last=True`), so every rank has as many batches.
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        num_replicas = comm.get_world_size() if num_replicas is None else num_replicas
        rank = comm.get_rank() if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if num_replicas < 1:
            raise ValueError(f"num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = shuffle, int(seed), drop_last
        n = len(dataset)
        per_rank = n // self.num_replicas if drop_last else math.ceil(n / self.num_replicas)
        if per_rank == 0:
            raise ValueError(
                f"a dataset of {n} samples cannot give each of {self.num_replicas} ranks a sample"
            )
        self.num_samples = per_rank
        self.total_size = per_rank * self.num_replicas
        self.epoch = 0
        self._rng = np.random.default_rng(self.seed)
        self._drawn = 0  # how many permutations `_rng` has drawn

    def __len__(self) -> int:
        """The number of indices this rank gets each epoch."""
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration walk epoch `epoch` (counted from 0)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative int, got {epoch!r}")
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        order = self._permutation(self.epoch)
        self.epoch += 1
        if self.total_size > len(order):  # pad with the first indices (repeated if need be)
            repeats = math.ceil(self.total_size / len(order))
            order = np.tile(order, repeats)
        order = order[: self.total_size]
        return iter(order[self.rank :: self.num_replicas].tolist())

    def _permutation(self, epoch: int) -> np.ndarray:
        """The permutation of `epoch`, the same on every rank; drawn in sequence, so the usual
        walk through the epochs costs one draw each (a jump backwards starts over)."""
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        if epoch < self._drawn:
            self._rng, self._drawn = np.random.default_rng(self.seed), 0
        while self._drawn < epoch:
            self._rng.permutation(n)
            self._drawn += 1
        self._drawn += 1
        return self._rng.permutation(n)

    def state_dict(self) -> dict[str, Any]:
        """The next epoch to walk and the seed: all that decides the coming orders."""
        return {"sampler": "DistributedSampler", "epoch": self.epoch, "seed": self.seed}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`; the seed must be the same."""
        if not isinstance(state, dict) or state.get("sampler") != "DistributedSampler":
            raise ValueError(f"not a DistributedSampler state: {state!r:.80}")
        if state["seed"] != self.seed:
            raise ValueError(f"the state is for seed {state['seed']}, this sampler has {self.seed}")
        self.set_epoch(state["epoch"])

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, "
            f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})"
        )
