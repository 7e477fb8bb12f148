"""`Tensor`: an ndarray with a gradient and a link to the op that made it. No calculus here: the
operators and methods call the ops in `minigrad.ops`, where each derivative lives."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .autograd import Function, run_backward

#: The dtype of tensors made from Python numbers and lists.
DEFAULT_DTYPE = np.dtype(np.float32)


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """The ndarray behind `data` under minigrad's dtype policy.

    Python numbers and lists become float32 (bools stay bool); an ndarray keeps its dtype and is
    not copied; an explicit `dtype` wins."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, np.ndarray):
        return data if dtype is None else data.astype(dtype, copy=False)
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype == object:
        raise TypeError(f"cannot make a tensor from {type(data).__name__} {data!r}")
    if array.dtype.kind in "iuf" and not isinstance(data, np.generic):
        return array.astype(DEFAULT_DTYPE)
    return array


class Tensor:
    """A multi-dimensional array that remembers how it was computed, so that `backward()` can
    compute gradients with respect to it by the chain rule.

    `Tensor(data, dtype=None, requires_grad=False)`: `data` is a number, a nested list, an ndarray
    (kept without copy, as `torch.from_numpy`) or a Tensor. Python numbers default to float32."""

    __slots__ = (
        "__weakref__",
        "_creator",
        "_data",
        "_hooks",
        "_requires_grad",
        "_retains_grad",
        "_version",
        "grad",
        "name",
    )
    # With an ndarray on the left, NumPy defers to our reflected operators (`arr + t` is a
    # Tensor), and NumPy ufuncs applied to Tensors dispatch to our ops (`np.exp(t)`).
    __array_priority__ = 1000

    def __init__(
        self, data: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None
    ) -> None:
        self._data = as_array(data, dtype)
        self.grad: Tensor | None = None
        self._creator: Function | None = None
        self._version = 0
        self._retains_grad = False
        self._hooks: list[Callable[[Tensor], Any]] = []
        self.name = name
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Wrap an op's result: no checks, no copy (the hot path of every op)."""
        t = object.__new__(Tensor)
        t._data = data
        t.grad = None
        t._creator = None
        t._version = 0
        t._retains_grad = False
        t._hooks = []
        t.name = None
        t._requires_grad = requires_grad
        return t

    # -- attributes ------------------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """The ndarray holding the values. Assigning to it counts as an in-place change."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if value is self._data:  # `t.data -= u`: NumPy changed the array in place
            self._version += 1
            return
        array = as_array(value)
        if array.shape != self._data.shape and self._creator is not None:
            raise ValueError(
                f"cannot assign data of shape {array.shape} to a non-leaf tensor of shape "
                f"{self._data.shape}"
            )
        self._data = array
        self._version += 1

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor (and ops on it record a graph)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if flag and self._data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients; this one is "
                f"{self._data.dtype} (convert it first, e.g. t.astype(np.float32))"
            )
        if not flag and self._creator is not None:
            raise RuntimeError(
                "requires_grad can only be turned off on a leaf tensor; use .detach() instead"
            )
        self._requires_grad = bool(flag)

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-D)."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op on tensors requiring grad."""
        return self._creator is None

    @property
    def grad_fn(self) -> Function | None:
        """The op that produced this tensor, or None for a leaf."""
        return self._creator

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        return self._data.item()

    def numpy(self) -> np.ndarray:
        """The ndarray of values (shared, not copied)."""
        return self._data

    def tolist(self) -> Any:
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __dlpack__(self, **kwargs: Any) -> Any:
        """Share this tensor's memory through DLPack (`torch.from_dlpack(t)`, `np.from_dlpack(t)`),
        without a copy. As in PyTorch, a tensor that requires grad must be detached first: the
        consumer could write into memory the graph relies on without minigrad knowing."""
        if self._requires_grad:
            raise RuntimeError(
                "cannot export a tensor that requires grad through DLPack; use t.detach() first"
            )
        return self._data.__dlpack__(**kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._data.__dlpack_device__()

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """`np.exp(t)`, `arr * t` and other NumPy ufuncs on Tensors run minigrad's ops."""
        op = _UFUNC_OPS.get(ufunc)
        if method != "__call__" or kwargs or op is None:
            return NotImplemented
        return op(*inputs)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:  # any one-element tensor, as PyTorch (NumPy 2 wants 0-d)
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__  # tensors are hashed by identity, though == is elementwise

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = []
        if self._data.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self._data.dtype}")
        if self._creator is not None:
            extras.append(f"grad_fn=<{self._creator.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    # -- autograd --------------------------------------------------------------------------

    def backward(
        self, grad: Any = None, retain_graph: bool = False, create_graph: bool = False
    ) -> None:
        """Compute the gradient of this tensor with respect to every leaf that requires grad,
        adding it into their `.grad`. `grad` (dL/dself) may be omitted for one element."""
        run_backward([self], [grad], retain_graph or create_graph, create_graph)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's values, cut off from the graph."""
        return Tensor._make(self._data, False)

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
        self._hooks.append(hook)
        return _HookHandle(self._hooks, hook)

    # -- in-place changes (outside the graph) ------------------------------------------------

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_in_place()
        self._data[_index_arrays(index)] = as_array(value)
        self._version += 1

    def copy_(self, source: Any) -> Tensor:
        """Overwrite the values in place with `source` (broadcast to this shape)."""
        self._check_in_place()
        np.copyto(self._data, as_array(source), casting="same_kind")
        self._version += 1
        return self

    def fill_(self, value: float) -> Tensor:
        """Set every element to `value` in place."""
        self._check_in_place()
        self._data.fill(value)
        self._version += 1
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def _check_in_place(self) -> None:
        from .autograd import is_grad_enabled

        if self._requires_grad and is_grad_enabled():
            raise RuntimeError(
                "a tensor that requires grad cannot be modified in place while grad mode is on "
                "(it would corrupt the graph); do it inside `with mg.no_grad():`"
            )

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

    # -- PyTorch spellings (NumPy's `size` and `shape` attributes keep NumPy's meaning) ---------

    def dim(self) -> int:
        """The number of dimensions (`ndim`)."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements (`size`)."""
        return self._data.size

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
    """Returned by `register_hook`; `remove()` unregisters the hook."""

    def __init__(self, hooks: list[Any], hook: Any) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _compare(ufunc: np.ufunc, x: Any, y: Any) -> Tensor:
    return Tensor._make(np.asarray(ufunc(as_operand(x), as_operand(y))), False)


def as_operand(x: Any) -> Any:
    """The NumPy value of an op's argument: a Tensor's array; a Python or NumPy scalar as a
    Python scalar (so it never changes the result's dtype); a list as a float32 array."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, list | tuple):
        return as_array(x)
    return x


def _index_arrays(index: Any) -> Any:
    """An index with Tensors (and lists) replaced by ndarrays, as NumPy wants it."""
    if isinstance(index, tuple):
        return tuple(_index_arrays(i) for i in index)
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, list):
        return np.asarray(index)
    return index


# The op modules import Tensor, so they come after it.
from .ops import elementwise, linalg, reduce  # noqa: E402
from .ops import shape as shape_ops  # noqa: E402

_UFUNC_OPS: dict[np.ufunc, Callable[..., Tensor]] = {
    np.add: elementwise.add,
    np.subtract: elementwise.sub,
    np.multiply: elementwise.mul,
    np.true_divide: elementwise.div,
    np.power: elementwise.pow,
    np.negative: elementwise.neg,
    np.exp: elementwise.exp,
    np.log: elementwise.log,
    np.sqrt: elementwise.sqrt,
    np.absolute: elementwise.abs,
    np.tanh: elementwise.tanh,
    np.maximum: elementwise.maximum,
    np.minimum: elementwise.minimum,
    np.matmul: linalg.matmul,
    **{
        ufunc: functools.partial(_compare, ufunc)
        for ufunc in (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal)
    },
}
