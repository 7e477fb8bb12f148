"""minigrad_nn: a small PyTorch-style neural-network library on top of minigrad.

    >>> import minigrad_nn as nn
    >>> model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
"""

from minigrad import __version__

from . import datasets, optim
from .data import DataLoader, Dataset, TensorDataset
from .datasets import DatasetError, load_fashion_mnist, load_mnist
from .module import LoadResult, Module, ModuleList, Parameter, Sequential
from .serialization import load, save

__all__ = [
    "DataLoader",
    "Dataset",
    "DatasetError",
    "LoadResult",
    "Module",
    "ModuleList",
    "Parameter",
    "Sequential",
    "TensorDataset",
    "__version__",
    "datasets",
    "load",
    "load_fashion_mnist",
    "load_mnist",
    "optim",
    "save",
]
