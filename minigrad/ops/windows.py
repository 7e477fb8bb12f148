"""Sliding windows, the machinery under convolution and pooling, and the book's `im2col` (every
window of an image as a row) with its adjoint `col2im` (rows summed back into an image).

NumPy gives every window of an image at once as a strided view, `sliding_window_view`: no loop
and no copy. The convolutions (`conv.py`) copy that view once into the layout a matrix product
wants; pooling (`pool.py`) reduces it directly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..function import Function, run_op
from ..tensor import Tensor, as_operand
from .shape import reshape

Pair = tuple[int, int]


# -- sizes and checks shared by every window op ---------------------------------------------------


def _pair(value: Any, name: str, minimum: int = 1) -> Pair:
    """An int or a pair of ints as a pair (PyTorch accepts both for every size)."""
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int | np.integer) for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Number of window positions along an axis: ⌊(size + 2p - d(k-1) - 1) / s⌋ + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, Tensor | np.ndarray) else np.shape(as_operand(x))


def _check_image(op: str, x_shape: tuple[int, ...]) -> None:
    if len(x_shape) != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got {x_shape}")


def _check_output(
    op: str, x_shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
) -> Pair:
    """The output's (OH, OW), or a ValueError when no window fits in the padded input."""
    out = tuple(
        _out_size(x_shape[2 + i], kernel[i], stride[i], padding[i], dilation[i]) for i in range(2)
    )
    if min(out) < 1:
        padded = tuple(x_shape[2 + i] + 2 * padding[i] for i in range(2))
        span = tuple(dilation[i] * (kernel[i] - 1) + 1 for i in range(2))
        raise ValueError(
            f"{op}: the output would be empty: input {x_shape} padded to {padded} is smaller "
            f"than the kernel {kernel} (spanning {span} with dilation {dilation})"
        )
    return out[0], out[1]


def _window_params(stride: Any, padding: Any, dilation: Any) -> dict[str, Pair]:
    return {
        "stride": _pair(stride, "stride"),
        "padding": _pair(padding, "padding", minimum=0),
        "dilation": _pair(dilation, "dilation"),
    }


# -- the windows and their adjoint -------------------------------------------------------------


