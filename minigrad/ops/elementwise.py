"""Elementwise ops. Each backward multiplies the incoming gradient by the local derivative.

Binary ops are marked `broadcasting`: their gradients come out in the broadcast shape and the
engine sums them back to each input's shape with `unbroadcast`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function
from ..numpy_protocol import implements, reject
from ..tensor import Tensor, as_operand


class Add(Function):
    """z = x + y.  An add node passes the gradient through: dz/dx = dz/dy = 1."""

    broadcasting = True

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x + y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, grad


@implements(np.add)
def add(x: Any, y: Any) -> Tensor:
    """x + y with broadcasting."""
    return Add.apply(x, y)


class Sub(Function):
    """z = x - y.  dz/dx = 1, dz/dy = -1."""

    broadcasting = True

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return x - y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        return grad, (-grad if self.needs_input_grad[1] else None)


@implements(np.subtract)
def sub(x: Any, y: Any) -> Tensor:
    """x - y with broadcasting."""
    return Sub.apply(x, y)


class Mul(Function):
    """z = x * y.  A multiply node swaps its inputs: dz/dx = y, dz/dy = x."""

    broadcasting = True

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.save_for_backward(x, y)
        return x * y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved_tensors
        gx = grad * y if self.needs_input_grad[0] else None
        gy = grad * x if self.needs_input_grad[1] else None
        return gx, gy


@implements(np.multiply)
def mul(x: Any, y: Any) -> Tensor:
    """x * y with broadcasting."""
    return Mul.apply(x, y)


class Div(Function):
    """z = x / y.  dz/dx = 1/y, dz/dy = -x/y²."""

    broadcasting = True

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.save_for_backward(x, y)
        return x / y

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = self.saved_tensors
        gx = grad / y if self.needs_input_grad[0] else None
        gy = -grad * x / (y * y) if self.needs_input_grad[1] else None
        return gx, gy


@implements(np.true_divide)
def div(x: Any, y: Any) -> Tensor:
    """x / y with broadcasting."""
    return Div.apply(x, y)


class Pow(Function):
    """z = x ** y.  dz/dx = y·x^(y-1), dz/dy = z·ln x (taken as 0 where x = 0, as PyTorch)."""

    broadcasting = True

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        z = x**y
        self.save_for_backward(x, y, z)
        return z

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y, z = self.saved_tensors
        gx = grad * y * x ** (y - 1) if self.needs_input_grad[0] else None
        gy = None
        if self.needs_input_grad[1]:
            at_zero = np.asarray(x) == 0  # 0**y: the limit of z·ln x is 0 for y > 0
            gy = grad * z * np.log(x + at_zero) * ~at_zero
        return gx, gy


@implements(np.power)
def pow(x: Any, y: Any) -> Tensor:
    """x ** y with broadcasting; the exponent may be a tensor too."""
    return Pow.apply(x, y)


class Neg(Function):
    """z = -x.  dz/dx = -1."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

    def backward(self, grad: Any) -> tuple[Any]:
        return (-grad,)


@implements(np.negative)
def neg(x: Any) -> Tensor:
    """-x."""
    return Neg.apply(x)


