"""Layers: `Linear` (`Affine`), activations, `Dropout`, `BatchNorm1d`, `Flatten`, `Identity`."""

from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .linear import Affine, Linear
from .regularization import BatchNorm1d, Dropout
from .shape import Flatten, Identity

__all__ = [
    "Affine",
    "BatchNorm1d",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
