"""Optimizers (`SGD`, `Momentum`, `Adagrad`/`AdaGrad`, `RMSprop`, `Adam`, `AdamW`) and
learning-rate schedulers (`optim.lr_scheduler`), with PyTorch's update rules."""

from . import lr_scheduler
from .adagrad import AdaGrad, Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD, Momentum

__all__ = [
    "SGD",
    "AdaGrad",
    "Adagrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Optimizer",
    "RMSprop",
    "lr_scheduler",
]
