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
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        if not state:
            state.update(step=0, exp_avg=np.zeros_like(p.data), exp_avg_sq=np.zeros_like(p.data))
        state["step"] += 1
        t = state["step"]
        if wd and self.decoupled_weight_decay:
            p.data *= 1 - lr * wd  # AdamW: θ ← θ(1 - lr·λ)
        elif wd:
            grad = grad + wd * p.data  # Adam: g ← g + λθ
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1  # m ← β₁m + (1-β₁)g
        m += (1 - beta1) * grad
        # v ← β₂v + (1-β₂)g², then √v̂ + ε with v̂ = v/(1-β₂ᵗ) and the step m̂/(√v̂ + ε), all in
        # one temporary: fewer array-sized allocations measurably pay on large parameters
        # (benchmarks/bench_optim.py)
        work = np.square(grad)
        work *= 1 - beta2
        v *= beta2
        v += work
        if group["amsgrad"]:  # AMSGrad: v_max ← max(v_max, v), used in v's place
            v_max = state.get("max_exp_avg_sq")
            if v_max is None:
                v_max = state["max_exp_avg_sq"] = v.copy()
            else:
                np.maximum(v_max, v, out=v_max)
            v = v_max
        np.sqrt(v, out=work)
        work /= math.sqrt(1 - beta2**t)
        work += eps
        step = np.divide(m, work, out=work)
        step *= lr / (1 - beta1**t)  # θ ← θ - lr·m̂/(√v̂ + ε), m̂ = m/(1-β₁ᵗ)
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
