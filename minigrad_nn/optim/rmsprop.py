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
        alpha, mu, lr = float(group["alpha"]), float(group["momentum"]), float(group["lr"])
        state["step"] = state.get("step", 0) + 1
        if group["weight_decay"]:
            grad = self._decayed(p.data, grad, float(group["weight_decay"]))
        tmp = self._temp(grad)
        square_avg = _buffer(state, "square_avg", grad)
        square_avg *= alpha
        np.multiply(grad, grad, out=tmp)
        tmp *= 1.0 - alpha
        square_avg += tmp
        denom = _centered_rms(state, grad, alpha, tmp) if group["centered"] else \
            np.sqrt(square_avg, out=tmp)
        denom += float(group["eps"])
        step = np.divide(grad, denom, out=tmp)
        if mu:
            buf = _buffer(state, "momentum_buffer", grad)
            buf *= mu
            buf += step
            step = np.multiply(buf, lr, out=tmp)
        else:
            step *= lr
        p.data -= step


def _centered_rms(state: dict[str, Any], grad: np.ndarray, alpha: float,
                  out: np.ndarray) -> np.ndarray:
    """√(v - ḡ²) after ḡ ← αḡ + (1-α)g, written into `out`."""
    grad_avg = _buffer(state, "grad_avg", grad)
    grad_avg *= alpha
    grad_avg += np.multiply(grad, 1.0 - alpha, out=out)
    variance = np.subtract(state["square_avg"], np.square(grad_avg, out=out), out=out)
    return np.sqrt(variance, out=out)


def _buffer(state: dict[str, Any], name: str, like: np.ndarray) -> np.ndarray:
    """`state[name]`, created as zeros shaped like `like` on first use."""
    buf = state.get(name)
    if buf is None:
        buf = state[name] = np.zeros_like(like)
    return buf
