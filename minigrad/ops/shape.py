"""Shape ops: their backward moves gradients back to where the values came from.

`unbroadcast` lives here too: the engine calls it on the gradients of every op marked
`broadcasting`, so no op reduces a broadcast gradient by hand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function, run_op


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


class Transpose(Function):
    """Permute axes; the gradient is permuted back by the inverse permutation."""

    def forward(self, x: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        return x.transpose(self.axes)

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad.transpose(tuple(np.argsort(self.axes))),)


class BroadcastTo(Function):
    """Copy values along new or length-1 axes; the engine sums the gradient back."""

    broadcasting = True

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad,)


class GetItem(Function):
    """`x[index]`; the gradient is scattered back into zeros, adding repeated indices."""

    def forward(self, x: np.ndarray, index: Any) -> np.ndarray:
        self.input_shape, self.index = x.shape, index
        return x[index]

    def backward(self, grad: Any) -> tuple[Any]:
        return (run_op(ScatterAdd, grad, index=self.index, shape=self.input_shape),)


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


class Stack(Function):
    """Join along a new axis; input i gets the gradient's slice i along it."""

    def forward(self, *xs: np.ndarray, axis: int) -> np.ndarray:
        self.axis, self.count = axis, len(xs)
        return np.stack(xs, axis=axis)

    def backward(self, grad: Any) -> tuple[Any, ...]:
        lead = (slice(None),) * self.axis
        return tuple(grad[(*lead, i)] for i in range(self.count))


# -- public functions (also Tensor methods) ------------------------------------------------------


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    """Shapes may be given as ints (`reshape(2, 3)`) or one tuple (`reshape((2, 3))`)."""
    if len(shape) == 1 and isinstance(shape[0], tuple | list):
        shape = tuple(shape[0])
    return tuple(int(n) for n in shape)


def _axis_index(axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for a tensor of {ndim} dimensions")
    return axis % ndim


def reshape(x: Any, *shape: Any) -> Tensor:
    """The same values in a new shape (one dimension may be -1)."""
    return Reshape.apply(x, shape=_shape_arg(shape))


def transpose(x: Any, *axes: Any) -> Tensor:
    """Permute axes as NumPy's `transpose`: reversed by default, or in the order given."""
    axes = _shape_arg(axes) if axes else None
    ndim = np.ndim(as_operand(x))
    if axes is not None:
        if sorted(a % max(ndim, 1) for a in axes) != list(range(ndim)):
            raise ValueError(f"axes {axes} are not a permutation of the {ndim} axes")
        axes = tuple(a % ndim for a in axes)
    return Transpose.apply(x, axes=axes)


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes."""
    ndim = np.ndim(as_operand(x))
    order = list(range(ndim))
    a, b = _axis_index(axis1, ndim), _axis_index(axis2, ndim)
    order[a], order[b] = order[b], order[a]
    return Transpose.apply(x, axes=tuple(order))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes start_dim..end_dim into one (all of them by default, giving 1-D)."""
    shape = np.shape(as_operand(x))
    if not shape:
        return reshape(x, 1)
    start, end = _axis_index(start_dim, len(shape)), _axis_index(end_dim, len(shape))
    merged = int(np.prod(shape[start : end + 1]))
    return reshape(x, (*shape[:start], merged, *shape[end + 1 :]))


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


def getitem(x: Any, index: Any) -> Tensor:
    """`x[index]`: basic slicing, integer-array and boolean indexing."""
    return GetItem.apply(x, index=_index_arrays(index))


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


def concatenate(tensors: Any, axis: int = 0, **torch_names: Any) -> Tensor:
    """Join tensors along an existing axis (`dim=` accepted)."""
    tensors, axis, ndim = _join_args(tensors, axis, torch_names, "concatenate")
    if ndim == 0:
        raise ValueError("zero-dimensional tensors cannot be concatenated")
    return Concatenate.apply(*tensors, axis=_axis_index(axis, ndim))


cat = concatenate


def stack(tensors: Any, axis: int = 0, **torch_names: Any) -> Tensor:
    """Join tensors of equal shape along a new axis (`dim=` accepted)."""
    tensors, axis, ndim = _join_args(tensors, axis, torch_names, "stack")
    return Stack.apply(*tensors, axis=_axis_index(axis, ndim + 1))


from ..tensor import Tensor, _index_arrays, as_operand  # noqa: E402
