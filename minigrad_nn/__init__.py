"""minigrad_nn: a small PyTorch-style neural-network library on top of minigrad.

    >>> import minigrad_nn as nn
    >>> model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
"""

from minigrad import __version__

from . import datasets, distributed, functional, init, optim
from .data import DataLoader, Dataset, TensorDataset
from .datasets import DatasetError, load_fashion_mnist, load_mnist
from .layers import (
    Affine,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    ConvTranspose2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from .losses import CrossEntropyLoss, MSELoss, SoftmaxWithLoss
from .module import LoadResult, Module, ModuleList, Parameter, Sequential
from .serialization import SerializationError, load, save
from .training import CheckpointError, History, evaluate, fit

__all__ = [
    "Affine",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "CheckpointError",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "DataLoader",
    "Dataset",
    "DatasetError",
    "Dropout",
    "Flatten",
    "History",
    "Identity",
    "Linear",
    "LoadResult",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Module",
    "ModuleList",
    "Parameter",
    "ReLU",
    "Sequential",
    "SerializationError",
    "Sigmoid",
    "Softmax",
    "SoftmaxWithLoss",
    "Tanh",
    "TensorDataset",
    "__version__",
    "datasets",
    "distributed",
    "evaluate",
    "fit",
    "functional",
    "init",
    "load",
    "load_fashion_mnist",
    "load_mnist",
    "optim",
    "save",
]
