"""Mini-batches: datasets of aligned arrays and a loader that walks true, seeded epochs."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

import minigrad as mg

__all__ = ["DataLoader", "Dataset", "TensorDataset"]


class Dataset:
    """Anything with ``len()`` and ``dataset[i]``; subclasses override both."""

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")


class TensorDataset(Dataset):
    """Arrays sharing their first dimension; item ``i`` is ``(a[i] for each array)``.

    An index array gathers a whole batch with one fancy-index per array.
    """

    def __init__(self, *arrays: Any) -> None:
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(np.asarray(a) for a in arrays)
        shapes = [a.shape for a in self.arrays]
        if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
            listed = ", ".join(str(s) for s in shapes)
            raise ValueError(f"TensorDataset arrays must share their first dimension, got {listed}")

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index: Any) -> tuple[np.ndarray, ...]:
        return tuple(a[index] for a in self.arrays)

    def __repr__(self) -> str:
        return f"TensorDataset({', '.join(str(a.shape) for a in self.arrays)})"


class DataLoader:
    """Batches of a dataset, one epoch per iteration: a permutation drawn without replacement.

    ``seed`` (or a ``np.random.Generator`` as ``rng``) makes the epochs reproducible; without
    either, the loader's generator is seeded from minigrad's default one (``mg.manual_seed``).
    Each new iteration draws a new permutation. Yields tuples of ndarrays, e.g.
    ``(x_batch, t_batch)``. A ``sampler`` (an iterable of indices with ``len()``, such as
    ``distributed.DistributedSampler``) gives the order instead of ``shuffle``.

    ``num_workers`` is accepted for PyTorch code and must be 0: batches are gathered in this
    process, by one NumPy fancy index per array, which is faster than shipping them from worker
    processes would be.
    """

    def __init__(
        self, dataset: Dataset, batch_size: int = 100, shuffle: bool = True,
        drop_last: bool = False, seed: int | None = None, rng: np.random.Generator | None = None,
        sampler: Any = None, num_workers: int = 0,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        if num_workers != 0:
            raise ValueError(
                f"num_workers={num_workers!r} is not supported: the DataLoader gathers each batch "
                "in this process with one NumPy index per array (no per-item Python work for "
                "workers to share, and sending batches between processes would only copy "
                "them); use num_workers=0"
            )
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = mg.random.child_generator(seed, rng)
        self.sampler = sampler

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        if self.sampler is not None:
            order = np.fromiter(self.sampler, dtype=np.int64)
        else:
            n = len(self.dataset)
            order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._gather(order[start:start + self.batch_size])

    def _gather(self, index: np.ndarray) -> Any:
        """One batch: a fancy index per array, or per-item reads stacked for other datasets."""
        if isinstance(self.dataset, TensorDataset):
            return self.dataset[index]
        items = [self.dataset[int(i)] for i in index]
        if isinstance(items[0], tuple):
            return tuple(np.stack(field) for field in zip(*items, strict=True))
        return np.stack(items)

    def state_dict(self) -> dict[str, Any]:
        """The generator's ``bit_generator.state`` as JSON-able data, for exact resumption.

        Permutations are drawn when an epoch starts, so a state saved between epochs restores
        the following epochs exactly. With a sampler, the sampler's state.
        """
        if self.sampler is not None:
            return self.sampler.state_dict()
        return _jsonable(self.rng.bit_generator.state)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the generator from ``state_dict()`` (also after a JSON round trip)."""
        if self.sampler is not None:
            self.sampler.load_state_dict(state)
            return
        expected = type(self.rng.bit_generator).__name__
        if not isinstance(state, dict) or state.get("bit_generator") != expected:
            found = state.get("bit_generator") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"DataLoader state is for bit generator {found!r}, need {expected!r}")
        self.rng.bit_generator.state = state

    def __repr__(self) -> str:
        return (f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")


def _jsonable(value: Any) -> Any:
    """A copy of nested dicts/lists with ndarrays and NumPy scalars turned into Python data."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
