"""Ready-made models: `MLP`, the book's `TwoLayerNet` grown to any number of hidden layers, and the
book's convolutional networks `SimpleConvNet` (chapter 7) and `DeepConvNet` (chapter 8)."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

import minigrad as mg

from . import init
from .layers import Affine, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sigmoid, Tanh
from .module import Module, Parameter, Sequential

__all__ = ["ACTIVATIONS", "MLP", "DeepConvNet", "SimpleConvNet", "TwoLayerNet"]

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


# -- the book's convolutional networks ----------------------------------------------------------

#: The book's SimpleConvNet convolution (chapter 7): 30 filters of 5x5, no padding, stride 1.
SIMPLE_CONV_PARAM = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}

#: The book's DeepConvNet convolutions (chapter 8). The fourth pads by 2, so that the three
#: poolings leave 4x4 maps of a 28x28 image: 28 -> 14 -> 16 -> 8 -> 4, and 64·4·4 features.
DEEP_CONV_PARAMS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


def _conv(channels: int, param: dict[str, int], rng: np.random.Generator) -> Conv2d:
    return Conv2d(
        channels, param["filter_num"], param["filter_size"], param["stride"], param["pad"], rng=rng
    )


def _init_book(layer: Conv2d | Affine, std: float | str, rng: np.random.Generator) -> None:
    """The book's initialisation: weights N(0, std²), biases 0. std="he" is √(2 / fan_in), the
    ReLU recommendation of chapter 6 (fan_in = the inputs of one output: C·kh·kw or features)."""
    if isinstance(layer, Conv2d):
        weight, bias = layer.weight, layer.bias
        fan_in = weight.size // weight.shape[0]
    else:  # the book's Affine: W (in, out), b
        weight, bias, fan_in = layer.W, layer.b, layer.in_features
    if isinstance(std, str):
        if std not in ("he", "relu"):
            raise ValueError(f"unknown weight_init_std {std!r}: a number, or 'he'")
        std = float(np.sqrt(2.0 / fan_in))
    init.normal_(weight, 0.0, std, rng=rng)
    if bias is not None:
        init.zeros_(bias)


def _spatial(input_dim: Sequence[int]) -> tuple[int, int, int]:
    dims = tuple(int(n) for n in input_dim)
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"input_dim must be (channels, height, width), got {tuple(input_dim)}")
    return dims  # type: ignore[return-value]


def _after(size: int, param: dict[str, int]) -> int:
    """Side of a convolution's output: (size + 2·pad - filter) / stride + 1."""
    out = (size + 2 * param["pad"] - param["filter_size"]) // param["stride"] + 1
    if out < 1:
        raise ValueError(f"a {size}-pixel side is too small for the convolution {param}")
    return out


class SimpleConvNet(Sequential):
    """The book's chapter 7 network: conv - ReLU - pool - affine - ReLU - affine.

    conv: `conv_param["filter_num"]` filters (30 of 5x5 by default); pool: 2x2 max, stride 2;
    then `hidden_size` (100) units and `output_size` (10) logits. Weights start N(0, 0.01²) as
    in the book (`weight_init_std="he"` gives He's √(2 / fan_in)), biases 0. Layers are named
    `conv1, relu1, pool1, flatten, fc1, relu2, fc2`. Input: images (N, C, H, W)."""

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_param: dict[str, int] | None = None,
        hidden_size: int = 100,
        output_size: int = 10,
        weight_init_std: float | str = 0.01,
        seed: int | None = None,
    ) -> None:
        channels, height, width = _spatial(input_dim)
        param = {**SIMPLE_CONV_PARAM, **(conv_param or {})}
        rng = mg.random.child_generator(seed)
        conv = _conv(channels, param, rng)
        pooled = (_after(height, param) // 2, _after(width, param) // 2)
        if min(pooled) < 1:
            raise ValueError(f"input_dim {tuple(input_dim)} is too small to pool after {param}")
        features = param["filter_num"] * pooled[0] * pooled[1]
        layers: OrderedDict[str, Module] = OrderedDict(
            conv1=conv,
            relu1=ReLU(),
            pool1=MaxPool2d(2, 2),
            flatten=Flatten(),
            fc1=Affine(features, hidden_size, rng=rng),
            relu2=ReLU(),
            fc2=Affine(hidden_size, output_size, rng=rng),
        )
        for name in ("conv1", "fc1", "fc2"):
            _init_book(layers[name], weight_init_std, rng)
        super().__init__(layers)
        self.input_dim, self.conv_param = (channels, height, width), param

    def extra_repr(self) -> str:
        return f"input_dim={self.input_dim}, conv_param={self.conv_param}"


class DeepConvNet(Sequential):
    """The book's chapter 8 network, 99.4 % on MNIST:

        (conv - ReLU - conv - ReLU - pool) x 3 - affine - ReLU - dropout - affine - dropout

    with six 3x3 convolutions of 16, 16, 32, 32, 64, 64 filters (`conv_params`, by default the
    book's `DEEP_CONV_PARAMS`: the fourth pads by 2), 2x2 max
    pooling, `hidden_size` (50) units, dropout 0.5, and He initialisation (N(0, 2 / fan_in),
    biases 0) throughout. Layers are named `conv1, relu1, conv2, relu2, pool1, ..., fc1, relu7,
    drop1, fc2, drop2`. `seed` fixes the weights and the dropout masks."""

    def __init__(
        self,
        input_dim: Sequence[int] = (1, 28, 28),
        conv_params: Sequence[dict[str, int]] | None = None,
        hidden_size: int = 50,
        output_size: int = 10,
        dropout: float = 0.5,
        seed: int | None = None,
    ) -> None:
        channels, height, width = _spatial(input_dim)
        conv_params = DEEP_CONV_PARAMS if conv_params is None else conv_params
        if len(conv_params) != 6:
            raise ValueError(f"DeepConvNet takes six convolutions, got {len(conv_params)}")
        rng = mg.random.child_generator(seed)
        layers: OrderedDict[str, Module] = OrderedDict()
        for i, param in enumerate(conv_params, start=1):
            layers[f"conv{i}"] = _conv(channels, param, rng)
            _init_book(layers[f"conv{i}"], "he", rng)
            layers[f"relu{i}"] = ReLU()
            channels, height, width = (
                param["filter_num"],
                _after(height, param),
                _after(width, param),
            )
            if i % 2 == 0:
                layers[f"pool{i // 2}"] = MaxPool2d(2, 2)
                height, width = height // 2, width // 2
                if min(height, width) < 1:
                    raise ValueError(f"input_dim {tuple(input_dim)} is too small for 3 poolings")
        layers["flatten"] = Flatten()
        layers["fc1"] = Affine(channels * height * width, hidden_size, rng=rng)
        layers["relu7"] = ReLU()
        layers["drop1"] = Dropout(dropout, rng=rng)
        layers["fc2"] = Affine(hidden_size, output_size, rng=rng)
        layers["drop2"] = Dropout(dropout, rng=rng)
        for name in ("fc1", "fc2"):
            _init_book(layers[name], "he", rng)
        super().__init__(layers)
        self.input_dim, self.dropout = _spatial(input_dim), float(dropout)

    def extra_repr(self) -> str:
        return f"input_dim={self.input_dim}, dropout={self.dropout}"
