"""Stateless neural-network maths (`nn.functional`): activations, softmax, losses, dropout, linear
and batch normalisation. The layers and losses of `minigrad_nn` call these, so each formula is
written once, here.

Inputs may be Tensors, ndarrays or nested lists; results are Tensors in the input's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Function, Tensor
from minigrad.autograd import run_op

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


# -- activations -------------------------------------------------------------------------------


# The engine's own functions (one call less per layer than wrapping them).
relu = mg.relu
sigmoid = mg.sigmoid
tanh = mg.tanh

# -- convolution and pooling: minigrad's ops, under torch.nn.functional's names ------------------

conv2d = mg.conv2d
conv_transpose2d = mg.conv_transpose2d
max_pool2d = mg.max_pool2d
avg_pool2d = mg.avg_pool2d
im2col = mg.im2col
col2im = mg.col2im


# -- softmax -----------------------------------------------------------------------------------


def _shifted_exp(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x - m, e^(x - m), Σ e^(x - m)) along `axis` with m = max x, the stable core of softmax
    and log-softmax: exp never sees a positive argument, so it cannot overflow (it may underflow
    to 0, which is harmless), and the sum is at least 1. (The ufuncs' `reduce` is what
    `ndarray.max`/`.sum` call, minus a Python frame each: this runs on every training step.)"""
    shifted = x - np.maximum.reduce(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return shifted, e, np.add.reduce(e, axis=axis, keepdims=True)


class Softmax(Function):
    """z = e^x / Σ e^x along `axis`.  dL/dx = z·(g - Σ g·z), the Jacobian diag(z) - z·zᵀ applied
    to g (written with NumPy operators, so it also runs on Tensors under create_graph)."""

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        _, e, total = _shifted_exp(x, axis)
        e /= total
        self.save_for_backward(e)
        self.axis = axis
        return e

    def backward(self, grad: Any) -> tuple[Any]:
        (z,) = self.saved_tensors
        return (z * (grad - (grad * z).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """z = x - ln Σ e^x along `axis`.  dL/dx = g - softmax(x)·Σ g, with softmax(x) = e^z."""

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        shifted, _, total = _shifted_exp(x, axis)
        z = shifted - np.log(total)
        self.save_for_backward(z)
        self.axis = axis
        return z

    def backward(self, grad: Any) -> tuple[Any]:
        (z,) = self.saved_tensors
        return (grad - np.exp(z) * grad.sum(axis=self.axis, keepdims=True),)


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """e^x / Σ e^x along `axis` (`dim=` accepted), stable for large logits."""
    return Softmax.apply(_tensor(x), axis=axis if dim is None else dim)


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x - ln Σ e^x along `axis` (`dim=` accepted), stable for large logits."""
    return LogSoftmax.apply(_tensor(x), axis=axis if dim is None else dim)


# -- losses ------------------------------------------------------------------------------------


class CrossEntropy(Function):
    """Softmax and cross-entropy fused: L_i = -Σ_k t_ik·ln softmax(x_i)_k, then reduced.

    dL/dx = (softmax(x) - t)/N for 'mean' and softmax(x) - t for 'sum' (the book's
    Softmax-with-Loss), each row scaled by its incoming gradient for 'none'; dL/dt = -ln softmax(x).
    The softmax is computed once in forward and reused by backward. `t` holds class indices (N,)
    or probabilities (N, C)."""

    def forward(self, x: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
        shifted, e, total = _shifted_exp(x, -1)
        e /= total
        self.probs = e
        self.batch = x.shape[0]
        self.reduction = reduction
        self.save_for_backward(x, target)
        log_total = np.log(total)  # ln softmax(x) = shifted - log_total
        if target.dtype.kind == "f":
            losses = (target * (log_total - shifted)).sum(axis=-1)
        else:
            self.picked = _label_positions(target, x.shape)  # the target logits, flat
            losses = log_total[:, 0] - shifted.ravel()[self.picked]
        if reduction == "none":
            return losses
        loss = np.add.reduce(losses)  # losses.sum(), minus a Python frame
        return loss / len(losses) if reduction == "mean" else loss

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, target = self.saved_tensors
        scale = self._scale(grad)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = self._scaled_residual(x, target, scale)
        if self.needs_input_grad[1]:
            gt = -run_op(LogSoftmax, x, axis=-1) * scale
        return gx, gt

    def _scale(self, grad: Any) -> Any:
        """The incoming gradient as a factor for each row: g/N, g, or g[:, None]."""
        if self.reduction == "mean":
            return grad / self.batch
        if self.reduction == "sum":
            return grad
        return grad.reshape((self.batch, 1))

    def _scaled_residual(self, x: Any, target: Any, scale: Any) -> Any:
        """(softmax(x) - t)·scale. Under create_graph the softmax is recomputed from the graph's
        x, so that the result can be differentiated again; otherwise the saved one is used."""
        if self._graph_mode:
            probs = run_op(Softmax, x, axis=-1)
            if target.dtype.kind != "f":
                target = _one_hot(target, probs.shape[-1], probs.dtype)
            return (probs - target) * scale
        if target.dtype.kind == "f":
            return (self.probs - target) * scale
        # Scale first, then subtract the scaled one-hot: no copy of probs (kept for a second
        # backward with retain_graph), one pass less than copy, subtract, scale. In C order, so
        # that ravel() is a view (probs follows the logits' layout, which may be Fortran's).
        residual = np.multiply(self.probs, scale, order="C")
        residual.ravel()[self.picked] -= scale if self.reduction != "none" else scale[:, 0]
        return residual

    def release(self) -> None:
        super().release()
        self.probs = None


def _one_hot(labels: np.ndarray, num_classes: int, dtype: Any) -> np.ndarray:
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def cross_entropy(
    logits: Any, target: Any, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Softmax + cross-entropy of logits (N, C) against class indices (N,) (ints) or
    probabilities (N, C); also logits (C,) with one label. L = -Σ t·ln softmax(x) per row,
    averaged ('mean'), summed ('sum') or kept ('none'); dL/dx = (softmax(x) - t)/N for 'mean'."""
    _check_reduction(reduction)
    if label_smoothing and not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    if not isinstance(logits, Tensor):
        logits = mg.tensor(logits)
    data = logits.data
    if data.ndim not in (1, 2) or data.dtype.kind != "f":
        raise ValueError(
            f"cross_entropy expects floating logits of shape (N, C) or (C,), got shape "
            f"{data.shape} and dtype {data.dtype}"
        )
    target = _checked_target(target, data)
    single = data.ndim == 1
    if single:
        logits, target = logits.reshape(1, -1), target.reshape((1, *target.shape))
    if label_smoothing:
        target = _smoothed(target, logits.shape[-1], label_smoothing, logits.dtype)
    loss = CrossEntropy.apply(logits, target, reduction=reduction)
    return loss.reshape(()) if single and reduction == "none" else loss


def _checked_target(target: Any, logits: np.ndarray) -> Any:
    """The target as int class indices or probabilities in the logits' dtype, after checking
    its dtype and shape (the range of class indices is checked where they are used). A target
    Tensor that requires grad stays a Tensor."""
    if isinstance(target, Tensor):
        target = target if target.requires_grad else target.data
    elif type(target) is not np.ndarray:
        target = np.asarray(target)
    index_shape = logits.shape[:-1]
    if target.dtype.kind in "iu":
        if target.shape != index_shape:
            raise ValueError(_shape_message(target, logits))
        return target  # its range is checked where it is used (_label_positions, _smoothed)
    if target.dtype.kind != "f":
        raise ValueError(
            f"target of dtype {target.dtype} is not supported: pass integer class indices or "
            "float probabilities"
        )
    if target.shape == index_shape:
        raise ValueError(
            f"target of shape {target.shape} has dtype {target.dtype}: class indices must be "
            f"integers (pass target.astype(np.int64)), or pass probabilities of shape "
            f"{logits.shape}"
        )
    if target.shape != logits.shape:
        raise ValueError(_shape_message(target, logits))
    if isinstance(target, Tensor):
        return target.astype(logits.dtype)
    return target.astype(logits.dtype, copy=False)


def _shape_message(target: Any, logits: np.ndarray) -> str:
    return (
        f"target shape {target.shape} does not match logits shape {logits.shape}: expected class "
        f"indices of shape {logits.shape[:-1]} or probabilities of shape {logits.shape}"
    )


def _label_positions(labels: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Flat positions of each row's target class in an (N, C) array. `np.ravel_multi_index`
    checks on the way that every label is in 0..C-1: no separate pass over the labels."""
    try:
        return np.ravel_multi_index((np.arange(shape[0]), labels), shape)
    except ValueError:
        _check_labels(labels, shape[1])  # names the bad label
        raise


def _check_labels(labels: np.ndarray, num_classes: int) -> None:
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = (labels < 0) | (labels >= num_classes)
        raise ValueError(
            f"target label {labels[bad].flat[0]} is out of range for {num_classes} classes "
            f"(labels must be in 0..{num_classes - 1})"
        )


def _smoothed(target: Any, num_classes: int, smoothing: float, dtype: Any) -> Any:
    """(1 - ε)·t + ε/C, with class indices turned into one-hot rows first."""
    if target.dtype.kind != "f":
        _check_labels(target, num_classes)
        target = _one_hot(target, num_classes, dtype)
    return target * (1.0 - smoothing) + smoothing / num_classes


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
    """y = x @ W + b, with W of shape (in_features, out_features) (the transpose of PyTorch's
    layout). An ndarray or list `x` is converted to W's dtype."""
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
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]
