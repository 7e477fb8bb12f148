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
        alpha, mu = float(group["alpha"]), float(group["momentum"])
        state["step"] = state.get("step", 0) + 1
        _add_buffers(state, p.data, "square_avg", "momentum_buffer" if mu else "",
                     "grad_avg" if group["centered"] else "")
        if group["weight_decay"]:
            grad = self._decayed(p.data, grad, float(group["weight_decay"]))
        tmp = self._temp(grad)
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += _scaled_square(grad, 1.0 - alpha, tmp)
        denom = self._rms(state, grad, alpha, tmp)
        denom += float(group["eps"])
        step = np.divide(grad, denom, out=tmp)
        if mu:
            buf = state["momentum_buffer"]
            buf *= mu
            buf += step
            step = np.multiply(buf, float(group["lr"]), out=tmp)
        else:
            step *= float(group["lr"])
        p.data -= step

    @staticmethod
    def _rms(state: dict, grad: np.ndarray, alpha: float, tmp: np.ndarray) -> np.ndarray:
        """√v, or √(v - ḡ²) after ḡ ← αḡ + (1-α)g when centered; written into `tmp`."""
        grad_avg = state.get("grad_avg")
        if grad_avg is None:
            return np.sqrt(state["square_avg"], out=tmp)
        grad_avg *= alpha
        grad_avg += np.multiply(grad, 1.0 - alpha, out=tmp)
        variance = np.subtract(state["square_avg"], np.square(grad_avg, out=tmp), out=tmp)
        return np.sqrt(variance, out=tmp)


def _add_buffers(state: dict[str, Any], x: np.ndarray, *names: str) -> None:
    """Zero-filled state arrays for the named buffers that do not exist yet."""
    for name in names:
        if name and name not in state:
            state[name] = np.zeros_like(x)


def _scaled_square(grad: np.ndarray, scale: float, out: np.ndarray) -> np.ndarray:
    """scale·g², written into `out`."""
    np.multiply(grad, grad, out=out)
    out *= scale
    return out