def _padded(x: np.ndarray, padding: tuple[int, ...], fill: float = 0.0) -> np.ndarray:
    """x with rows and columns of `fill` around each image, in x's memory order. `padding` is
    (ph, pw) for both sides, or (top, bottom, left, right), where a negative width crops."""
    top, bottom, left, right = (
        padding if len(padding) == 4 else (*padding[:1] * 2, *padding[1:] * 2)
    )
    n, c, h, w = x.shape
    x = x[:, :, max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
    top, bottom, left, right = (max(p, 0) for p in (top, bottom, left, right))
    if not (top or bottom or left or right):
        return x
    h, w = x.shape[2:]
    out = np.full_like(x, fill, shape=(n, c, h + top + bottom, w + left + right))
    out[:, :, top : top + h, left : left + w] = x
    return out


def _windows(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair,
    padding: tuple[int, ...],
    dilation: Pair,
    fill: float = 0.0,
) -> np.ndarray:
    """A view (N, C, OH, OW, kh, kw) of `x` padded with `fill`: element [n, c, i, j, p, q] is
    x_padded[n, c, i·sh + p·dh, j·sw + q·dw]. Only the padding is a copy."""
    (sh, sw), (dh, dw) = stride, dilation
    span = (dh * (kernel[0] - 1) + 1, dw * (kernel[1] - 1) + 1)
    windows = sliding_window_view(_padded(x, padding, fill), span, axis=(2, 3))
    return windows[:, :, ::sh, ::sw, ::dh, ::dw]


def _fold(cols: np.ndarray, size: Pair, stride: Pair, padding: Pair, dilation: Pair) -> np.ndarray:
    """The adjoint of `_windows` (the book's col2im): sum windows given channel-major, as
    (C, kh, kw, N, OH, OW), back into (N, C, H) images, adding where windows overlap.

    The sum is built channel-major too, (C, N, H, W) in memory, so that every slice added is
    contiguous in its last three axes; the result is its (N, C, H, W) view."""
    c, kh, kw, n, oh, ow = cols.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    full = (size[0] + 2 * ph, size[1] + 2 * pw)
    if (sh, sw) == (kh, kw) and (dh, dw) == (1, 1):  # the windows tile the image: no overlap
        tiled = cols.transpose(0, 3, 4, 1, 5, 2).reshape(c, n, oh * kh, ow * kw)
        if tiled.shape[2:] == full:
            out = tiled
        else:  # rows and columns after the last window get no gradient
            out = np.zeros((c, n, *full), dtype=cols.dtype)
            out[:, :, : oh * kh, : ow * kw] = tiled
    else:  # one strided add per kernel position, each over the whole batch
        out = np.zeros((c, n, *full), dtype=cols.dtype)
        for p in range(kh):
            rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
            for q in range(kw):
                out[:, :, rows, q * dw : q * dw + sw * (ow - 1) + 1 : sw] += cols[:, p, q]
    return out[:, :, ph : ph + size[0], pw : pw + size[1]].transpose(1, 0, 2, 3)


# -- im2col and col2im -----------------------------------------------------------------------------


class Unfold(Function):
    """Every window of x as an array (N, C, OH, OW, kh, kw) (the strided view, copied);
    the gradient folds windows back, adding where they overlap."""

    def forward(
        self, x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
    ) -> np.ndarray:
        self.params = {"stride": stride, "padding": padding, "dilation": dilation}
        self.size = x.shape[2:]
        return np.ascontiguousarray(_windows(x, kernel, **self.params))

    def backward(self, grad: Any) -> tuple[Any]:
        return (run_op(Fold, grad, size=self.size, **self.params),)


def im2col(
    x: Any,
    kh: int,
    kw: int,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> Tensor:
    """The book's im2col: every kh×kw window of x (N, C, H, W) as one row of an array of shape
    (N·OH·OW, C·kh·kw), row n·OH·OW + i·OW + j holding window (i, j) of image n, channel by
    channel. A convolution is then `im2col(x) @ W.reshape(O, -1).T`. Its gradient is col2im."""
    params = _window_params(stride, padding, dilation)
    kernel = (_pair(kh, "kh")[0], _pair(kw, "kw")[0])
    _check_image("im2col", _shape(x))
    _check_output("im2col", _shape(x), kernel, **params)
    windows = Unfold.apply(x, kernel=kernel, **params)
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, _shape(x)[1] * kernel[0] * kernel[1])


class Fold(Function):
    """Sum windows (N, C, OH, OW, kh, kw) into an (N, C, H, W) image; the gradient unfolds."""

    def forward(
        self, windows: np.ndarray, size: Pair, stride: Pair, padding: Pair, dilation: Pair
    ) -> np.ndarray:
        self.params = {"stride": stride, "padding": padding, "dilation": dilation}
        self.kernel = windows.shape[4:]
        return _fold(windows.transpose(1, 4, 5, 0, 2, 3), size, **self.params)

    def backward(self, grad: Any) -> tuple[Any]:
        return (run_op(Unfold, grad, kernel=self.kernel, **self.params),)


def col2im(
    cols: Any,
    input_shape: tuple[int, ...],
    kh: int,
    kw: int,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> Tensor:
    """The book's col2im, the adjoint of im2col: rows (N·OH·OW, C·kh·kw) back into an image of
    `input_shape` (N, C, H, W), adding the values of overlapping windows. (So col2im(im2col(x))
    is x times the number of windows holding each pixel; it is x when the windows tile it.)"""
    input_shape = tuple(int(s) for s in input_shape)
    params = _window_params(stride, padding, dilation)
    kernel = (_pair(kh, "kh")[0], _pair(kw, "kw")[0])
    _check_image("col2im", input_shape)
    oh, ow = _check_output("col2im", input_shape, kernel, **params)
    n, c, h, w = input_shape
    expected = (n * oh * ow, c * kernel[0] * kernel[1])
    if tuple(_shape(cols)) != expected:
        raise ValueError(
            f"col2im: cols of shape {_shape(cols)} do not fit input_shape {input_shape} with a "
            f"{kernel} kernel and {params}: expected {expected}"
        )
    windows = reshape(cols, (n, oh, ow, c, *kernel)).transpose(0, 3, 1, 2, 4, 5)
    return Fold.apply(windows, size=(h, w), **params)
