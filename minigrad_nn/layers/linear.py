"""The fully connected layer: `Linear`, also called `Affine` (the book's name)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import Tensor

from .. import functional, init
from ..module import Module, Parameter


class Linear(Module):
    """Affine map y = x @ W + b (the book's Affine layer); W has shape (in_features, out_features).

    Weight and bias start uniform in ±1/√in_features (PyTorch's default bound). `seed=` or `rng=`
    make this reproducible (two layers built with the same seed are equal); with neither, the
    values come from minigrad's default generator (`mg.manual_seed` resets it)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.zeros((self.in_features, self.out_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng=init.make_rng(seed, rng))

    def reset_parameters(
        self, seed: int | None = None, rng: np.random.Generator | None = None
    ) -> None:
        """Draw weight and bias again, uniform in ±1/√in_features."""
        rng = init.make_rng(seed, rng)
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features else 0.0
        init.uniform_(self.weight, -bound, bound, rng=rng)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def forward(self, x: Any) -> Tensor:
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


#: The book's name for the same layer.
Affine = Linear
