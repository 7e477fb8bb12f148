"""Activation layers: thin modules over `nn.functional`."""

from __future__ import annotations

from typing import Any

from minigrad import Tensor

from .. import functional
from ..module import Module


class ReLU(Module):
    """max(x, 0) elementwise (the book's ReLU layer)."""

    def forward(self, x: Any) -> Tensor:
        return functional.relu(x)


class Sigmoid(Module):
    """1 / (1 + e⁻ˣ) elementwise (the book's Sigmoid layer)."""

    def forward(self, x: Any) -> Tensor:
        return functional.sigmoid(x)


class Tanh(Module):
    """tanh x elementwise."""

    def forward(self, x: Any) -> Tensor:
        return functional.tanh(x)


class Softmax(Module):
    """e^x / Σ e^x along `axis` (`dim=` accepted as PyTorch's spelling)."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis if dim is None else dim

    def forward(self, x: Any) -> Tensor:
        return functional.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """x - ln Σ e^x along `axis` (`dim=` accepted as PyTorch's spelling)."""

    def __init__(self, axis: int = -1, *, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis if dim is None else dim

    def forward(self, x: Any) -> Tensor:
        return functional.log_softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"
