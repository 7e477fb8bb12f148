"""Stochastic gradient descent, with optional (Nesterov) momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import Tensor

from .optimizer import Optimizer, Params, check_flag, check_number


class SGD(Optimizer):
    """θ ← θ - lr·g, with g = ∇f + λθ; with momentum μ: b ← μb + (1-τ)g (b₁ = g), g ← b
    (or g + μb with `nesterov`). As in PyTorch; `lr` has no default (choose one)."""

    def __init__(
        self,
        params: Params,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                        weight_decay=weight_decay)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        check_number("lr", group["lr"])
        check_number("momentum", group["momentum"])
        check_number("dampening", group["dampening"])
        check_number("weight_decay", group["weight_decay"])
        check_flag("nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "nesterov momentum needs momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        if wd:
            grad = grad + wd * p.data  # g ← g + λθ (a new array: p.grad stays as it was)
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()  # b₁ = g
            else:
                buf *= mu  # b ← μb + (1-τ)g
                buf += (1 - group["dampening"]) * grad if group["dampening"] else grad
            grad = grad + mu * buf if group["nesterov"] else buf
        p.data -= lr * grad


class Momentum(SGD):
    """SGD with momentum μ = 0.9 and lr = 0.01 by default (the book's `Momentum`):
    v ← μv + g, θ ← θ - lr·v."""

    def __init__(
        self,
        params: Params,
        lr: float = 0.01,
        momentum: float = 0.9,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening,
                         nesterov=nesterov, weight_decay=weight_decay)
