"""Layers that only move values around: `Flatten` and `Identity`."""

from __future__ import annotations

from typing import Any

import minigrad as mg
from minigrad import Tensor

from ..module import Module


class Flatten(Module):
    """Merge axes start_dim..end_dim into one; by default (N, ...) becomes (N, features)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Tensor:
        return mg.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a layer switched off)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x
