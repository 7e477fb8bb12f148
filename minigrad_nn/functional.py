"""Stateless neural-network maths (`nn.functional`): activations, softmax, losses, dropout, linear
and batch normalisation. The layers and losses of `minigrad_nn` call these, so each formula is
written once, here.

Inputs may be Tensors, ndarrays or nested lists; results are Tensors in the input's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor

from .init import make_rng

REDUCTIONS = ("mean", "sum", "none")


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else mg.tensor(x)


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}: expected 'mean', 'sum' or 'none'")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


# -- activations, softmax and cross-entropy: minigrad's own ops ---------------------------------

relu = mg.relu
sigmoid = mg.sigmoid
tanh = mg.tanh
softmax = mg.softmax
log_softmax = mg.log_softmax
cross_entropy = mg.cross_entropy

# -- convolution and pooling: minigrad's ops, under torch.nn.functional's names ------------------

conv2d = mg.conv2d
conv_transpose2d = mg.conv_transpose2d
max_pool2d = mg.max_pool2d
avg_pool2d = mg.avg_pool2d
im2col = mg.im2col
col2im = mg.col2im
pad = mg.pad  # NumPy's pad_width (a pair per axis), not torch.nn.functional.pad's flat tuple


# -- losses ------------------------------------------------------------------------------------


def mse_loss(x: Any, target: Any, reduction: str = "mean") -> Tensor:
    """(x - t)² elementwise, averaged over all elements ('mean'), summed or kept ('none');
    dL/dx = 2(x - t)/n for 'mean'. `x` and `target` must have the same shape."""
    _check_reduction(reduction)
    x = _tensor(x)
    if isinstance(target, Tensor):
        target = target.astype(x.dtype)
    else:
        target = np.asarray(target, dtype=x.dtype)
    if target.shape != x.shape:
        raise ValueError(f"mse_loss: input shape {x.shape} and target shape {target.shape} differ")
    diff = x - target
    return _reduce(diff * diff, reduction)


# -- layers' maths -----------------------------------------------------------------------------


def _check_probability(p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")


def dropout(
    x: Any,
    p: float = 0.5,
    training: bool = True,
    rng: np.random.Generator | None = None,
    seed: int | None = None,
) -> Tensor:
    """Inverted dropout: zero each element with probability p and scale the others by
    1/(1 - p), so the expectation is unchanged; the identity when not training (or p = 0)."""
    _check_probability(p)
    x = _tensor(x)
    if not training or p == 0:
        return x
    if p == 1:
        return x * np.zeros(x.shape, dtype=x.dtype)
    draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    keep = make_rng(seed, rng).random(x.shape, dtype=draw_dtype) >= p
    mask = keep.astype(x.dtype)
    mask *= 1.0 / (1.0 - p)
    return x * mask


def linear(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """y = x @ Wᵀ + b with W of shape (out_features, in_features), as PyTorch's `F.linear`.
    An ndarray or list `x` is converted to W's dtype."""
    if not isinstance(x, Tensor):
        x = np.asarray(x, dtype=weight.dtype)
    return mg.linear(x, weight, bias)


def affine(x: Any, weight: Any, bias: Any = None) -> Tensor:
    """y = x @ W + b with W of shape (in_features, out_features): the book's Affine layer.
    An ndarray or list `x` is converted to W's dtype."""
    if not isinstance(x, Tensor):
        x = np.asarray(x, dtype=weight.dtype)
    return mg.affine(x, weight, bias)


def batch_norm(
    x: Any,
    running_mean: np.ndarray | None,
    running_var: np.ndarray | None,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - μ)/√(σ² + eps)·weight + bias per channel (axis 1 of (N, C), (N, C, L) or
    (N, C, H, W); the statistics are taken over every axis but the channels').

    Training (or no running statistics): μ, σ² are the batch mean and biased variance, and the
    running ones move as r ← (1 - momentum)·r + momentum·s, with the unbiased variance for σ²
    (as PyTorch). Otherwise the running statistics are used. Gradients flow through μ and σ²."""
    x = _tensor(x)
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"batch_norm expects input of shape (N, C), (N, C, L) or (N, C, H, W), got {x.shape}"
        )
    axes = (0, *range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training or running_mean is None:
        count = x.size // x.shape[1]
        if training and count < 2:
            raise ValueError(
                f"batch_norm needs more than 1 value per channel when training, got input of "
                f"shape {x.shape}"
            )
        mean = x.mean(axis=axes, keepdims=True)
        centered = x - mean
        var = (centered * centered).mean(axis=axes, keepdims=True)
        if training and running_mean is not None:
            _update_running(running_mean, mean.data, momentum)
            _update_running(running_var, var.data * (count / (count - 1)), momentum)
    else:
        centered = x - running_mean.reshape(shape)
        var = running_var.reshape(shape)
    y = centered / np.sqrt(var + eps)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def _update_running(running: np.ndarray, batch: np.ndarray, momentum: float) -> None:
    """r ← (1 - momentum)·r + momentum·batch, in place (the buffer keeps its identity)."""
    running *= 1.0 - momentum
    running += momentum * batch.reshape(running.shape)


__all__ = [
    "REDUCTIONS",
    "affine",
    "avg_pool2d",
    "batch_norm",
    "col2im",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "im2col",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "pad",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
