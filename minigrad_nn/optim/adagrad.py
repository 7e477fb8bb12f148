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
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        state["step"] += 1
        lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p.data  # g ← g + λθ
        total = state["sum"]
        total += np.square(grad)  # s ← s + g²
        p.data -= lr * grad / (np.sqrt(total) + group["eps"])  # θ ← θ - lr·g/(√s + ε)


AdaGrad = Adagrad  # the book's name
