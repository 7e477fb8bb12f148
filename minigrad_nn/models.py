"""Ready-made models: `MLP`, the book's `TwoLayerNet` grown to any number of hidden layers."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

import minigrad as mg

from . import init
from .layers import Dropout, Linear, ReLU, Sigmoid, Tanh
from .module import Module, Parameter, Sequential

__all__ = ["ACTIVATIONS", "MLP", "TwoLayerNet"]

#: The activation layers `MLP` accepts, by name.
ACTIVATIONS: dict[str, type[Module]] = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


class MLP(Sequential):
    """A fully connected network: (Linear, activation[, Dropout]) per hidden size, then a Linear.

    `MLP((784, 50, 10))` is the book's TwoLayerNet. Layers are named `fc1`, `act1`, `drop1`, ...,
    so parameters are `fc1.weight`, `fc1.bias`, ...; `seed` fixes the initial weights and the
    dropout masks.

    `init="auto"` draws the weights as the book's chapter 6 recommends for the activation: He
    (Kaiming uniform, gain √2) before ReLU, Xavier (Glorot uniform) before sigmoid and tanh;
    biases keep Linear's uniform ±1/√fan_in. `init="default"` keeps Linear's initialisation
    for the weights too (PyTorch's uniform ±1/√fan_in). He init gives Adam on 784-100-100-10
    about +0.15 % test accuracy after 5 epochs (docs/recipes.md).
    """

    def __init__(
        self,
        sizes: Sequence[int] = (784, 50, 10),
        activation: str = "relu",
        dropout: float = 0.0,
        seed: int | None = None,
        init: str = "auto",
    ) -> None:
        sizes = _checked_sizes(sizes)
        if init not in ("auto", "default"):
            raise ValueError(f"unknown init {init!r}: expected 'auto' or 'default'")
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}: expected one of {', '.join(ACTIVATIONS)}"
            )
        rng = mg.random.child_generator(seed)
        layers: OrderedDict[str, Module] = OrderedDict()
        n_layers = len(sizes) - 1
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), start=1):
            layers[f"fc{i}"] = Linear(n_in, n_out, rng=rng)
            if init == "auto":
                _init_for_activation(layers[f"fc{i}"].weight, activation, rng)
            if i < n_layers:
                layers[f"act{i}"] = ACTIVATIONS[activation]()
                if dropout > 0:
                    layers[f"drop{i}"] = Dropout(dropout, rng=rng)
        super().__init__(layers)
        self.sizes, self.activation, self.dropout = sizes, activation, float(dropout)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, activation={self.activation!r}, dropout={self.dropout}"


class TwoLayerNet(MLP):
    """The book's two-layer network, Affine-ReLU-Affine: `MLP((input, hidden, output))`."""

    def __init__(
        self,
        input_size: int = 784,
        hidden_size: int = 50,
        output_size: int = 10,
        seed: int | None = None,
    ) -> None:
        super().__init__((input_size, hidden_size, output_size), seed=seed)


def _init_for_activation(weight: Parameter, activation: str, rng: np.random.Generator) -> None:
    """He init before ReLU, Xavier before sigmoid/tanh (the book's chapter 6)."""
    if activation == "relu":
        init.kaiming_uniform_(weight, nonlinearity="relu", rng=rng)
    else:
        init.xavier_uniform_(weight, rng=rng)


def _checked_sizes(sizes: Sequence[int]) -> tuple[int, ...]:
    """`sizes` as a tuple of at least two positive ints, or a ValueError saying what is wrong."""
    sizes = tuple(sizes)
    if len(sizes) < 2:
        raise ValueError(f"MLP needs at least an input and an output size, got {sizes}")
    if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 for n in sizes):
        raise ValueError(f"MLP sizes must be positive integers, got {sizes}")
    return tuple(int(n) for n in sizes)
