"""Loss modules over `nn.functional`: `CrossEntropyLoss` (the book's `SoftmaxWithLoss`) and
`MSELoss`."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from . import functional
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        functional._check_reduction(reduction)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax and cross-entropy fused (the book's Softmax-with-Loss): L = -Σ t·ln softmax(x),
    with backward (softmax(x) - t)/N for 'mean'. Targets are int class indices (N,) or
    probabilities (N, C); `label_smoothing` mixes t with the uniform distribution."""

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def forward(self, logits: Any, target: Any) -> Tensor:
        return functional.cross_entropy(logits, target, self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        parts = [super().extra_repr()]
        if self.label_smoothing:
            parts.append(f"label_smoothing={self.label_smoothing}")
        return ", ".join(p for p in parts if p)


#: The book's name for the same loss.
SoftmaxWithLoss = CrossEntropyLoss


class MSELoss(_Loss):
    """Mean squared error (x - t)², averaged over all elements (as PyTorch), or summed or kept
    elementwise with `reduction='sum'|'none'`."""

    def forward(self, x: Any, target: Any) -> Tensor:
        return functional.mse_loss(x, target, self.reduction)
