"""Matrix multiplication, the book's Affine layer (x @ W + b) and PyTorch's Linear (x @ Wᵀ + b),
each layer as one fused op."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..function import Function
from ..numpy_protocol import implements, reject
from ..tensor import Tensor, as_operand
from .elementwise import mul
from .shape import reshape, squeeze, transpose, unsqueeze


class MatMul(Function):
    """Z = X @ Y for operands of 2 or more dimensions (leading axes broadcast as batches).

    dX = dZ @ Yᵀ and dY = Xᵀ @ dZ (the book's Affine: dX = dY·Wᵀ, dW = Xᵀ·dY); the engine sums
    gradients over broadcast batch axes. 1-D operands are handled by `minigrad.matmul`."""

    broadcasting = True

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.save_for_backward(x, y)
        try:
            return x @ y
        except ValueError:
            raise ValueError(
                f"shapes {x.shape} and {y.shape} cannot be multiplied: their batch axes "
                f"{x.shape[:-2]} and {y.shape[:-2]} do not broadcast"
            ) from None

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved_tensors
        gx = grad @ y.swapaxes(-1, -2) if self.needs_input_grad[0] else None
        gy = x.swapaxes(-1, -2) @ grad if self.needs_input_grad[1] else None
        return gx, gy


@implements(np.matmul)
def matmul(x: Any, y: Any) -> Tensor:
    """x @ y with NumPy's rules: 1-D·1-D is a dot product, a 1-D operand is a row (left) or a
    column (right) vector, and leading axes of N-D operands broadcast as batches."""
    x_shape, y_shape = _shape(x), _shape(y)
    _check_aligned(x_shape, y_shape)
    row, column = len(x_shape) == 1, len(y_shape) == 1
    if row:
        x = unsqueeze(x, 0)
    if column:
        y = unsqueeze(y, -1)
    out = MatMul.apply(x, y)
    if row:
        out = squeeze(out, -2)
    if column:
        out = squeeze(out, -1)
    return out


class Affine(Function):
    """Y = X @ W + b in one node, the book's Affine layer, for W 2-D and X with a batch axis:
    dX = dY·Wᵀ, dW = Xᵀ·dY, and db = dY, which the engine sums over the batch axes back to b's
    shape (db = Σ dY).

    One node instead of two (matmul, then add) halves the per-op overhead of a Linear layer, and
    adding b in place saves allocating a second (batch, out) array."""

    broadcasting = True

    def forward(self, x: np.ndarray, w: np.ndarray, b: Any) -> np.ndarray:
        if x.shape[-1] != w.shape[0]:
            raise ValueError(_not_aligned(x.shape, w.shape))
        self.save_for_backward(x, w)
        return _add_bias(x @ w, b)

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        x, w = self.saved_tensors
        gx = grad @ w.T if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1]:  # x may have batch axes beyond the first: swap the last two
            gw = (x.T if x.ndim == 2 else x.swapaxes(-1, -2)) @ grad
        return gx, gw, (grad if self.needs_input_grad[2] else None)


def affine(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weight + bias (the book's Affine), fused into one op when x has a batch axis and
    weight is 2-D; otherwise `matmul(x, weight) + bias`."""
    if bias is not None and _ndim(x) >= 2 and _ndim(weight) == 2:
        return Affine.apply(x, weight, bias)  # checks that the shapes align
    out = matmul(x, weight)
    return out if bias is None else out + bias


class Linear(Function):
    """Y = X @ Wᵀ + b in one node, PyTorch's Linear: W of shape (out, in), X with a batch axis.
    dX = dY·W, dW = dYᵀ·X (summed over every batch axis), and db = dY, which the engine sums
    back to b's shape. The book's Affine with W stored transposed, so a PyTorch state dict
    loads as it is."""

    broadcasting = True

    def forward(self, x: np.ndarray, w: np.ndarray, b: Any) -> np.ndarray:
        if x.shape[-1] != w.shape[1]:
            raise ValueError(_not_linear(x.shape, w.shape))
        self.save_for_backward(x, w)
        return _add_bias(x @ w.T, b)

    def backward(self, grad: Any) -> tuple[Any, Any, Any]:
        x, w = self.saved_tensors
        gx = grad @ w if self.needs_input_grad[0] else None
        gw = None
        if self.needs_input_grad[1] and x.ndim == 2:
            gw = grad.T @ x
        elif self.needs_input_grad[1]:  # every batch axis is summed: flatten them into one
            rows = math.prod(x.shape[:-1])
            gw = grad.reshape(rows, grad.shape[-1]).T @ x.reshape(rows, x.shape[-1])
        return gx, gw, (grad if self.needs_input_grad[2] else None)


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """x @ weightᵀ + bias with weight of shape (out, in), as `torch.nn.functional.linear`; one
    node when x has a batch axis and weight is 2-D, otherwise `matmul(x, weightᵀ) + bias`."""
    if bias is not None and _ndim(x) >= 2 and _ndim(weight) == 2:
        return Linear.apply(x, weight, bias)  # checks that the shapes align
    x_shape, w_shape = _shape(x), _shape(weight)
    if len(w_shape) == 2 and x_shape and x_shape[-1] != w_shape[1]:
        raise ValueError(f"linear: {_not_linear(x_shape, w_shape)}")
    out = matmul(x, transpose(weight))
    return out if bias is None else out + bias


def _add_bias(out: np.ndarray, b: Any) -> np.ndarray:
    """out + b, in place into the fresh product when that cannot change its shape or dtype."""
    if type(b) is np.ndarray and b.ndim <= 1 and b.dtype == out.dtype:
        out += b
        return out
    return out + b


def _ndim(operand: Any) -> int:
    """Number of axes of an op's argument: a Tensor, an ndarray, a scalar or a nested list."""
    data = operand._data if isinstance(operand, Tensor) else operand
    return data.ndim if type(data) is np.ndarray else np.ndim(as_operand(data))


def _shape(operand: Any) -> tuple[int, ...]:
    if isinstance(operand, Tensor | np.ndarray):
        return operand.shape
    return np.shape(as_operand(operand))


def _not_linear(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> str:
    return (
        f"input of shape {x_shape} has {x_shape[-1]} features, the weight of shape {w_shape} "
        f"(out, in) expects {w_shape[1]}"
    )


def _not_aligned(x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> str:
    inner_y = y_shape[0] if len(y_shape) == 1 else y_shape[-2]
    return (
        f"shapes {x_shape} and {y_shape} are not aligned: {x_shape[-1]} (last axis of the "
        f"first) != {inner_y} ({'only' if len(y_shape) == 1 else 'second-to-last'} axis of the "
        "second)"
    )


def _check_aligned(x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> None:
    """Raise naming both shapes unless x_shape @ y_shape is a valid matmul."""
    if not x_shape or not y_shape:
        raise ValueError(
            f"matmul: shapes {x_shape} and {y_shape}: operands must have at least one dimension "
            "(use * for a scalar)"
        )
    inner_y = y_shape[0] if len(y_shape) == 1 else y_shape[-2]
    if x_shape[-1] != inner_y:
        raise ValueError(f"matmul: {_not_aligned(x_shape, y_shape)}")


@implements(np.tensordot)
def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """Sum of products over the last `axes` axes of a and the first of b (an int), or over the
    axes paired in `axes = (axes_of_a, axes_of_b)`, as NumPy's `tensordot`.

    Built as NumPy builds it: move the summed axes of a to the end and those of b to the front,
    flatten both to matrices, multiply, and unflatten; so its gradient (of any order) is that of
    transpose, reshape and matmul."""
    a_shape, b_shape = _shape(a), _shape(b)
    if isinstance(axes, int | np.integer):
        summed_a = list(range(len(a_shape) - int(axes), len(a_shape)))
        summed_b = list(range(int(axes)))
    else:
        summed_a, summed_b = ([ax] if isinstance(ax, int | np.integer) else list(ax) for ax in axes)
    summed_a = [ax % max(len(a_shape), 1) for ax in summed_a]
    summed_b = [ax % max(len(b_shape), 1) for ax in summed_b]
    if len(summed_a) != len(summed_b) or any(
        a_shape[i] != b_shape[j] for i, j in zip(summed_a, summed_b, strict=True)
    ):
        raise ValueError(
            f"tensordot: shapes {a_shape} and {b_shape} do not match along axes {summed_a} "
            f"and {summed_b}"
        )
    free_a = [i for i in range(len(a_shape)) if i not in summed_a]
    free_b = [j for j in range(len(b_shape)) if j not in summed_b]
    rows, inner, columns = (
        int(np.prod([shape[i] for i in axes]))
        for shape, axes in ((a_shape, free_a), (a_shape, summed_a), (b_shape, free_b))
    )
    a2 = reshape(transpose(a, *free_a, *summed_a), rows, inner)
    b2 = reshape(transpose(b, *summed_b, *free_b), inner, columns)
    out_shape = tuple(a_shape[i] for i in free_a) + tuple(b_shape[j] for j in free_b)
    return reshape(matmul(a2, b2), out_shape)


@implements(np.dot)
def dot(a: Any, b: Any, out: Any = None) -> Tensor:
    """NumPy's `dot`: a product with a scalar, the matmul of 1-D and 2-D operands, and for N-D
    operands the sum over the last axis of a and the second-to-last of b."""
    reject("numpy.dot", out=out)
    a_ndim, b_ndim = len(_shape(a)), len(_shape(b))
    if a_ndim == 0 or b_ndim == 0:
        return mul(a, b)
    if (a_ndim <= 2 and b_ndim <= 2) or b_ndim == 1:
        return matmul(a, b)
    return tensordot(a, b, axes=([-1], [-2]))
