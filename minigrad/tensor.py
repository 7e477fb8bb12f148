"""`Tensor`: an ndarray with a gradient and a link to the op that made it. No calculus here: the
operators and methods call the ops in `minigrad.ops`, where each derivative lives. What does not
involve the graph (storage, properties, in-place changes) is in `TensorBase`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .tensor_base import (
    DEFAULT_DTYPE,
    TensorBase,
    VersionCounter,
    as_array,
    as_operand,
    index_arrays,
)

__all__ = ["DEFAULT_DTYPE", "Tensor", "VersionCounter", "as_array", "as_operand", "index_arrays"]


class Tensor(TensorBase):
    """A multi-dimensional array that remembers how it was computed, so that `backward()` can
    compute gradients with respect to it by the chain rule.

    `Tensor(data, dtype=None, requires_grad=False)`: `data` is a number, a nested list, an ndarray
    (kept without copy, as `torch.from_numpy`) or a Tensor. Python numbers default to float32."""

    __slots__ = ()

    # -- NumPy protocol: `np.exp(t)`, `arr * t`, `np.where(c, t, u)`, `np.concatenate([t, u])` run
    # minigrad's ops (numpy_protocol.py); a NumPy function without one raises TypeError.

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return numpy_protocol.call_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return numpy_protocol.call_function(func, types, args, kwargs)

    # -- autograd --------------------------------------------------------------------------

    def backward(
        self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad,
        adding it into their `.grad`. `grad` (dL/dself) may be omitted for one element."""
        run_backward([self], [grad], retain_graph or create_graph, create_graph)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's values (and version counter), cut off from the graph."""
        t = Tensor._make(self._data, False)
        t._version_counter = self._shared_version_counter()
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set `requires_grad` in place; returns self."""
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if self._creator is not None:
            self._retains_grad = True

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (`.grad = None`)."""
        self.grad = None

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call `hook(grad)` when this tensor's gradient is computed; a returned tensor replaces
        the gradient. Returns a handle whose `remove()` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if not isinstance(self._hooks, list):
            self._hooks = []
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[[Tensor], None]) -> _HookHandle:
        """Call `hook(self)` once per backward, as soon as this leaf's `.grad` holds the whole
        gradient of that backward (PyTorch's spelling; DistributedDataParallel starts a bucket's
        reduction from it while backward goes on). The hook returns None; it may read and
        modify `self.grad` in place. Returns a handle whose `remove()` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._creator is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors (only a "
                "leaf accumulates into .grad); use register_hook to see a non-leaf's gradient"
            )
        if not isinstance(self._post_accumulate_hooks, list):
            self._post_accumulate_hooks = []
        self._post_accumulate_hooks.append(hook)
        hooks.post_accumulate_registered += 1
        return _HookHandle(self._post_accumulate_hooks, hook, counted=True)

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D)."""
        return self.transpose()

    # -- operators ---------------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return elementwise.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return elementwise.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return elementwise.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return elementwise.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return elementwise.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return elementwise.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return elementwise.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return elementwise.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return elementwise.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return elementwise.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return linalg.matmul(other, self)

    def __neg__(self) -> Tensor:
        return elementwise.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return elementwise.abs(self)

    def __getitem__(self, index: Any) -> Tensor:
        return shape_ops.getitem(self, index)

    # Comparisons give bool tensors and record no graph.
    def __lt__(self, other: Any) -> Tensor:
        return _compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _compare(np.greater_equal, self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.not_equal, self, other)

    __hash__ = object.__hash__  # tensors are hashed by identity, though == is elementwise

    # -- PyTorch spellings (NumPy's `size` and `shape` attributes keep NumPy's meaning) ---------

    def add(self, other: Any) -> Tensor:
        return elementwise.add(self, other)

    def sub(self, other: Any) -> Tensor:
        return elementwise.sub(self, other)

    def mul(self, other: Any) -> Tensor:
        return elementwise.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return elementwise.div(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return elementwise.pow(self, exponent)

    def matmul(self, other: Any) -> Tensor:
        return linalg.matmul(self, other)

    # -- methods (each is also a function, e.g. mg.exp(t)) -----------------------------------

    def exp(self) -> Tensor:
        return elementwise.exp(self)

    def log(self) -> Tensor:
        return elementwise.log(self)

    def sqrt(self) -> Tensor:
        return elementwise.sqrt(self)

    def abs(self) -> Tensor:
        return elementwise.abs(self)

    def tanh(self) -> Tensor:
        return elementwise.tanh(self)

    def sigmoid(self) -> Tensor:
        return elementwise.sigmoid(self)

    def relu(self) -> Tensor:
        return elementwise.relu(self)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return elementwise.clip(self, min, max)

    clamp = clip

    def clone(self) -> Tensor:
        return elementwise.clone(self)

    def astype(self, dtype: Any) -> Tensor:
        return elementwise.astype(self, dtype)

    def float(self) -> Tensor:
        """A float32 copy (or self when already float32)."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """A float64 copy (or self when already float64)."""
        return self.astype(np.float64)

    def sum(self, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        return reduce.sum(self, axis, keepdims, **torch_names)

    def mean(self, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        return reduce.mean(self, axis, keepdims, **torch_names)

    def max(self, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        return reduce.max(self, axis, keepdims, **torch_names)

    def min(self, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        return reduce.min(self, axis, keepdims, **torch_names)

    def logsumexp(self, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        return reduce.logsumexp(self, axis, keepdims, **torch_names)

    def argmax(self, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        return reduce.argmax(self, axis, keepdims, **torch_names)

    def argmin(self, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
        return reduce.argmin(self, axis, keepdims, **torch_names)

    def reshape(self, *shape: Any) -> Tensor:
        return shape_ops.reshape(self, *shape)

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        return shape_ops.transpose(self, *axes)

    def permute(self, *axes: Any) -> Tensor:
        return shape_ops.transpose(self, *axes)

    def swapaxes(self, axis1: int, axis2: int) -> Tensor:
        return shape_ops.swapaxes(self, axis1, axis2)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return shape_ops.flatten(self, start_dim, end_dim)

    def squeeze(self, axis: Any = None, **torch_names: Any) -> Tensor:
        return shape_ops.squeeze(self, axis, **torch_names)

    def unsqueeze(self, axis: int) -> Tensor:
        return shape_ops.unsqueeze(self, axis)

    def broadcast_to(self, *shape: Any) -> Tensor:
        return shape_ops.broadcast_to(self, *shape)

    expand = broadcast_to


class _HookHandle:
    """Returned by `register_hook` and `register_post_accumulate_grad_hook`; `remove()`
    unregisters the hook (a post-accumulate hook is `counted` in `hooks`)."""

    def __init__(self, registered: list[Any], hook: Any, counted: bool = False) -> None:
        self._hooks, self._hook, self._counted = registered, hook, counted

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)
            if self._counted:
                hooks.post_accumulate_registered -= 1


def _compare(ufunc: np.ufunc, x: Any, y: Any) -> Tensor:
    return Tensor._make(np.asarray(ufunc(as_operand(x), as_operand(y))), False)


# and `backward` the engine, which all make Tensors. They are imported once Tensor exists.
from . import hooks, numpy_protocol  # noqa: E402
from .autograd import run_backward  # noqa: E402
from .ops import elementwise, linalg, reduce  # noqa: E402
from .ops import shape as shape_ops  # noqa: E402

# Comparisons as ufuncs (`np.less(t, 1)`, `arr < t`): bool tensors, no gradient.
for _ufunc in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal):
    numpy_protocol.implements(_ufunc)(functools.partial(_compare, _ufunc))
