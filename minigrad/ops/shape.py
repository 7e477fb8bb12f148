"""Shape ops: their backward moves gradients back to where the values came from.

`unbroadcast` lives here too: the engine calls it on the gradients of every op marked
`broadcasting`, so no op reduces a broadcast gradient by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, run_op
from ..numpy_protocol import implements, reject
from ..tensor import Tensor, as_operand, index_arrays


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum `grad` down to `shape`, undoing NumPy broadcasting (works on ndarrays and Tensors).

    Broadcasting prepends axes and stretches axes of length 1; the gradient of a value copied
    along an axis is the sum along it."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)  # axes that broadcasting prepended
    if grad.shape[lead:] == shape:  # only prepended axes (a bias, say): sum them away
        return grad.sum(axis=tuple(range(lead)))
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    summed = grad.sum(axis=tuple(range(lead)) + stretched)
    # Reshape only to restore stretched axes: a reshaped result would be a view, which the
    # engine must copy before storing it as a leaf's .grad.
    return summed if summed.shape == shape else summed.reshape(shape)


class Reshape(Function):
    """Same values, new shape; the gradient is reshaped back."""

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        self.input_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape "
                f"{tuple(shape)}"
            ) from None

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad.reshape(self.input_shape),)


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same values in a new shape (one dimension may be -1)."""
    return Reshape.apply(x, shape=_shape_arg(shape))


@implements(np.reshape)
def _numpy_reshape(
    a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None, copy: Any = None
) -> Tensor:
    reject("numpy.reshape", order=None if order == "C" else order, copy=copy)
    return reshape(a, shape if shape is not None else newshape)


@implements(np.ravel)
def _numpy_ravel(a: Any, order: str = "C") -> Tensor:
    reject("numpy.ravel", order=None if order == "C" else order)
    return reshape(a, -1)


class Transpose(Function):
    """Permute axes; the gradient is permuted back by the inverse permutation."""

    def forward(self, x: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        return x.transpose(self.axes)

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad.transpose(tuple(np.argsort(self.axes))),)


def transpose(x: Any, *axes: Any) -> Tensor:
    """Permute axes as NumPy's `transpose`: reversed by default, or in the order given."""
    axes = _shape_arg(axes) if axes else None
    ndim = np.ndim(as_operand(x))
    if axes is not None:
        if sorted(a % max(ndim, 1) for a in axes) != list(range(ndim)):
            raise ValueError(f"axes {axes} are not a permutation of the {ndim} axes")
        axes = tuple(a % ndim for a in axes)
    return Transpose.apply(x, axes=axes)


@implements(np.transpose)
def _numpy_transpose(a: Any, axes: Any = None) -> Tensor:
    return transpose(a) if axes is None else transpose(a, *axes)


@implements(np.swapaxes)
def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    ndim = np.ndim(as_operand(x))
    order = list(range(ndim))
    a, b = _axis_index(axis1, ndim), _axis_index(axis2, ndim)
    order[a], order[b] = order[b], order[a]
    return Transpose.apply(x, axes=tuple(order))


class BroadcastTo(Function):
    """Copy values along new or length-1 axes; the engine sums the gradient back."""

    broadcasting = True

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad,)


def broadcast_to(x: Any, *shape: Any) -> Tensor:
    """Copy values along new or length-1 axes to reach `shape` (PyTorch's `expand`)."""
    shape = _shape_arg(shape)
    current = np.shape(as_operand(x))
    if any(n == -1 for n in shape):  # PyTorch's expand: -1 keeps that axis
        lead = len(shape) - len(current)
        shape = tuple(current[i - lead] if n == -1 else n for i, n in enumerate(shape))
    try:
        reachable = np.broadcast_shapes(current, shape) == shape  # (3,) to (1,) is not
    except ValueError:
        reachable = False
    if not reachable:
        raise ValueError(f"cannot broadcast a tensor of shape {current} to shape {shape}")
    return BroadcastTo.apply(x, shape=shape)


expand = broadcast_to


@implements(np.broadcast_to)
def _numpy_broadcast_to(array: Any, shape: Any, subok: bool = False) -> Tensor:
    return broadcast_to(array, shape)


