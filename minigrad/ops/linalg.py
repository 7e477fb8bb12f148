"""Matrix multiplication, the heart of the book's Affine layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function


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


def matmul(x: Any, y: Any) -> Tensor:
    """x @ y with NumPy's rules: 1-D·1-D is a dot product, a 1-D operand is a row (left) or a
    column (right) vector, and leading axes of N-D operands broadcast as batches."""
    x_shape, y_shape = np.shape(as_operand(x)), np.shape(as_operand(y))
    if not x_shape or not y_shape:
        raise ValueError(
            f"matmul: shapes {x_shape} and {y_shape}: operands must have at least one dimension "
            "(use * for a scalar)"
        )
    inner_x = x_shape[-1]
    inner_y = y_shape[0] if len(y_shape) == 1 else y_shape[-2]
    if inner_x != inner_y:
        raise ValueError(
            f"matmul: shapes {x_shape} and {y_shape} are not aligned: {inner_x} (last axis of "
            f"the first) != {inner_y} ({'only' if len(y_shape) == 1 else 'second-to-last'} axis "
            "of the second)"
        )
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


from ..tensor import Tensor, as_operand  # noqa: E402
from .shape import squeeze, unsqueeze  # noqa: E402
