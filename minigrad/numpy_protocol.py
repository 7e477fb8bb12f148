"""NumPy's protocol for Tensors: NumPy's ufuncs and functions, given a Tensor, run minigrad's ops.

`np.exp(t)`, `arr * t`, `np.where(c, t, u)`, `np.concatenate([t, u])` and `np.sum(t, axis=0)`
return differentiable Tensors, so that a gradient rule written with NumPy calls records its
steps under `create_graph=True` and users' NumPy code keeps the graph. NumPy hands every call
with a Tensor among its arguments to `Tensor.__array_ufunc__` (ufuncs: arithmetic, exp, ...)
or `Tensor.__array_function__` (the rest), which look the NumPy callable up in the tables
below. What is not there raises TypeError naming it: nothing silently returns an ndarray that
dropped the graph (`np.asarray(t)` and `t.numpy()` are the explicit ways out).

An op module registers its NumPy counterparts with one line each:

    @implements(np.tensordot)          # called with NumPy's arguments, as the user passed them
    def tensordot(a, b, axes=2): ...

`out=`: a ufunc writing into a Tensor (`np.add(t, u, out=t)`) is an in-place change of that
Tensor, under the same rules as `t += u`; into an ndarray (`arr -= t`) it writes the values,
which is refused in grad mode when an input requires grad (the result would drop its gradient).
A NumPy function other than a ufunc returns a new Tensor and refuses `out=`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .grad_mode import grad_enabled
from .tensor_base import TensorBase, as_operand, index_arrays

#: NumPy function -> minigrad function taking NumPy's arguments (`__array_function__`).
HANDLED_FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {}
#: NumPy ufunc -> minigrad function of the ufunc's inputs (`__array_ufunc__`, method __call__).
HANDLED_UFUNCS: dict[np.ufunc, Callable[..., Any]] = {}
#: ufunc -> Tensor method for `ufunc.reduce` (`np.add.reduce(t, axis=0)` is `t.sum(axis=0)`).
REDUCTIONS = {np.add: "sum", np.maximum: "max", np.minimum: "min"}


def implements(numpy_function: Callable[..., Any]) -> Callable[[Callable], Callable]:
    """Decorator: the decorated function is what `numpy_function` does when given a Tensor."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        if isinstance(numpy_function, np.ufunc):
            HANDLED_UFUNCS[numpy_function] = function
        else:
            HANDLED_FUNCTIONS[numpy_function] = function
        return function

    return register


def reject(name: str, **arguments: Any) -> None:
    """Raise TypeError for the first NumPy argument given (not None) that minigrad cannot honour."""
    for key, value in arguments.items():
        if value is None:
            continue
        if key == "out":
            raise TypeError(
                f"{name}(..., out=...) on Tensors cannot write into an existing array: minigrad "
                "returns a new Tensor (drop out=, or use an in-place op such as t += u)"
            )
        raise TypeError(f"{name} on Tensors does not support the argument {key}={value!r}")


def _name(function: Any) -> str:
    module = getattr(function, "__module__", None) or "numpy"
    return f"{module}.{function.__name__}"


def call_function(
    func: Callable[..., Any], types: Sequence[type], args: Any, kwargs: dict[str, Any]
) -> Any:
    """`Tensor.__array_function__`: run the minigrad function registered for `func`."""
    if not all(issubclass(t, TensorBase | np.ndarray) for t in types):
        return NotImplemented  # another library's array type: let it answer
    implementation = HANDLED_FUNCTIONS.get(func)
    if implementation is None:
        raise TypeError(
            f"{_name(func)} has no minigrad op, so it cannot take a Tensor without dropping its "
            "gradient: use a minigrad op, or np.asarray(t) / t.numpy() for the values alone"
        )
    return implementation(*args, **kwargs)


def call_ufunc(ufunc: np.ufunc, method: str, inputs: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """`Tensor.__array_ufunc__`: `np.exp(t)`, `arr + t`, `arr -= t`, `np.add.reduce(t)`."""
    name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
    out = kwargs.pop("out", None)
    if method == "__call__" and ufunc in HANDLED_UFUNCS:
        reject(name, **kwargs)
        if out is None:
            return HANDLED_UFUNCS[ufunc](*inputs)
        return _call_into(ufunc, inputs, out, name)
    if method == "reduce" and ufunc in REDUCTIONS and out is None:
        (x,) = inputs
        axis, keepdims = kwargs.pop("axis", 0), kwargs.pop("keepdims", False)
        reject(name, **kwargs)
        return getattr(x, REDUCTIONS[ufunc])(axis=axis, keepdims=keepdims)
    if method == "at" and ufunc in HANDLED_UFUNCS:  # np.add.at(target, index, values)
        target, index, *values = inputs
        reject(name, **kwargs)
        operands = [as_operand(v) for v in values]
        _write(target, values, name, lambda array: ufunc.at(array, index_arrays(index), *operands))
        return None
    reject(name, out=out)
    raise TypeError(
        f"{name} has no minigrad op, so it cannot take a Tensor without dropping its gradient: "
        "use a minigrad op, or np.asarray(t) / t.numpy() for the values alone"
    )


def _call_into(ufunc: np.ufunc, inputs: Sequence[Any], out: tuple[Any, ...], name: str) -> Any:
    """A ufunc with `out=`: the values go into that array or Tensor, in place."""
    if len(out) != 1:
        raise TypeError(f"{name} on Tensors takes one out= array, got {len(out)}")
    target = out[0]
    operands = [as_operand(x) for x in inputs]
    _write(target, inputs, name, lambda array: ufunc(*operands, out=array))
    return target


def _write(target: Any, sources: Sequence[Any], name: str, write: Callable[[Any], Any]) -> None:
    """Apply `write` to `target`'s array: a Tensor's under the in-place rules (and one more
    version), an ndarray's only if no source that requires grad would lose its gradient."""
    needing_grad = [x for x in sources if isinstance(x, TensorBase) and x._requires_grad]
    if isinstance(target, TensorBase):
        target._check_in_place(next((x for x in needing_grad if x is not target), None), name)
        write(target._data)
        target._bump_version()
        return
    if needing_grad and grad_enabled.get():
        raise RuntimeError(
            f"{name} would write a value that requires grad into an ndarray (out=), dropping its "
            "gradient: write into a Tensor, use the returned Tensor instead of out=, or do it "
            "under `with mg.no_grad():` (or on .detach()) if the values alone are wanted"
        )
    write(target)
