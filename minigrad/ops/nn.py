"""Neural-network ops: softmax, log-softmax and the fused softmax + cross-entropy loss.

Each is stable for large logits: the exponentials only ever see x - max x <= 0, so they cannot
overflow (they may underflow to 0, which is harmless), and every sum of them is at least 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, run_op
from ..tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")


def _shifted_exp(x: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x - m, e^(x - m), Σ e^(x - m)) along `axis` with m = max x: the stable core of softmax
    and log-softmax."""
    shifted = x - x.max(axis=axis, keepdims=True, initial=-np.inf)  # (initial: for empty axes)
    e = np.exp(shifted)
    return shifted, e, e.sum(axis=axis, keepdims=True)


class Softmax(Function):
    """z = e^x / Σ e^x along `axis`.  dL/dx = z·(g - Σ g·z), the Jacobian diag(z) - z·zᵀ applied
    to g."""

    def forward(self, x: np.ndarray, axis: int) -> np.ndarray:
        _, e, total = _shifted_exp(x, axis)
        e /= total
        self.save_for_backward(e)
        self.axis = axis
        return e

    def backward(self, grad: Any) -> tuple[Any]:
        (z,) = self.saved_tensors
        return (z * (grad - (grad * z).sum(axis=self.axis, keepdims=True)),)


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """e^x / Σ e^x along `axis` (`dim=` accepted), stable for large logits."""
    return Softmax.apply(_tensor(x), axis=axis if dim is None else dim)


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


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """x - ln Σ e^x along `axis` (`dim=` accepted), stable for large logits."""
    return LogSoftmax.apply(_tensor(x), axis=axis if dim is None else dim)


class CrossEntropy(Function):
    """Softmax and cross-entropy fused: L_i = -Σ_k t_ik·ln softmax(x_i)_k, then reduced.

    dL/dx = (softmax(x) - t)/N for 'mean' and softmax(x) - t for 'sum' (the book's
    Softmax-with-Loss), each row scaled by its incoming gradient for 'none'; dL/dt = -ln softmax(x).
    `t` holds class indices (N,) or probabilities (N, C) (rows not summing to 1 give
    softmax(x)·Σt - t)."""

    def forward(self, x: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
        shifted, e, total = _shifted_exp(x, -1)
        e /= total
        self.probs = e  # softmax(x), for backward in plain mode
        log_total = np.log(total)  # ln softmax(x) = shifted - log_total
        if target.dtype.kind == "f":
            losses = (target * (log_total - shifted)).sum(axis=-1)
        else:
            picked = _label_positions(target, x.shape)  # the target logits, flat
            losses = log_total[:, 0] - shifted.ravel()[picked]
        self.save_for_backward(x, target)
        self.reduction = reduction
        if reduction == "none":
            return losses
        return losses.mean() if reduction == "mean" else losses.sum()

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, target = self.saved_tensors
        if self.reduction == "mean":  # the incoming gradient as a factor for each row
            scale = grad / x.shape[0]
        else:
            scale = grad if self.reduction == "sum" else grad.reshape((x.shape[0], 1))
        gx = gt = None
        if self.needs_input_grad[0]:
            # Forward's softmax(x) serves in plain mode; under create_graph it is computed again
            # as an op on x, so that the gradient of this gradient flows through it.
            probs = self.probs if isinstance(x, np.ndarray) else run_op(Softmax, x, axis=-1)
            if target.dtype.kind == "f":  # softmax(x)·Σt - t: the book's softmax(x) - t if Σt = 1
                residual = probs * target.sum(axis=-1, keepdims=True) - target
            else:
                residual = probs - _one_hot(target, probs.shape[-1], probs.dtype)
            gx = residual * scale
        if self.needs_input_grad[1]:
            gt = -run_op(LogSoftmax, x, axis=-1) * scale
        return gx, gt


def cross_entropy(
    logits: Any, target: Any, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Softmax + cross-entropy of logits (N, C) against class indices (N,) (ints) or
    probabilities (N, C); also logits (C,) with one label. L = -Σ t·ln softmax(x) per row,
    averaged ('mean'), summed ('sum') or kept ('none'); dL/dx = (softmax(x) - t)/N for 'mean'."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}: expected 'mean', 'sum' or 'none'")
    if label_smoothing and not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = _tensor(logits)
    data = logits._data
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


def _tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _one_hot(labels: np.ndarray, num_classes: int, dtype: Any) -> np.ndarray:
    out = np.zeros((len(labels), num_classes), dtype=dtype)
    out[np.arange(len(labels)), labels] = 1
    return out


def _checked_target(target: Any, logits: np.ndarray) -> Any:
    """The target as int class indices or probabilities in the logits' dtype, after checking
    its dtype and shape (the range of class indices is checked where they are used). A target
    Tensor that requires grad stays a Tensor."""
    if isinstance(target, Tensor):
        target = target if target.requires_grad else target._data
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
