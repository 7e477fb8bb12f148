"""Adam and AdamW: bias-corrected first and second moment estimates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import Tensor

from .optimizer import Optimizer, Params, check_flag, check_number


class Adam(Optimizer):
    """m ← β₁m + (1-β₁)g, v ← β₂v + (1-β₂)g², θ ← θ - lr·m̂/(√v̂ + ε) with
    m̂ = m/(1-β₁ᵗ), v̂ = v/(1-β₂ᵗ) (v̂ from max(v) with `amsgrad`), as in PyTorch.

    `weight_decay` adds λθ to the gradient (L2); AdamW decays θ directly instead.
    """

    decoupled_weight_decay = False

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {betas!r}")
        check_number("betas[0]", betas[0], high=1.0)
        check_number("betas[1]", betas[1], high=1.0)
        for name in ("lr", "eps", "weight_decay"):
            check_number(name, group[name])
        check_flag("amsgrad", group["amsgrad"])

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict) -> None:
        lr, wd = float(group["lr"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        if wd and self.decoupled_weight_decay:
            p.data *= 1.0 - lr * wd
        elif wd:
            grad = self._decayed(p.data, grad, wd)
        tmp = self._temp(grad)
        exp_avg, exp_avg_sq = _update_moments(state, grad, beta1, beta2, tmp)
        second = _running_max(state, exp_avg_sq) if group["amsgrad"] else exp_avg_sq
        denom = np.sqrt(second, out=tmp)
        denom /= math.sqrt(1.0 - beta2**t)
        denom += float(group["eps"])
        step = np.divide(exp_avg, denom, out=tmp)
        step *= lr / (1.0 - beta1**t)
        p.data -= step


class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ(1 - lr·λ) before the Adam step (λ = 0.01)."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)


def _update_moments(state: dict[str, Any], grad: np.ndarray, beta1: float, beta2: float,
                    tmp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """m ← β₁m + (1-β₁)g and v ← β₂v + (1-β₂)g², in place; returns (m, v)."""
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg *= beta1
    exp_avg += np.multiply(grad, 1.0 - beta1, out=tmp)
    exp_avg_sq *= beta2
    np.multiply(grad, grad, out=tmp)
    tmp *= 1.0 - beta2
    exp_avg_sq += tmp
    return exp_avg, exp_avg_sq


def _running_max(state: dict[str, Any], exp_avg_sq: np.ndarray) -> np.ndarray:
    """AMSGrad's v_max ← max(v_max, v), kept in the state (created on first use)."""
    v_max = state.get("max_exp_avg_sq")
    if v_max is None:
        v_max = state["max_exp_avg_sq"] = exp_avg_sq.copy()
        return v_max
    return np.maximum(v_max, exp_avg_sq, out=v_max)
