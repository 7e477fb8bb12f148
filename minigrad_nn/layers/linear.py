"""Fully connected layers: `Linear`, PyTorch's exactly, and `Affine`, the book's."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad import Tensor

from .. import functional, init
from ..module import Module, Parameter


class Linear(Module):
    """y = x @ Wᵀ + b, PyTorch's `nn.Linear`: `weight` of shape (out_features, in_features),
    `bias` of shape (out_features,), both uniform in ±1/√in_features. A PyTorch model's
    `state_dict` (as arrays) loads into the same minigrad model, and back.

    `seed=` or `rng=` make the initial values reproducible (two layers built with the same seed
    are equal); with neither they come from minigrad's default generator (`mg.manual_seed`)."""

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
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng=init.make_rng(seed, rng))

    def reset_parameters(
        self, seed: int | None = None, rng: np.random.Generator | None = None
    ) -> None:
        """Draw weight and bias again, uniform in ±1/√in_features."""
        _uniform_fan_in(self, self.weight, self.bias, init.make_rng(seed, rng))

    def forward(self, x: Any) -> Tensor:
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Affine(Module):
    """y = x @ W + b, the book's Affine layer: `W` of shape (in_features, out_features), `b` of
    shape (out_features,), both uniform in ±1/√in_features (as `Linear`).

    The same map as `Linear` with the weight stored transposed, as chapter 5 writes it; use
    `Linear` for PyTorch's layout and state dicts."""

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
        self.W = Parameter(np.zeros((self.in_features, self.out_features), dtype=dtype))
        if bias:
            self.b = Parameter(np.zeros(self.out_features, dtype=dtype))
        else:
            self.register_parameter("b", None)
        self.reset_parameters(rng=init.make_rng(seed, rng))

    def reset_parameters(
        self, seed: int | None = None, rng: np.random.Generator | None = None
    ) -> None:
        """Draw W and b again, uniform in ±1/√in_features."""
        _uniform_fan_in(self, self.W, self.b, init.make_rng(seed, rng))

    def forward(self, x: Any) -> Tensor:
        return functional.affine(x, self.W, self.b)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.b is not None}"
        )


def _uniform_fan_in(
    layer: Linear | Affine, weight: Parameter, bias: Parameter | None, rng: np.random.Generator
) -> None:
    """PyTorch's default for a fully connected layer: weight, then bias, uniform in ±1/√fan_in."""
    bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features else 0.0
    init.uniform_(weight, -bound, bound, rng=rng)
    if bias is not None:
        init.uniform_(bias, -bound, bound, rng=rng)
