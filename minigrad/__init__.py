"""minigrad: reverse-mode automatic differentiation on NumPy arrays.

>>> import minigrad as mg
>>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

from . import random
from ._version import __version__
from .autograd import (
    AnomalyError,
    Function,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from .creation import (
    arange,
    from_dlpack,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .gradcheck import GradcheckError, gradcheck, numerical_gradient
from .graph import to_dot, to_mermaid, to_svg
from .ops.conv import conv2d, conv2d_weight, conv_transpose2d
from .ops.elementwise import (
    abs,
    add,
    astype,
    clip,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    sigmoid,
    sqrt,
    sub,
    tanh,
    where,
)
from .ops.linalg import affine, matmul
from .ops.pool import avg_pool2d, max_pool2d
from .ops.reduce import argmax, argmin, logsumexp, max, mean, min, sum
from .ops.shape import (
    broadcast_to,
    cat,
    concatenate,
    expand,
    flatten,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
from .ops.windows import col2im, im2col
from .random import manual_seed
from .tensor import Tensor

__all__ = [
    "AnomalyError",
    "Function",
    "GradcheckError",
    "Tensor",
    "__version__",
    "abs",
    "add",
    "affine",
    "arange",
    "argmax",
    "argmin",
    "astype",
    "avg_pool2d",
    "broadcast_to",
    "cat",
    "clip",
    "col2im",
    "concatenate",
    "conv2d",
    "conv2d_weight",
    "conv_transpose2d",
    "detect_anomaly",
    "div",
    "enable_grad",
    "exp",
    "expand",
    "flatten",
    "from_dlpack",
    "full",
    "grad",
    "gradcheck",
    "im2col",
    "is_grad_enabled",
    "log",
    "logsumexp",
    "manual_seed",
    "matmul",
    "max",
    "max_pool2d",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "neg",
    "no_grad",
    "numerical_gradient",
    "ones",
    "ones_like",
    "pow",
    "rand",
    "randn",
    "random",
    "relu",
    "reshape",
    "set_grad_enabled",
    "sigmoid",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "swapaxes",
    "tanh",
    "tensor",
    "to_dot",
    "to_mermaid",
    "to_svg",
    "transpose",
    "unsqueeze",
    "where",
    "zeros",
    "zeros_like",
]
