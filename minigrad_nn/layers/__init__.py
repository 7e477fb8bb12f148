"""Layers: `Linear` (`Affine`), activations, `Dropout`, batch normalisation, convolution and
pooling, `Flatten`, `Identity`."""

from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .conv import AvgPool2d, Conv2d, ConvTranspose2d, MaxPool2d
from .linear import Affine, Linear
from .regularization import BatchNorm1d, BatchNorm2d, Dropout
from .shape import Flatten, Identity

__all__ = [
    "Affine",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "ConvTranspose2d",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "MaxPool2d",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]