class GetItem(Function):
    """`x[index]`; the gradient is scattered back into zeros, adding repeated indices."""

    def forward(self, x: np.ndarray, index: Any) -> np.ndarray:
        self.input_shape, self.index = x.shape, index
        return x[index]

    def backward(self, grad: Any) -> tuple[Any]:
        return (run_op(ScatterAdd, grad, index=self.index, shape=self.input_shape),)


def getitem(x: Any, index: Any) -> Tensor:
    """`x[index]`: basic slicing, integer-array and boolean indexing."""
    return GetItem.apply(x, index=index_arrays(index))


class ScatterAdd(Function):
    """zeros(shape) with `grad` added at `index` (the adjoint of indexing); backward indexes."""

    def forward(self, grad: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
        self.index = index
        out = np.zeros(shape, dtype=grad.dtype)
        if _has_no_repeats(index):
            out[index] = grad
        else:
            np.add.at(out, index, grad)
        return out

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad[self.index],)


def _has_no_repeats(index: Any) -> bool:
    """True for basic indexing (ints, slices, None, ...) or one boolean mask: plain assignment
    then equals accumulation. Integer arrays may repeat an index and need `np.add.at`."""
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [p for p in parts if isinstance(p, np.ndarray)]
    if not arrays:
        return True
    return len(parts) == 1 and arrays[0].dtype == bool


class Concatenate(Function):
    """Join along an existing axis; each input gets its slice of the gradient."""

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        self.axis = axis
        self.bounds = np.cumsum([0] + [x.shape[axis] for x in xs])
        return np.concatenate(xs, axis=axis)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        lead = (slice(None),) * self.axis
        return tuple(
            grad[(*lead, slice(start, stop))]
            for start, stop in zip(self.bounds[:-1], self.bounds[1:], strict=True)
        )


def concatenate(tensors: Any, axis: int = 0, **torch_names: Any) -> Tensor:
    """Join tensors along an existing axis (`dim=` accepted)."""
    tensors, axis, ndim = _join_args(tensors, axis, torch_names, "concatenate")
    if ndim == 0:
        raise ValueError("zero-dimensional tensors cannot be concatenated")
    return Concatenate.apply(*tensors, axis=_axis_index(axis, ndim))


cat = concatenate


@implements(np.concatenate)
def _numpy_concatenate(arrays: Any, axis: Any = 0, out: Any = None, **more: Any) -> Tensor:
    reject("numpy.concatenate", out=out, **more)
    if axis is None:  # NumPy's meaning: flatten each array first
        return concatenate([reshape(a, -1) for a in arrays])
    return concatenate(arrays, axis)


class Stack(Function):
    """Join along a new axis; input i gets the gradient's slice i along it."""

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        self.axis, self.count = axis, len(xs)
        return np.stack(xs, axis=axis)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        lead = (slice(None),) * self.axis
        return tuple(grad[(*lead, i)] for i in range(self.count))


def stack(tensors: Any, axis: int = 0, **torch_names: Any) -> Tensor:
    """Join tensors of equal shape along a new axis (`dim=` accepted)."""
    tensors, axis, ndim = _join_args(tensors, axis, torch_names, "stack")
    return Stack.apply(*tensors, axis=_axis_index(axis, ndim + 1))


@implements(np.stack)
def _numpy_stack(arrays: Any, axis: int = 0, out: Any = None, **more: Any) -> Tensor:
    reject("numpy.stack", out=out, **more)
    return stack(arrays, axis)


class Pad(Function):
    """x surrounded by a constant (NumPy's `pad`, mode "constant"); the gradient is the middle
    of the incoming gradient, where x's values went."""

    def forward(self, x: np.ndarray, widths: tuple[tuple[int, int], ...], value: Any) -> np.ndarray:
        self.middle = tuple(
            slice(before, before + n) for (before, _), n in zip(widths, x.shape, strict=True)
        )
        return np.pad(x, widths or 0, mode="constant", constant_values=value)  # (0-d: as is)

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad[self.middle],)


