"""`TensorBase`: how a Tensor holds its values, without the graph. The dtype policy, the
properties, conversions, the version counter shared by every alias of a tensor's memory, and the
in-place changes (PyTorch's rules). `Tensor` (tensor.py) adds the ops and the autograd."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy import generic

from . import grad_mode

if TYPE_CHECKING:
    from .function import Function
    from .tensor import Tensor

#: The dtype of tensors made from Python numbers and lists.
DEFAULT_DTYPE = np.dtype(np.float32)


def as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """The ndarray behind `data` under minigrad's dtype policy.

    Python numbers and lists become float32 (bools stay bool); an ndarray keeps its dtype and is
    not copied; an explicit `dtype` wins."""
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


class VersionCounter:
    """How many times a block of memory was written in place. A tensor and every alias of its
    memory (`detach()`, views made by reshape, transpose or slicing) share one counter, as in
    PyTorch: a Function records the counter of each array it saves, and backward refuses to run
    if the count moved, whichever alias the write went through."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0


class TensorBase:
    """The values of a Tensor and their bookkeeping; see `Tensor`."""

    __slots__ = (
        "__weakref__",
        "_creator",
        "_data",
        "_hooks",
        "_post_accumulate_hooks",
        "_requires_grad",
        "_retains_grad",
        "_version_counter",
        "grad",
        "name",
    )
    # With an ndarray on the left, NumPy defers to our reflected operators (`arr + t` is a
    # Tensor); NumPy's ufuncs and functions on Tensors dispatch to our ops (`Tensor`'s protocol).
    __array_priority__ = 1000

    def __init__(
        self, data: Any, dtype: Any = None, requires_grad: bool = False, name: str | None = None
    ) -> None:
        array = as_array(data._data if isinstance(data, TensorBase) else data, dtype)
        self._data = array
        self.grad: Tensor | None = None
        self._creator: Function | None = None
        # Created when first needed (an alias, a write, a save): most tensors never need one.
        self._version_counter: VersionCounter | None = None
        if isinstance(data, TensorBase) and array is data._data:  # an alias of data's memory
            self._version_counter = data._shared_version_counter()
        self._retains_grad = False
        self._hooks: tuple[Callable[[Tensor], Any], ...] | list[Callable[[Tensor], Any]] = ()
        self._post_accumulate_hooks: tuple[Callable[[Tensor], None], ...] | list[Any] = ()
        self.name = name
        self._requires_grad = False
        self.requires_grad = requires_grad

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Wrap an op's result: no checks, no copy (the hot path of every op)."""
        t = object.__new__(cls)
        t._data = data
        t.grad = None
        t._creator = None
        t._version_counter = None
        t._retains_grad = False
        t._hooks = ()
        t._post_accumulate_hooks = ()
        t.name = None
        t._requires_grad = requires_grad
        return t

    # -- attributes ------------------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """The ndarray holding the values (shared, not copied).

        `t.data -= u` and `t.data = array` count as writes (they go through this property);
        a write into the ndarray itself (`t.data[0] = 1`) is NumPy's business and is not seen:
        use `t[0] = 1` or the in-place methods under `no_grad` instead."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if value is self._data:  # `t.data -= u`: NumPy changed the array in place
            self._bump_version()
            return
        array = as_array(value._data if isinstance(value, TensorBase) else value)
        if array.shape != self._data.shape and self._creator is not None:
            raise ValueError(
                f"cannot assign data of shape {array.shape} to a non-leaf tensor of shape "
                f"{self._data.shape}"
            )
        if np.may_share_memory(array, self._data):  # a view of the same memory: a write
            self._data = array
            self._bump_version()
        else:  # new memory: arrays saved from the old one are intact and keep the old counter
            self._data = array
            self._version_counter = None

    @property
    def _version(self) -> int:
        """How many in-place writes this tensor's memory has seen (through any alias)."""
        counter = self._version_counter
        return 0 if counter is None else counter.value

    def _shared_version_counter(self) -> VersionCounter:
        """This memory's version counter, created on first use, to give to an alias or a graph."""
        counter = self._version_counter
        if counter is None:
            counter = self._version_counter = VersionCounter()
        return counter

    def _bump_version(self) -> None:
        self._shared_version_counter().value += 1

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

    def dim(self) -> int:
        """The number of dimensions (`ndim`; PyTorch's spelling)."""
        return self._data.ndim

    def numel(self) -> int:
        """The number of elements (`size`; PyTorch's spelling)."""
        return self._data.size

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

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:  # any one-element tensor, as PyTorch (NumPy 2 wants 0-d)
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

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

    # -- in place: the same object, the same array, one more version ------------------------

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_in_place(value, "item assignment")
        self._data[index_arrays(index)] = as_operand(value)
        self._bump_version()

    def __iadd__(self, other: Any) -> Tensor:
        return self._in_place(np.add, other, "+=")

    def __isub__(self, other: Any) -> Tensor:
        return self._in_place(np.subtract, other, "-=")

    def __imul__(self, other: Any) -> Tensor:
        return self._in_place(np.multiply, other, "*=")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._in_place(np.true_divide, other, "/=")

    def add_(self, other: Any) -> Tensor:
        """self += other, in place (PyTorch's `add_`)."""
        return self._in_place(np.add, other, "add_")

    def sub_(self, other: Any) -> Tensor:
        """self -= other, in place."""
        return self._in_place(np.subtract, other, "sub_")

    def mul_(self, other: Any) -> Tensor:
        """self *= other, in place."""
        return self._in_place(np.multiply, other, "mul_")

    def div_(self, other: Any) -> Tensor:
        """self /= other, in place."""
        return self._in_place(np.true_divide, other, "div_")

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        """Limit the values to [min, max] in place; either bound may be None."""
        if min is None and max is None:
            raise ValueError("clamp_ needs at least one of min and max")
        self._check_in_place(None, "clamp_")
        np.clip(self._data, as_operand(min), as_operand(max), out=self._data)
        self._bump_version()
        return self

    clip_ = clamp_

    def copy_(self, source: Any) -> Tensor:
        """Overwrite the values in place with `source` (broadcast to this shape)."""
        self._check_in_place(source, "copy_")
        np.copyto(self._data, as_operand(source), casting="same_kind")
        self._bump_version()
        return self

    def fill_(self, value: Any) -> Tensor:
        """Set every element to `value` in place."""
        self._check_in_place(value, "fill_")
        self._data.fill(as_operand(value))
        self._bump_version()
        return self

    def zero_(self) -> Tensor:
        """Set every element to 0 in place."""
        return self.fill_(0)

    def _in_place(self, ufunc: np.ufunc, other: Any, what: str) -> Tensor:
        self._check_in_place(other, what)
        try:
            ufunc(self._data, as_operand(other), out=self._data, casting="same_kind")
        except (ValueError, TypeError) as error:  # a shape or dtype that does not fit self
            kind = ValueError if isinstance(error, ValueError) else TypeError
            raise kind(
                f"{what} on a tensor of shape {self.shape} and dtype {self.dtype}: {error}"
            ) from error
        self._bump_version()
        return self

    def _check_in_place(self, other: Any, what: str) -> None:
        """PyTorch's rules, checked before anything changes. In grad mode an in-place change may
        not touch a tensor that requires grad: a leaf's values are what its gradient is taken
        at, and a computed tensor's old values may be what its graph needs. Changing a constant
        with a value that requires grad would need the change recorded, which minigrad does not
        do. Inside `no_grad` anything goes (the optimizer's update: `p -= lr * p.grad`)."""
        if not grad_mode.grad_enabled.get():
            return
        if self._requires_grad:
            if self._creator is None:
                raise RuntimeError(
                    f"a leaf tensor that requires grad cannot be changed in place ({what}) while "
                    "grad mode is on; do it inside `with mg.no_grad():` (as an update "
                    "`p -= lr * p.grad` is), or use an out-of-place op (`y = x + u`)"
                )
            raise RuntimeError(
                f"in-place {what} on a tensor computed by {self._creator.name} is not supported "
                "while grad mode is on: the graph would lose the values it had; write it out of "
                "place (`y = y + u`), or do it inside `with mg.no_grad():`"
            )
        if isinstance(other, TensorBase) and other._requires_grad:
            raise RuntimeError(
                f"in-place {what} with a value that requires grad into a tensor that does not is "
                "not recorded by minigrad: write it out of place (`y = y + u`), or do it inside "
                "`with mg.no_grad():`"
            )


def as_operand(x: Any) -> Any:
    """The NumPy value of an op's argument: a Tensor's array; a Python or NumPy scalar as a
    Python scalar (so it never changes the result's dtype); a list as a float32 array."""
    if isinstance(x, TensorBase):
        return x._data
    if isinstance(x, generic):  # a NumPy scalar
        return x.item()
    if isinstance(x, (list, tuple)):
        return as_array(x)
    return x


def index_arrays(index: Any) -> Any:
    """An index with Tensors (and lists) replaced by ndarrays, as NumPy wants it."""
    if isinstance(index, tuple):
        return tuple(index_arrays(i) for i in index)
    if isinstance(index, TensorBase):
        return index._data
    if isinstance(index, list):
        return np.asarray(index)
    return index


# The one import cycle of minigrad, closed here: Tensor's operators and methods call the ops,