class Clone(Function):
    """A copy of x that is a new node of the graph.  dz/dx = 1."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad,)


@implements(np.copy)
def clone(x: Any) -> Tensor:
    """A copy of x that stays in the graph."""
    return Clone.apply(x)


class Cast(Function):
    """x converted to another dtype; the engine casts the gradient back to x's dtype."""

    def forward(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        return x.astype(dtype)

    def backward(self, grad: Any) -> tuple[Any]:
        return (grad,)


def astype(x: Any, dtype: Any) -> Tensor:
    """x converted to `dtype` (x itself when it has that dtype already)."""
    dtype = np.dtype(dtype)
    if isinstance(x, Tensor) and x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


class Exp(Function):
    """z = eˣ.  dz/dx = eˣ = z."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = np.exp(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad: Any) -> tuple[Any]:
        (z,) = self.saved_tensors
        return (grad * z,)


@implements(np.exp)
def exp(x: Any) -> Tensor:
    """eˣ elementwise."""
    return Exp.apply(x)


class Log(Function):
    """z = ln x.  dz/dx = 1/x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.log(x)

    def backward(self, grad: Any) -> tuple[Any]:
        (x,) = self.saved_tensors
        return (grad / x,)


@implements(np.log)
def log(x: Any) -> Tensor:
    """Natural logarithm elementwise."""
    return Log.apply(x)


class Sqrt(Function):
    """z = √x.  dz/dx = 1/(2√x) = 1/(2z)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = np.sqrt(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad: Any) -> tuple[Any]:
        (z,) = self.saved_tensors
        return (grad / (2 * z),)


@implements(np.sqrt)
def sqrt(x: Any) -> Tensor:
    """Square root elementwise."""
    return Sqrt.apply(x)


class Abs(Function):
    """z = |x|.  dz/dx = sign(x) (0 at x = 0, as PyTorch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, grad: Any) -> tuple[Any]:
        (x,) = self.saved_tensors
        return (grad * np.sign(np.asarray(x)),)


@implements(np.absolute)
def abs(x: Any) -> Tensor:
    """|x| elementwise."""
    return Abs.apply(x)


class Tanh(Function):
    """z = tanh x.  dz/dx = 1 - z²."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = np.tanh(x)
        self.save_for_backward(z)
        return z

    def backward(self, grad: Any) -> tuple[Any]:
        (z,) = self.saved_tensors
        return (grad * (1 - z * z),)


@implements(np.tanh)
def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent elementwise."""
    return Tanh.apply(x)


class Sigmoid(Function):
    """z = 1 / (1 + e⁻ˣ).  dz/dx = z(1 - z), the book's Sigmoid layer.

    Computed as e^min(x,0) / (1 + e^-|x|): exp never sees a positive argument, so no overflow."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        e = np.exp(-np.abs(x))
        z = np.where(x >= 0, 1, e) / (1 + e)
        self.save_for_backward(z)
        return z

    def backward(self, grad: Any) -> tuple[Any]:
        (z,) = self.saved_tensors
        return (grad * z * (1 - z),)


def sigmoid(x: Any) -> Tensor:
    """The logistic function 1 / (1 + e⁻ˣ), without overflow for large |x|."""
    return Sigmoid.apply(x)


class ReLU(Function):
    """z = max(x, 0).  dz/dx = 1 where x > 0, else 0: the book's ReLU mask."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return np.maximum(x, 0)

    def backward(self, grad: Any) -> tuple[Any]:
        (x,) = self.saved_tensors
        return (grad * (x > 0),)  # a constant mask under create_graph too (bool: no gradient)


def relu(x: Any) -> Tensor:
    """max(x, 0) elementwise."""
    return ReLU.apply(x)


class Clip(Function):
    """z = min(max(x, low), high).  dz/dx = 1 where low <= x <= high, else 0."""

    def forward(self, x: np.ndarray, low: Any, high: Any) -> np.ndarray:
        self.save_for_backward(x)
        self.low, self.high = low, high
        return np.clip(x, low, high)

    def backward(self, grad: Any) -> tuple[Any]:
        (x,) = self.saved_tensors
        x = np.asarray(x)
        inside = np.ones(x.shape, dtype=bool)
        if self.low is not None:
            inside &= x >= self.low
        if self.high is not None:
            inside &= x <= self.high
        return (grad * inside,)


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """x limited to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise ValueError("clip needs at least one of min and max")
    return Clip.apply(x, low=as_operand(min), high=as_operand(max))


@implements(np.clip)
def _numpy_clip(
    a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, **bounds: Any
) -> Tensor:
    """`np.clip(t, low, high)` (NumPy 2 also spells the bounds min=, max=)."""
    reject("numpy.clip", out=out)
    low, high = bounds.pop("min", a_min), bounds.pop("max", a_max)
    reject("numpy.clip", **bounds)
    return clip(a, low, high)


class Maximum(Function):
    """z = max(x, y) elementwise.  The gradient goes to the larger input; ties split it evenly."""

    broadcasting = True
    select = staticmethod(np.maximum)

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.save_for_backward(x, y)
        return type(self).select(x, y)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, y = (np.asarray(a) for a in self.saved_tensors)  # constant masks
        x_share = (type(self).select(x, y) == x) - 0.5 * (x == y)  # 1 where x won, 1/2 on ties
        return grad * x_share.astype(grad.dtype), grad * (1 - x_share).astype(grad.dtype)


@implements(np.maximum)
def maximum(x: Any, y: Any) -> Tensor:
    """Elementwise maximum with broadcasting (ties share the gradient)."""
    return Maximum.apply(x, y)


class Minimum(Maximum):
    """z = min(x, y) elementwise.  The gradient goes to the smaller input; ties split it evenly."""

    select = staticmethod(np.minimum)


@implements(np.minimum)
def minimum(x: Any, y: Any) -> Tensor:
    """Elementwise minimum with broadcasting (ties share the gradient)."""
    return Minimum.apply(x, y)


class Where(Function):
    """z = x where condition else y.  Each input gets the gradient where it was chosen."""

    broadcasting = True

    def forward(self, condition: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.condition = np.asarray(condition, dtype=bool)
        return np.where(self.condition, x, y)

    def backward(self, grad: Any) -> tuple[None, Any, Any]:
        gx = grad * self.condition if self.needs_input_grad[1] else None
        gy = grad * ~self.condition if self.needs_input_grad[2] else None
        return None, gx, gy


@implements(np.where)
def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Elements of x where `condition` is true, else of y (all three broadcast)."""
    return Where.apply(as_operand(condition), x, y)
