"""Gradient checking: the numerical gradient by central differences, and `gradcheck`, which
compares it with backpropagation. This is how the book proves a backward pass right."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .autograd import grad
from .grad_mode import no_grad
from .tensor import Tensor


class GradcheckError(RuntimeError):
    """Backpropagation and the numerical gradient disagree."""


def numerical_gradient(f: Callable[[Any], Any], x: Any, eps: float = 1e-4) -> np.ndarray:
    """Central differences (f(x+h) - f(x-h)) / 2h of a scalar function, element by element.

    `f` is called with `x` itself, perturbed in place (each element is restored after its turn),
    so `lambda _: model_loss()` works for a model's parameter. Returns an array of x's shape.
    The denominator is the difference actually stored, which matters in float32."""
    array = x._data if isinstance(x, Tensor) else x
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise TypeError(f"numerical_gradient needs a floating-point ndarray or Tensor, got {x!r}")
    gradient = np.zeros(array.shape, dtype=array.dtype)
    with no_grad():
        for index in np.ndindex(array.shape):
            original = array[index]
            try:
                array[index] = original + eps
                plus, f_plus = array[index], float(f(x))
                array[index] = original - eps
                minus, f_minus = array[index], float(f(x))
            finally:  # even when f raises: x may be a model's parameter
                array[index] = original
            gradient[index] = (f_plus - f_minus) / (float(plus) - float(minus))
    return gradient


def gradcheck(
    f: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check backprop against the numerical gradient for every floating-point input of `f`.

    Works in float64 on copies of the inputs. A non-scalar output is reduced to the scalar
    Σ w·f(x) with fixed random weights w, which checks the whole vector-Jacobian product.
    Returns True, or raises `GradcheckError` naming the input, the worst element and both values."""
    inputs = [inputs] if isinstance(inputs, Tensor | np.ndarray) else list(inputs)
    xs = [_float64_copy(x) for x in inputs]
    weights: list[np.ndarray] = []

    def scalar_output() -> Tensor:
        out = f(*xs)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: f must return a Tensor, got {type(out).__name__}")
        if not weights:
            weights.append(np.random.default_rng(seed).uniform(0.5, 1.5, out.shape))
        return (out * weights[0]).sum() if out.ndim else out * weights[0]

    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    analytic = grad(scalar_output(), [xs[i] for i in checked], allow_unused=True)
    for i, g in zip(checked, analytic, strict=True):
        x = xs[i]
        g_array = np.zeros_like(x.data) if g is None else g.data
        if g_array.shape != x.shape or g_array.dtype != x.dtype:
            raise GradcheckError(
                f"input {i}: gradient has shape {g_array.shape} and dtype {g_array.dtype}, "
                f"the input {x.shape} and {x.dtype}"
            )
        numeric = numerical_gradient(lambda _: scalar_output().item(), x, eps)
        _compare(i, g_array, numeric, atol, rtol)
    return True


def _float64_copy(x: Any) -> Any:
    """A float64 copy of a floating input (requiring grad unless it is a Tensor that doesn't)."""
    if isinstance(x, Tensor):
        if x.dtype.kind != "f":
            return x
        return Tensor(np.array(x.data, dtype=np.float64), requires_grad=x.requires_grad)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return Tensor(np.array(x, dtype=np.float64), requires_grad=True)
    return x


def _compare(i: int, analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> None:
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if error.size and (error.max() > 0 or not np.isfinite(analytic).all()):
        worst = np.unravel_index(
            np.nanargmax(np.where(np.isfinite(error), error, np.inf)), error.shape
        )
        raise GradcheckError(
            f"gradcheck failed for input {i} at index {tuple(int(j) for j in worst)}: "
            f"backprop gives {analytic[worst]!r}, the numerical gradient {numeric[worst]!r} "
            f"(atol={atol}, rtol={rtol})"
        )
