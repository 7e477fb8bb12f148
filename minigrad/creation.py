"""Making tensors: from data, filled with constants, ranges, and random values."""

from __future__ import annotations

from typing import Any

import numpy as np

from .random import generator
from .tensor import DEFAULT_DTYPE, Tensor


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor from a number, nested list, ndarray or Tensor (the same as `Tensor(...)`)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """`zeros(2, 3)` and `zeros((2, 3))` both mean shape (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    if any(int(n) < 0 for n in shape):
        raise ValueError(f"negative dimensions are not allowed: {shape}")
    return tuple(int(n) for n in shape)


def _dtype(dtype: Any) -> np.dtype:
    return DEFAULT_DTYPE if dtype is None else np.dtype(dtype)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return Tensor(np.zeros(_shape(shape), _dtype(dtype)), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return Tensor(np.ones(_shape(shape), _dtype(dtype)), requires_grad=requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of `shape` filled with `fill_value`."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return Tensor(np.full(_shape(shape), fill_value, _dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of `t`'s shape and (unless given) dtype."""
    array = np.asarray(t)
    return Tensor(np.zeros_like(array, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of `t`'s shape and (unless given) dtype."""
    array = np.asarray(t)
    return Tensor(np.ones_like(array, dtype=dtype), requires_grad=requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values in [start, stop). Integer arguments give int64 (as PyTorch), others
    float32, unless `dtype` says otherwise."""
    if dtype is None:
        given = (v for v in (start, stop, step) if v is not None)
        integral = all(isinstance(v, int | np.integer) for v in given)
        dtype = np.int64 if integral else DEFAULT_DTYPE
    values = np.arange(start, stop, step, dtype=dtype)  # stop=None: start is the stop
    return Tensor(values, requires_grad=requires_grad)


def randn(
    *shape: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Samples of the standard normal distribution; `seed=` or `rng=` make them reproducible
    (without either they come from the default generator that `mg.manual_seed` resets)."""
    draw = generator(seed, rng).standard_normal
    return _random(draw, _shape(shape), _dtype(dtype), requires_grad)


def rand(
    *shape: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Samples uniform in [0, 1); `seed=` or `rng=` make them reproducible (without either they
    come from the default generator that `mg.manual_seed` resets)."""
    return _random(generator(seed, rng).random, _shape(shape), _dtype(dtype), requires_grad)


def _random(draw: Any, shape: tuple[int, ...], dtype: np.dtype, requires_grad: bool) -> Tensor:
    """Draw in `dtype` directly when the generator supports it (float32/64), else convert."""
    draw_dtype = dtype if dtype in (np.float32, np.float64) else np.float64
    values = draw(shape, dtype=draw_dtype)
    return Tensor(values.astype(dtype, copy=False), requires_grad=requires_grad)


def from_dlpack(external: Any) -> Tensor:
    """A tensor sharing the memory of any DLPack producer (a PyTorch, JAX or CuPy CPU tensor, an
    ndarray), without a copy: writes through either side show in the other."""
    if isinstance(external, Tensor):
        return external.detach()  # an alias: the same memory and version counter
    return Tensor(np.from_dlpack(external))
