"""Learning-rate schedulers: each sets `group["lr"]` of an optimizer's parameter groups.

The epoch-based ones use PyTorch's closed forms of `last_epoch` (so they do not
compose by chaining two schedulers on one optimizer); `ReduceLROnPlateau`
divides the rate when a watched metric stops improving.
"""

from __future__ import annotations

import bisect
import math
import numbers
from collections.abc import Iterable
from typing import Any

from .optimizer import Optimizer, _copy, check_number

__all__ = [
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "MultiStepLR",
    "ReduceLROnPlateau",
    "StepLR",
]


class _Scheduler:
    """What every scheduler shares: the optimizer, `get_last_lr` and state dicts."""

    optimizer: Optimizer
    _last_lr: list[float]

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"expected an optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group as set by the last `step`."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Every attribute but the optimizer (numbers and lists: `nn.save` can store it)."""
        return {k: _copy(v) for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what `state_dict` returned (same scheduler type and number of groups)."""
        expected = set(self.state_dict())
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{type(self).__name__} state dict needs keys {sorted(expected)}, "
                             f"got {got}")
        for key, value in state_dict.items():
            mine = getattr(self, key)
            if isinstance(mine, list) and (not isinstance(value, list | tuple)
                                           or len(value) != len(mine)):
                raise ValueError(f"{key!r} must be a list of {len(mine)} values, got {value!r}")
        self.__dict__.update({k: _copy(v) for k, v in state_dict.items()})

    def _set_lrs(self, lrs: list[float]) -> None:
        groups = self.optimizer.param_groups
        if len(lrs) != len(groups):
            raise ValueError(f"scheduler has {len(lrs)} learning rates for {len(groups)} "
                             "parameter groups (was a group added after the scheduler?)")
        for group, lr in zip(groups, lrs, strict=True):
            group["lr"] = lr
        self._last_lr = list(lrs)


class LRScheduler(_Scheduler):
    """Base of the epoch-based schedules: lr_e = `closed_form(initial_lr, e)` at e = last_epoch.

    Creating one records `initial_lr` in each group and applies epoch 0.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        super().__init__(optimizer)
        _check_int("last_epoch", last_epoch, low=-1)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        for i, group in enumerate(groups):
            if "initial_lr" not in group:
                raise KeyError(f"param_groups[{i}] has no 'initial_lr', needed to resume "
                               f"at last_epoch={last_epoch}")
        self.base_lrs = [group["initial_lr"] for group in groups]
        self.last_epoch = last_epoch
        self.step()

    def closed_form(self, base_lr: float, epoch: int) -> float:
        """The learning rate at `epoch` for a group that started at `base_lr`."""
        raise NotImplementedError(f"{type(self).__name__} does not define its schedule")

    def get_lr(self) -> list[float]:
        """Each group's learning rate at the current `last_epoch`."""
        return [self.closed_form(base, self.last_epoch) for base in self.base_lrs]

    def step(self) -> None:
        """Advance one epoch and set every group's lr."""
        self.last_epoch += 1
        self._set_lrs(self.get_lr())


class StepLR(LRScheduler):
    """lr = base_lr · γ^⌊epoch / step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _check_int("step_size", step_size, low=1)
        check_number("gamma", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def closed_form(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class MultiStepLR(LRScheduler):
    """lr = base_lr · γ^(number of milestones ≤ epoch); a repeated milestone counts twice."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if not isinstance(milestones, Iterable):
            raise TypeError(f"milestones must be a list of ints, got {milestones!r}")
        self.milestones = sorted(milestones)
        for m in self.milestones:
            _check_int("milestone", m, low=0)
        check_number("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def closed_form(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** bisect.bisect_right(self.milestones, epoch)


class ExponentialLR(LRScheduler):
    """lr = base_lr · γ^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        check_number("gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def closed_form(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """lr = η_min + (base_lr - η_min)·(1 + cos(π·epoch / T_max)) / 2 (periodic past T_max)."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        check_number("T_max", T_max)
        if T_max <= 0:
            raise ValueError(f"invalid T_max: {T_max!r} (must be > 0)")
        check_number("eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def closed_form(self, base_lr: float, epoch: int) -> float:
        cosine = (1.0 + math.cos(math.pi * epoch / self.T_max)) / 2.0
        return self.eta_min + (base_lr - self.eta_min) * cosine


class ReduceLROnPlateau(_Scheduler):
    """lr ← max(lr·factor, min_lr) once the metric has not improved for `patience` steps.

    Improvement means below best·(1 - threshold) ('min', 'rel'), below best - threshold
    ('abs'), and the mirror images for 'max'; after a reduction, `cooldown` steps
    are not counted. Changes smaller than `eps` are skipped.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(optimizer)
        _check_choice("mode", mode, ("min", "max"))
        _check_choice("threshold_mode", threshold_mode, ("rel", "abs"))
        check_number("factor", factor, high=1.0)
        _check_int("patience", patience, low=0)
        _check_int("cooldown", cooldown, low=0)
        check_number("threshold", threshold)
        check_number("eps", eps)
        self.min_lrs = _per_group("min_lr", min_lr, len(optimizer.param_groups))
        self.mode, self.threshold_mode = mode, threshold_mode
        self.factor, self.patience, self.cooldown = factor, patience, cooldown
        self.threshold, self.eps = threshold, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def step(self, metric: float) -> None:
        """Record one epoch's `metric` (a number, or a one-element tensor) and maybe reduce lr."""
        current = float(metric)
        self.last_epoch += 1
        if self.is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def is_better(self, current: float) -> bool:
        """Whether `current` beats `best` by more than the threshold."""
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" else \
                self.best - self.threshold
            return current < bar
        bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" else \
            self.best + self.threshold
        return current > bar

    def _reduce(self) -> None:
        lrs = []
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            lrs.append(new if old - new > self.eps else group["lr"])
        self._set_lrs(lrs)


# ---------------------------------------------------------------------- checks


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < low:
        raise ValueError(f"invalid {name}: {value!r} (must be >= {low})")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"invalid {name}: {value!r} (must be one of {', '.join(choices)})")


def _per_group(name: str, value: Any, n_groups: int) -> list[float]:
    """One value per parameter group, from a number or a list of them."""
    values = list(value) if isinstance(value, list | tuple) else [value] * n_groups
    if len(values) != n_groups:
        raise ValueError(f"expected {n_groups} values of {name} (one per group), got {len(values)}")
    for v in values:
        check_number(name, v)
    return values
