"""AdaGrad: per-coordinate step sizes shrinking with the summed squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import Tensor

from .optimizer import Optimizer, Params, check_number


class Adagrad(Optimizer):
    """s ← s + g², θ ← θ - lr_t·g / (√s + ε), lr_t = lr / (1 + (t-1)·lr_decay), as in PyTorch.

    s starts at `initial_accumulator_value`; the book's AdaGrad uses eps=1e-7.
    """

    def __init__(
        self,
        params: Params,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            check_number(name, group[name])

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict) -> None:
        if not state:
            state["step"] = 0
            state["sum"] = np.full_like(p.data, float(group["initial_accumulator_value"]))
        state["step"] += 1
        lr = float(group["lr"]) / (1.0 + (state["step"] - 1) * float(group["lr_decay"]))
        if group["weight_decay"]:
            grad = self._decayed(p.data, grad, float(group["weight_decay"]))
        total, tmp = state["sum"], self._temp(grad)
        total += np.multiply(grad, grad, out=tmp)
        std = np.sqrt(total, out=tmp)
        std += float(group["eps"])
        step = np.divide(grad, std, out=tmp)
        step *= lr
        p.data -= step


AdaGrad = Adagrad  # the book's name
