"""Reductions. Each backward spreads the gradient of the reduced value back over the input.

`axis` arrives normalised by `Tensor`: None (all axes) or a tuple of non-negative ints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, run_op
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


class Sum(Function):
    """z = Σ x over axis.  dz/dx = 1: every element gets the gradient of its sum."""

    def forward(self, x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        self.input_shape, self.axis = x.shape, axis
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad: Any) -> tuple[Any]:
        return (_spread(grad, self.input_shape, self.axis),)


class Mean(Function):
    """z = Σ x / n over axis.  dz/dx = 1/n."""

    def forward(self, x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        self.input_shape, self.axis = x.shape, axis
        self.count = x.size if axis is None else int(np.prod([x.shape[i] for i in axis]))
        return x.mean(axis=axis, keepdims=keepdims)

    def backward(self, grad: Any) -> tuple[Any]:
        return (_spread(grad, self.input_shape, self.axis) / self.count,)


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


class Min(Max):
    """z = min x over axis.  The gradient goes to the minimal elements, split evenly among ties."""

    reduce = staticmethod(np.min)


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


# -- public functions (also Tensor methods) ------------------------------------------------------


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


def sum(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Sum over `axis` (all axes by default)."""
    return _reduction(Sum, x, axis, keepdims, torch_names)


def mean(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Mean over `axis` (all axes by default)."""
    return _reduction(Mean, x, axis, keepdims, torch_names)


def max(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Maximum over `axis`; tied maxima share the gradient evenly (as `torch.amax`)."""
    return _reduction(Max, x, axis, keepdims, torch_names)


def min(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Minimum over `axis`; tied minima share the gradient evenly (as `torch.amin`)."""
    return _reduction(Min, x, axis, keepdims, torch_names)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """ln Σ eˣ over `axis`, stable for large |x|."""
    return _reduction(LogSumExp, x, axis, keepdims, torch_names)


def argmax(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Index of the maximum (flattened when `axis` is None); int64, no gradient."""
    return _arg_reduction(np.argmax, x, axis, keepdims, torch_names)


def argmin(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    """Index of the minimum (flattened when `axis` is None); int64, no gradient."""
    return _arg_reduction(np.argmin, x, axis, keepdims, torch_names)


def _arg_reduction(
    find: Any, x: Any, axis: Any, keepdims: bool, torch_names: dict[str, Any]
) -> Tensor:
    axis = torch_names.pop("dim", axis)
    keepdims = bool(torch_names.pop("keepdim", keepdims))
    if torch_names:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(torch_names))}")
    found = find(as_operand(x), axis=axis, keepdims=keepdims)
    return Tensor(np.asarray(found, dtype=np.int64))


from ..tensor import Tensor, as_operand  # noqa: E402
