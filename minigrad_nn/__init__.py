"""minigrad_nn: a small PyTorch-style neural-network library on top of minigrad.

    >>> import minigrad_nn as nn
    >>> model = nn.Sequential(nn.Linear(784, 50), nn.ReLU(), nn.Linear(50, 10))
"""

from minigrad import __version__

from .module import LoadResult, Module, ModuleList, Parameter, Sequential

__all__ = [
    "LoadResult",
    "Module",
    "ModuleList",
    "Parameter",
    "Sequential",
    "__version__",
]