def pad(x: Any, pad_width: Any, value: Any = 0) -> Tensor:
    """x surrounded by `value`: `pad_width` as NumPy's (an int, (before, after), or one such
    pair per axis), constant padding only."""
    ndim = np.ndim(as_operand(x))
    try:
        widths = np.broadcast_to(np.asarray(pad_width), (ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor of {ndim} dimensions"
        ) from None
    if widths.dtype.kind not in "iu" or (widths < 0).any():
        raise ValueError(f"pad: pad_width must be non-negative integers, got {pad_width!r}")
    widths = tuple((int(before), int(after)) for before, after in widths)
    return Pad.apply(x, widths=widths, value=as_operand(value))


@implements(np.pad)
def _numpy_pad(array: Any, pad_width: Any, mode: str = "constant", **options: Any) -> Tensor:
    """`np.pad(t, width, constant_values=v)`; other modes have no minigrad op."""
    if mode != "constant":
        raise TypeError(f"numpy.pad on Tensors supports mode='constant' only, not {mode!r}")
    value = options.pop("constant_values", 0)
    reject("numpy.pad", **options)
    if np.ndim(value) != 0:
        raise TypeError("numpy.pad on Tensors takes one scalar constant_values")
    return pad(array, pad_width, value)


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Shapes may be given as ints (`reshape(2, 3)`) or one tuple (`reshape((2, 3))`)."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _axis_index(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % ndim


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one (all of them by default, giving 1-D)."""
    shape = np.shape(as_operand(x))
    if not shape:
        return reshape(x, 1)
    start, end = _axis_index(start_dim, len(shape)), _axis_index(end_dim, len(shape))
    merged = int(np.prod(shape[start : end + 1]))
    return reshape(x, (*shape[:start], merged, *shape[end + 1 :]))


@implements(np.squeeze)
def squeeze(x: Any, axis: Any = None, **torch_names: Any) -> Tensor:
    """Remove axes of length 1 (all of them, or those named by `axis`/`dim`)."""
    axis = torch_names.pop("dim", axis)
    if torch_names:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(torch_names))}")
    shape = np.shape(as_operand(x))
    if axis is None:
        axes = {i for i, n in enumerate(shape) if n == 1}
    else:
        axes = {_axis_index(a, len(shape)) for a in (axis if isinstance(axis, tuple) else (axis,))}
        for a in axes:
            if shape[a] != 1:
                raise ValueError(f"cannot squeeze axis {a} of length {shape[a]} (shape {shape})")
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in axes))


def unsqueeze(x: Any, axis: int) -> Tensor:
    """Insert an axis of length 1 at position `axis` (negative counts from the end)."""
    shape = np.shape(as_operand(x))
    position = _axis_index(axis, len(shape) + 1)
    return reshape(x, (*shape[:position], 1, *shape[position:]))


@implements(np.expand_dims)
def expand_dims(x: Any, axis: Any) -> Tensor:
    """Insert axes of length 1 at the positions `axis` (an int or a tuple) of the result."""
    shape = np.shape(as_operand(x))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    ndim = len(shape) + len(axes)
    positions = {_axis_index(a, ndim) for a in axes}
    if len(positions) != len(axes):
        raise ValueError(f"expand_dims: axis {axis} repeats an axis")
    rest = iter(shape)
    return reshape(x, tuple(1 if i in positions else next(rest) for i in range(ndim)))


def _join_args(
    tensors: Any, axis: int, torch_names: dict[str, Any], what: str
) -> tuple[list[Any], int, int]:
    """The tensors as a list, the axis (`dim=` accepted) and the first tensor's ndim."""
    axis = torch_names.pop("dim", axis)
    if torch_names:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(torch_names))}")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"need at least one tensor to {what}")
    return tensors, axis, np.ndim(as_operand(tensors[0]))


# Shape queries on Tensors: plain attributes, nothing to differentiate.


@implements(np.shape)
def _numpy_shape(a: Any) -> tuple[int, ...]:
    return a.shape


@implements(np.ndim)
def _numpy_ndim(a: Any) -> int:
    return a.ndim


@implements(np.size)
def _numpy_size(a: Any, axis: int | None = None) -> int:
    return a.size if axis is None else a.shape[axis]
