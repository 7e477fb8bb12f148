"""The optimizer base: parameter groups, per-parameter state, zero_grad and state dicts.

Subclasses give their defaults, check a group's hyper-parameters in
`_check_group`, and write the update rule for one parameter in `_update`, as the
formula reads (`buf *= mu; buf += g; p.data -= lr * buf`). Updates work on the
ndarrays directly (no graph), in place, in the parameter's dtype: Python floats
times a float32 array stay float32, and so does the state.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from minigrad import Tensor, enable_grad

ParamGroup = dict[str, Any]
Params = Iterable[Tensor] | Iterable[ParamGroup]


class Optimizer:
    """Holds `param_groups` (dicts of params + hyper-parameters) and `state[param]`."""

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[ParamGroup] = []
        if isinstance(params, Tensor | dict | set | frozenset):
            kind = "an unordered set" if isinstance(params, set | frozenset) else "a single"
            raise TypeError(
                "params must be an ordered iterable of Tensors or of dicts (parameter groups), "
                f"not {kind} {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join([*lines, ")"])

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group: ParamGroup) -> None:
        """Add a group of parameters; hyper-parameters it does not set come from `defaults`."""
        if not isinstance(param_group, dict):
            raise TypeError(f"a parameter group must be a dict, not {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' entry")
        group = {**self.defaults, **param_group}
        group["params"] = _checked_params(param_group["params"])
        self._check_group(group)
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def _check_group(self, group: ParamGroup) -> None:
        """Raise TypeError/ValueError naming a bad hyper-parameter of `group`."""

    # ------------------------------------------------------------------ stepping

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; return `closure()` if one is given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                self._update(p, grad.data, state, group)
        return loss

    def _update(
        self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: ParamGroup
    ) -> None:
        """Apply the update rule to one parameter, in place on `p.data`."""
        raise NotImplementedError(f"{type(self).__name__} does not define its update rule")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drop every gradient (`grad = None`), or with `set_to_none=False` zero it in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.data.fill(0)

    # ------------------------------------------------------------------ state dicts

    def state_dict(self) -> dict[str, Any]:
        """Copies of the state and hyper-parameters; parameters are named by integer index.

        `{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}`
        with only dicts, lists, tuples, ndarrays, numbers, strings and None, so
        `nn.save` can store it.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _copy(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {
            index[id(p)]: {k: _copy(v) for k, v in s.items()}
            for p, s in self.state.items()
            if id(p) in index and s
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and hyper-parameters saved by `state_dict` (checked before any change)."""
        groups, by_index = self._matched_groups(state_dict)
        state = {}
        for key, saved in state_dict["state"].items():
            if key not in by_index:
                raise ValueError(f"state refers to parameter index {key!r}, which no group holds")
            state[by_index[key]] = _loaded_state(saved, by_index[key], key)
        for group in groups:
            self._check_group(group)
        for current, new in zip(self.param_groups, groups, strict=True):
            current.clear()
            current.update(new)
        self.state = state

    def _matched_groups(self, state_dict: Any) -> tuple[list[ParamGroup], dict[Any, Tensor]]:
        """The saved groups with our parameters in them, and a map saved index -> parameter."""
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError(
                "an optimizer state dict has exactly the keys 'state' and 'param_groups'"
            )
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list | tuple) or not isinstance(state_dict["state"], dict):
            raise ValueError("'param_groups' must be a list and 'state' a dict")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        groups, by_index = [], {}
        for i, (saved, current) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            indices = saved.get("params") if isinstance(saved, dict) else None
            if not isinstance(indices, list | tuple) or len(indices) != len(current["params"]):
                size = len(indices) if isinstance(indices, list | tuple) else "no"
                raise ValueError(
                    f"parameter group {i}: the state dict has {size} parameters, "
                    f"this optimizer has {len(current['params'])}"
                )
            by_index.update(zip(indices, current["params"], strict=True))
            groups.append({**{k: _copy(v) for k, v in saved.items()}, "params": current["params"]})
        return groups, by_index


# ---------------------------------------------------------------------- helpers


def _checked_params(params: Any) -> list[Tensor]:
    """The group's parameters as a list, each a leaf Tensor, no repeats. A parameter that does
    not require grad is accepted (as in PyTorch: a frozen layer) and skipped by `step` while it
    has no gradient."""
    if isinstance(params, Tensor):
        params = [params]
    elif isinstance(params, set | frozenset):
        raise TypeError("optimizer parameters must be an ordered collection, not a set")
    elif not isinstance(params, Iterable):
        raise TypeError(f"optimizer parameters must be an iterable, not {type(params).__name__}")
    params = list(params)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"optimizer can only optimize Tensors, but params[{i}] is a "
                            f"{type(p).__name__}")
        if not p.is_leaf:
            raise ValueError(f"params[{i}] (shape {p.shape}) is not a leaf tensor; "
                             "optimize the tensor it was computed from")
    if len({id(p) for p in params}) != len(params):
        raise ValueError("a parameter appears more than once in a parameter group")
    return params


def _loaded_state(saved: Any, p: Tensor, key: Any) -> dict[str, Any]:
    """Copy one parameter's saved state, floating arrays in p's dtype, shapes checked."""
    if not isinstance(saved, dict):
        raise ValueError(f"state of parameter {key!r} must be a dict, not {type(saved).__name__}")
    state = {}
    for name, value in saved.items():
        if isinstance(value, np.ndarray):
            if value.shape != p.shape:
                raise ValueError(
                    f"state {name!r} of parameter {key!r} has shape {value.shape}, "
                    f"the parameter has shape {p.shape}"
                )
            dtype = p.data.dtype if np.issubdtype(value.dtype, np.floating) else value.dtype
            value = value.astype(dtype, copy=True)
        state[name] = _copy(value)
    return state


def _copy(value: Any) -> Any:
    """A copy deep enough that later in-place updates never reach it."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    return value


# ---------------------------------------------------------------------- hyper-parameter checks


def check_number(name: str, value: Any, low: float = 0.0, high: float | None = None) -> None:
    """Raise TypeError unless `value` is a real number, ValueError unless low <= value (< high)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not value >= low or (high is not None and not value < high):
        bound = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"invalid {name}: {value!r} (must be {bound})")


def check_flag(name: str, value: Any) -> None:
    """Raise TypeError unless `value` is a bool."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be a bool, got {value!r}")
