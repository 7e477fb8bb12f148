"""minigrad: reverse-mode automatic differentiation on NumPy arrays.

>>> import minigrad as mg
>>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad
tensor([2., 4., 6.])
"""

# tensor first: it closes minigrad's one import cycle (Tensor <-> its ops and the engine).
from .tensor import Tensor  # isort: skip
from . import random
from ._version import __version__
from .anomaly import AnomalyError, detect_anomaly
from .autograd import grad
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
from .function import Function
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, numerical_gradient
from .graph import to_dot, to_html, to_mermaid, to_svg
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
from .ops.linalg import affine, dot, linear, matmul, tensordot
from .ops.nn import cross_entropy, log_softmax, softmax
from .ops.pool import avg_pool2d, max_pool2d
from .ops.reduce import argmax, argmin, logsumexp, max, mean, min, sum
from .ops.shape import (
    broadcast_to,
    cat,
    concatenate,
    expand,
    expand_dims,
    flatten,
    pad,
    reshape,
    squeeze,
    stack,
    swapaxes,
    transpose,
    unsqueeze,
)
from .ops.windows import col2im, im2col
from .random import manual_seed

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
    "cross_entropy",
    "detect_anomaly",
    "div",
    "dot",
    "enable_grad",
    "exp",
    "expand",
    "expand_dims",
    "flatten",
    "from_dlpack",
    "full",
    "grad",
    "gradcheck",
    "im2col",
    "is_grad_enabled",
    "linear",
    "log",
    "log_softmax",
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
    "pad",
    "pow",
    "rand",
    "randn",
    "random",
    "relu",
    "reshape",
    "set_grad_enabled",
    "sigmoid",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "sub",
    "sum",
    "swapaxes",
    "tanh",
    "tensor",
    "tensordot",
    "to_dot",
    "to_html",
    "to_mermaid",
    "to_svg",
    "transpose",
    "unsqueeze",
    "where",
    "zeros",
    "zeros_like",
]
