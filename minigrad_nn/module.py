"""`Module` and `Parameter`: models as trees of modules that own parameters, found by attribute.

As in PyTorch, assigning a `Parameter` or a `Module` to an attribute registers it, so
`named_parameters()` can walk the tree and `state_dict()` can name every array (`fc1.weight`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

import minigrad as mg


class Parameter(mg.Tensor):
    """A Tensor that is a model's learnable parameter: it requires grad and is registered by the
    module it is assigned to."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, dtype: Any = None) -> None:
        super().__init__(data, dtype=dtype, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class LoadResult(NamedTuple):
    """What `load_state_dict(strict=False)` did not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class of layers and models: define `forward`, assign sub-modules and parameters as
    attributes in `__init__` (after `super().__init__()`), and call the module like a function."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # -- registration by attribute ---------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before Module.__init__() has run: call "
                "super().__init__() first in your module's __init__"
            )
        registries = (self._parameters, self._buffers, self._modules)
        if isinstance(value, Parameter):
            self._put(self._parameters, name, value)
        elif isinstance(value, Module):
            self._put(self._modules, name, value)
        elif value is None and any(name in r for r in registries):
            for registry in registries:
                if name in registry:
                    self._store(registry, name, None)
        elif name in self._buffers:
            self._store(self._buffers, name, _buffer_array(name, value))
        elif name in self._parameters or name in self._modules:
            kind = "a Parameter" if name in self._parameters else "a Module"
            raise TypeError(
                f"cannot assign {type(value).__name__} to {name!r}, which is {kind} "
                "(assign a Parameter/Module, or None)"
            )
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails (registered names are mirrored in __dict__, see
        # `_store`): look in the registries.
        for registry in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(registry)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if not self._forget(name):
            object.__delattr__(self, name)

    def _put(self, registry: OrderedDict[str, Any], name: str, value: Any) -> None:
        """`registry[name] = value`. A name already in `registry` keeps its place (as in
        PyTorch: replacing a Sequential's layer must not move it to the end); any other is first
        removed from everywhere else."""
        if name not in registry:
            self._forget(name)
        self._store(registry, name, value)

    def _store(self, registry: OrderedDict[str, Any], name: str, value: Any) -> None:
        """`registry[name] = value`, mirrored in the instance dict so that `self.weight` is a
        plain attribute lookup (a `__getattr__` call on every access costs a layer ~2 us)."""
        registry[name] = value
        self.__dict__[name] = value

    def _forget(self, name: str) -> bool:
        """Remove `name` from every registry and the instance dict; True if it was registered."""
        found = False
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                found = True
        self._non_persistent.discard(name)
        self.__dict__.pop(name, None)
        return found

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register `param` under `name` (None keeps the slot, like a bias that is turned off)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{name!r} must be a Parameter or None, got {type(param).__name__}")
        self._put(self._parameters, name, param)

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Register a non-learnable array (e.g. BatchNorm's running mean) that is saved in the
        state dict unless `persistent=False`."""
        self._forget(name)
        self._store(self._buffers, name, None if value is None else _buffer_array(name, value))
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register a sub-module under `name` (for names that are not identifiers)."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{name!r} must be a Module or None, got {type(module).__name__}")
        self._put(self._modules, name, module)

    # -- walking the tree ------------------------------------------------------------------

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every sub-module, depth first in definition order, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            if module._modules:  # most modules have none: skip building the list
                children = [
                    (f"{name}.{child_name}" if name else child_name, child)
                    for child_name, child in module._modules.items()
                    if child is not None
                ]
                stack.extend(reversed(children))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, module in self._modules.items():
            if module is not None:
                yield name, module

    def children(self) -> Iterator[Module]:
        for _, module in self.named_children():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs in definition order; a shared parameter appears once."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, param in module._parameters.items():
                if param is not None and id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Each parameter once, in definition order: `named_parameters` without building the
        parameters' names."""
        seen: set[int] = set()
        for module in self.modules() if recurse else (self,):
            for param in module._parameters.values():
                if param is not None and id(param) not in seen:
                    seen.add(id(param))
                    yield param

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for module_name, module in self.named_modules(prefix):
            for name, buffer in module._buffers.items():
                if buffer is not None:
                    yield (f"{module_name}.{name}" if module_name else name), buffer

    def buffers(self) -> Iterator[np.ndarray]:
        for _, buffer in self.named_buffers():
            yield buffer

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn` on every sub-module and then on this module (e.g. to initialise weights)."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    # -- modes and gradients ---------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode (Dropout drops, BatchNorm uses batch statistics) recursively."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Set evaluation mode recursively: `train(False)`."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget (or zero) every parameter's gradient."""
        for module in self.modules():  # (not parameters(): a shared one is simply visited twice)
            for param in module._parameters.values():
                if param is None or param.grad is None:
                    continue
                if set_to_none:
                    param.grad = None
                else:
                    param.grad.data.fill(0)

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Convert every parameter and floating buffer to a floating `dtype`, in place (same
        objects), as PyTorch's `to`: `to(np.float64)`, `to("cpu")`, `to("cpu", np.float32)`,
        `to(dtype=..., device=...)`. minigrad runs on the CPU, so "cpu" is accepted and changes
        nothing; another device is an error. Returns the module."""
        for arg in args:
            if (isinstance(arg, str) and _is_device(arg)) or isinstance(
                getattr(arg, "type", None), str
            ):  # "cpu", or a device object such as torch.device("cpu")
                device = arg
            elif dtype is None:
                dtype = arg
            else:
                raise TypeError(f"to() got two dtypes: {dtype!r} and {arg!r}")
        if device is not None and not _is_cpu(device):
            raise ValueError(
                f"device {device!r} is not available: minigrad computes with NumPy on the CPU "
                "(use 'cpu')"
            )
        if dtype is None:
            return self
        try:
            dtype = np.dtype(dtype)
        except TypeError as err:
            raise TypeError(f"to() expects a dtype or 'cpu', got {dtype!r}") from err
        if dtype.kind != "f":
            raise TypeError(f"parameters must stay floating point, got dtype {dtype}")
        for param in self.parameters():
            param.data = param.data.astype(dtype, copy=False)
            param.grad = None
        for module in self.modules():
            for name, buffer in module._buffers.items():
                if buffer is not None and buffer.dtype.kind == "f":
                    module._store(module._buffers, name, buffer.astype(dtype, copy=False))
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set `requires_grad` of every parameter (False freezes the module: the optimizer
        skips parameters without a gradient). Returns the module."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    def double(self) -> Module:
        return self.to(np.float64)

    def float(self) -> Module:
        return self.to(np.float32)

    # -- state -----------------------------------------------------------------------------

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Copies of every parameter and persistent buffer, by dotted name."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, param in self.named_parameters():
            state[name] = param.data.copy()
        for module_name, module in self.named_modules():
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    state[f"{module_name}.{name}" if module_name else name] = buffer.copy()
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> LoadResult:
        """Copy arrays from `state` into the parameters and buffers, in place (the optimizer
        keeps pointing at the same parameters, and each keeps its dtype).

        Every problem is found before anything changes: with `strict`, missing and unexpected
        keys are errors; mis-shaped arrays always are. One error lists them all."""
        own = self.state_dict()
        missing = [key for key in own if key not in state]
        unexpected = [key for key in state if key not in own]
        mis_shaped = [
            f"{key}: the checkpoint has shape {np.shape(state[key])}, the model {own[key].shape}"
            for key in own
            if key in state and np.shape(state[key]) != own[key].shape
        ]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mis_shaped:
            problems.append("mis-shaped: " + "; ".join(mis_shaped))
        if problems:
            raise RuntimeError(
                f"cannot load the state dict into {type(self).__name__}: " + " | ".join(problems)
            )
        targets = self._arrays_by_name()
        with mg.no_grad():
            for key, array in targets.items():
                if key in state:
                    _copy_into(array, state[key])
        return LoadResult(missing, unexpected)

    def _arrays_by_name(self) -> dict[str, Any]:
        """The live parameter Tensors and buffer arrays, by state-dict name."""
        targets: dict[str, Any] = dict(self.named_parameters())
        for module_name, module in self.named_modules():
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    targets[f"{module_name}.{name}" if module_name else name] = buffer
        return targets

    # -- printing --------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in `repr` (override in layers)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + "\n" + "\n".join(lines) + "\n)"


def _is_device(text: str) -> bool:
    """Whether `text` names a device (as PyTorch spells them), not a dtype."""
    return text.split(":")[0] in ("cpu", "cuda", "mps", "xpu", "meta", "xla", "hip")


def _is_cpu(device: Any) -> bool:
    return str(getattr(device, "type", device)).split(":")[0] == "cpu"


def _buffer_array(name: str, value: Any) -> np.ndarray:
    if isinstance(value, mg.Tensor):
        return value.data
    if isinstance(value, np.ndarray):
        return value
    raise TypeError(f"buffer {name!r} must be an ndarray or Tensor, got {type(value).__name__}")


def _copy_into(target: Any, value: Any) -> None:
    """Overwrite a parameter or buffer in place with `value`, keeping the target's dtype."""
    if isinstance(target, mg.Tensor):
        target.copy_(np.asarray(value))
    else:
        np.copyto(target, np.asarray(value), casting="unsafe")


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: sub-modules named "0", "1", ... in order."""

    def append(self, module: Module) -> _ModuleSequence:
        self.add_module(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(_ModuleSequence):
    """Modules applied one after the other: `Sequential(Linear(784, 50), ReLU(), ...)`.

    Indexable (`seq[0]`, `seq[1:]`), `len()`-able and iterable."""

    def __init__(self, *modules: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(modules):
                self.add_module(str(i), module)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[_list_index(index, len(items))][1]


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered (a plain list would hide them)."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index: int | slice) -> Any:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[_list_index(index, len(modules))]

    def __setitem__(self, index: int, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"ModuleList items must be Modules, got {type(module).__name__}")
        self._store(self._modules, str(_list_index(index, len(self))), module)  # keeps its place


def _list_index(index: int, length: int) -> int:
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for {length} modules")
    return index % length
