"""RMSprop: steps scaled by a running root-mean-square of the gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import Tensor

from .optimizer import Optimizer, Params, check_flag, check_number


class RMSprop(Optimizer):
    """v ← αv + (1-α)g²; θ ← θ - lr·g / (√ṽ + ε), as in PyTorch.

    ṽ = v, or v - ḡ² with `centered` (ḡ ← αḡ + (1-α)g); with momentum μ the
    step is b ← μb + g/(√ṽ + ε), θ ← θ - lr·b.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            check_number(name, group[name])
        check_flag("centered", group["centered"])

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict) -> None:
        alpha, mu, lr = group["alpha"], group["momentum"], group["lr"]
        state["step"] = state.get("step", 0) + 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data  # g ← g + λθ
        square_avg = _buffer(state, "square_avg", grad)
        square_avg *= alpha  # v ← αv + (1-α)g²
        square_avg += (1 - alpha) * np.square(grad)
        if group["centered"]:
            grad_avg = _buffer(state, "grad_avg", grad)
            grad_avg *= alpha  # ḡ ← αḡ + (1-α)g
            grad_avg += (1 - alpha) * grad
            denom = np.sqrt(square_avg - np.square(grad_avg))  # √(v - ḡ²)
        else:
            denom = np.sqrt(square_avg)
        denom += group["eps"]
        if mu:
            buf = _buffer(state, "momentum_buffer", grad)
            buf *= mu  # b ← μb + g/(√ṽ + ε)
            buf += grad / denom
            p.data -= lr * buf
        else:
            p.data -= lr * grad / denom


def _buffer(state: dict[str, Any], name: str, like: np.ndarray) -> np.ndarray:
    """`state[name]`, created as zeros shaped like `like` on first use."""
    buf = state.get(name)
    if buf is None:
        buf = state[name] = np.zeros_like(like)
    return buf
