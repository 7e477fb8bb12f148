"""Reductions. Each backward spreads the gradient of the reduced value back over the input.

`axis` arrives normalised by `Tensor`: None (all axes) or a tuple of non-negative ints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, run_op
from ..numpy_protocol import implements, reject
from ..tensor import Tensor, as_operand
from .shape import BroadcastTo


def _keepdims_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """`shape` with the reduced axes kept as length 1."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else n for i, n in enumerate(shape))


def _spread(grad: Any, shape: tuple[int, ...], axis: tuple[int, ...] | None) -> Any:
    """The reduced gradient broadcast back over the input's shape (a view, no copy)."""
    grad = grad.reshape(_keepdims_shape(shape, axis))
    return run_op(BroadcastTo, grad, shape=shape)


def normalize_axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """`axis` (None, an int or a sequence; negatives count from the end) as None or sorted ints."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    normalized = []
    for a in axes:
        # `ndim or 1`, not max(ndim, 1): this module's `max` is the reduction, not the builtin
        if not -ndim <= a < (ndim or 1):
            raise ValueError(f"axis {a} is out of range for a tensor of {ndim} dimensions")
        normalized.append(int(a) % ndim if ndim else 0)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"axis {axis} repeats an axis")
    return tuple(sorted(normalized))


def _reduction(
    op: type[Function], x: Any, axis: Any, keepdims: bool, torch_names: dict[str, Any]
) -> Tensor:
    """Apply a reduction, accepting PyTorch's `dim=`/`keepdim=` for NumPy's `axis`/`keepdims`."""
    if not isinstance(x, Tensor):
        x = Tensor(x)
    unknown = set(torch_names) - {"dim", "keepdim"}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(unknown))}")
    axis = torch_names.get("dim", axis)
    keepdims = bool(torch_names.get("keepdim", keepdims))
    axes = normalize_axes(axis, x.ndim)
    if x.ndim == 0:
        axes = None
    return op.apply(x, axis=axes, keepdims=keepdims)


class Sum(Function):
    """z = Σ x over axis.  dz/dx = 1: every element gets the gradient of its sum."""

    def forward(self, x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        self.input_shape, self.axis = x.shape, axis
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad: Any) -> tuple[Any]:
        return (_spread(grad, self.input_shape, self.axis),)


def sum(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Sum over `axis` (all axes by default)."""
    return _reduction(Sum, x, axis, keepdims, torch_names)


@implements(np.sum)
def _numpy_sum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    **more: Any,
) -> Tensor:
    reject("numpy.sum", out=out, dtype=dtype, **more)
    return sum(a, axis, keepdims)


class Mean(Function):
    """z = Σ x / n over axis.  dz/dx = 1/n."""

    def forward(self, x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        self.input_shape, self.axis = x.shape, axis
        self.count = x.size if axis is None else int(np.prod([x.shape[i] for i in axis]))
        return x.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad: Any) -> tuple[Any]:
        return (_spread(grad, self.input_shape, self.axis) / self.count,)


def mean(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Mean over `axis` (all axes by default)."""
    return _reduction(Mean, x, axis, keepdims, torch_names)


@implements(np.mean)
def _numpy_mean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    **more: Any,
) -> Tensor:
    reject("numpy.mean", out=out, dtype=dtype, **more)
    return mean(a, axis, keepdims)


class Max(Function):
    """z = max x over axis.  The gradient goes to the maximal elements, split evenly among ties
    (as `torch.amax`), so it always sums to the incoming gradient."""

    reduce = staticmethod(np.max)

    def forward(self, x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        z = type(self).reduce(x, axis=axis, keepdims=keepdims)
        self.save_for_backward(x, z)
        self.axis = axis
        return z

    def backward(self, grad: Any) -> tuple[Any]:
        x, z = self.saved_tensors
        x = np.asarray(x)
        winners = x == np.asarray(z).reshape(_keepdims_shape(x.shape, self.axis))
        share = winners / winners.sum(axis=self.axis, keepdims=True)
        return (_spread(grad, x.shape, self.axis) * share.astype(x.dtype),)


def max(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Maximum over `axis`; tied maxima share the gradient evenly (as `torch.amax`)."""
    return _reduction(Max, x, axis, keepdims, torch_names)


@implements(np.max)
@implements(np.amax)
def _numpy_max(
    a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **more: Any
) -> Tensor:
    reject("numpy.max", out=out, **more)
    return max(a, axis, keepdims)


class Min(Max):
    """z = min x over axis.  The gradient goes to the minimal elements, split evenly among ties."""

    reduce = staticmethod(np.min)


def min(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Minimum over `axis`; tied minima share the gradient evenly (as `torch.amin`)."""
    return _reduction(Min, x, axis, keepdims, torch_names)


@implements(np.min)
@implements(np.amin)
def _numpy_min(
    a: Any, axis: Any = None, out: Any = None, keepdims: bool = False, **more: Any
) -> Tensor:
    reject("numpy.min", out=out, **more)
    return min(a, axis, keepdims)


class LogSumExp(Function):
    """z = ln Σ eˣ over axis, computed as m + ln Σ e^(x-m) with m = max x (no overflow).
    dz/dx = e^(x - z): the softmax of x."""

    def forward(self, x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        m = x.max(axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)  # all -inf (or inf) along an axis: shift by 0
        z = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
        if not keepdims:
            z = z.reshape(np.sum(x, axis=axis).shape)
        self.save_for_backward(x, z)
        self.axis = axis
        return z

    def backward(self, grad: Any) -> tuple[Any]:
        x, z = self.saved_tensors
        kept = _keepdims_shape(x.shape, self.axis)
        return (grad.reshape(kept) * np.exp(x - z.reshape(kept)),)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """ln Σ eˣ over `axis`, stable for large |x|."""
    return _reduction(LogSumExp, x, axis, keepdims, torch_names)


def argmax(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Index of the maximum (flattened when `axis` is None); int64, no gradient."""
    return _arg_reduction(np.argmax, x, axis, keepdims, torch_names)


@implements(np.argmax)
def _numpy_argmax(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
    reject("numpy.argmax", out=out)
    return argmax(a, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Index of the minimum (flattened when `axis` is None); int64, no gradient."""
    return _arg_reduction(np.argmin, x, axis, keepdims, torch_names)


@implements(np.argmin)
def _numpy_argmin(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Tensor:
    reject("numpy.argmin", out=out)
    return argmin(a, axis, keepdims)


def _arg_reduction(
    find: Any, x: Any, axis: Any, keepdims: bool, torch_names: dict[str, Any]
) -> Tensor:
    axis = torch_names.pop("dim", axis)
    keepdims = bool(torch_names.pop("keepdim", keepdims))
    if torch_names:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(torch_names))}")
    found = find(as_operand(x), axis=axis, keepdims=keepdims)
    return Tensor(np.asarray(found, dtype=np.int64))
