"""Pooling: `max_pool2d` and `avg_pool2d` (the book's chapter 7 Pooling layer), NCHW as PyTorch.

Both reduce every window of the image (`windows.py`, a strided view), and both send the gradient
back through the same adjoint, `Fold`: each window's gradient, as a kh×kw patch, is added back at
the window's place. For max pooling the patch is the gradient at the window's maximum and zeros
elsewhere; for average pooling it is the gradient shared evenly. Written with Fold and ordinary
products, the backward is itself differentiable (gradients of any order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, run_op
from ..tensor import Tensor
from .windows import Fold, Pair, Unfold, _check_image, _check_output, _pair, _shape, _windows


def _pool_args(
    op: str, x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any = 1
) -> dict[str, Pair]:
    """Pooling sizes as pairs (stride defaults to the kernel), checked before anything runs."""
    kernel = _pair(kernel_size, "kernel_size")
    params = {
        "kernel": kernel,
        "stride": kernel if stride is None else _pair(stride, "stride"),
        "padding": _pair(padding, "padding", minimum=0),
        "dilation": _pair(dilation, "dilation"),
    }
    _check_image(op, _shape(x))
    if any(params["padding"][i] > kernel[i] // 2 for i in (0, 1)):
        raise ValueError(
            f"{op}: padding {params['padding']} must be at most half the kernel {kernel} "
            "(a window must not lie mostly in the padding)"
        )
    _check_output(op, _shape(x), **params)
    return params


class MaxPool2d(Function):
    """y = the maximum of each window. The gradient goes to the element that was the maximum;
    among ties, to the first in the window's reading order (as PyTorch).

    Forward takes the kh·kw kernel positions as strided views of the whole batch: their
    elementwise maximum, then where it was first reached (a pass per position, last to first,
    so the first equal value wins). No copy of the windows; each pass is one NumPy call."""

    def forward(
        self, x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
    ) -> np.ndarray:
        self.params = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        self.size = x.shape[2:]
        windows = _windows(x, kernel, stride, padding, dilation, fill=-np.inf)
        positions = [windows[..., p, q] for p in range(kernel[0]) for q in range(kernel[1])]
        out = positions[0].copy(order="K")  # keeps x's memory order (channel-major)
        for candidate in positions[1:]:
            np.maximum(out, candidate, out=out)
        self.argmax = np.full(out.shape, len(positions) - 1, np.min_scalar_type(len(positions)))
        for k in range(len(positions) - 2, -1, -1):
            self.argmax[positions[k] == out] = k
        return out

    def backward(self, grad: Any) -> tuple[Any]:
        return (run_op(MaxUnpool2d, grad, argmax=self.argmax, size=self.size, **self.params),)


class MaxUnpool2d(Function):
    """Max pooling's backward as an op: each window's gradient goes to the position of the
    window's maximum (`argmax`, counted in the window's reading order), zeros elsewhere, adding
    where overlapping windows share a maximum. (PyTorch's max_unpool2d, with window-local
    indices.) Linear in the gradient: its own gradient gathers each window's value at argmax."""

    def forward(
        self,
        grad: np.ndarray,
        argmax: np.ndarray,
        size: Pair,
        kernel: Pair,
        stride: Pair,
        padding: Pair,
        dilation: Pair,
    ) -> np.ndarray:
        self.argmax, self.kernel = argmax, kernel
        self.params = {"stride": stride, "padding": padding, "dilation": dilation}
        (n, c, oh, ow), (sh, sw), (ph, pw), (dh, dw) = grad.shape, stride, padding, dilation
        (kh, kw), (h, w) = kernel, size
        if stride == kernel and padding == (0, 0) and dilation == (1, 1):
            # The windows tile the image: every element gets one window's value (or none, past
            # the last window), written once per kernel position.
            whole = (oh * kh, ow * kw) == (h, w)
            out = (np.empty if whole else np.zeros)((n, c, h, w), dtype=grad.dtype)
            tiles = out[:, :, : oh * kh, : ow * kw].reshape(n, c, oh, kh, ow, kw)  # a view
            for k in range(kh * kw):
                np.multiply(grad, argmax == k, out=tiles[:, :, :, k // kw, :, k % kw])
            return out
        out = np.zeros_like(grad, shape=(n, c, h + 2 * ph, w + 2 * pw))
        for k in range(kh * kw):
            p, q = divmod(k, kw)
            rows = slice(p * dh, p * dh + sh * (oh - 1) + 1, sh)
            cols = slice(q * dw, q * dw + sw * (ow - 1) + 1, sw)
            out[:, :, rows, cols] += grad * (argmax == k)
        return out[:, :, ph : ph + h, pw : pw + w]

    def backward(self, grad: Any) -> tuple[Any]:
        windows = run_op(Unfold, grad, kernel=self.kernel, **self.params)  # (N, C, OH, OW, kh, kw)
        k = self.kernel[0] * self.kernel[1]
        hit = (self.argmax[..., None] == np.arange(k)).reshape(windows.shape)
        return ((windows * hit.astype(windows.dtype)).sum(axis=(4, 5)),)


def max_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
) -> Tensor:
    """The maximum of each kernel_size window of x (N, C, H, W), windows `stride` apart (the
    kernel size by default); `padding` adds -inf borders (at most half the kernel)."""
    params = _pool_args("max_pool2d", x, kernel_size, stride, padding, dilation)
    return MaxPool2d.apply(x, **params)


class AvgPool2d(Function):
    """y = the mean of each window. Each element of a window gets grad / (window count)."""

    def forward(
        self, x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, count_include_pad: bool
    ) -> np.ndarray:
        self.params = {"stride": stride, "padding": padding, "dilation": (1, 1)}
        self.size, self.kernel = x.shape[2:], kernel
        windows = _windows(x, kernel, stride, padding, (1, 1))
        if count_include_pad or padding == (0, 0):
            self.count = np.asarray(kernel[0] * kernel[1], dtype=x.dtype)
        else:  # only the image's own elements count: fewer in windows over the border
            ones = np.ones((1, 1, *x.shape[2:]), dtype=x.dtype)
            self.count = _windows(ones, kernel, stride, padding, (1, 1)).sum(axis=(-2, -1))[0, 0]
        return windows.sum(axis=(-2, -1)) / self.count

    def backward(self, grad: Any) -> tuple[Any]:
        share = (grad / self.count)[..., None, None]
        patches = share * np.ones(self.kernel, dtype=self.count.dtype)
        return (run_op(Fold, patches, size=self.size, **self.params),)


def avg_pool2d(
    x: Any,
    kernel_size: int | Pair,
    stride: int | Pair | None = None,
    padding: int | Pair = 0,
    count_include_pad: bool = True,
) -> Tensor:
    """The mean of each kernel_size window of x (N, C, H, W), windows `stride` apart (the kernel
    size by default). With padding, border windows divide by the full kernel size unless
    count_include_pad=False (then by the number of the image's own elements), as PyTorch."""
    params = _pool_args("avg_pool2d", x, kernel_size, stride, padding)
    del params["dilation"]
    return AvgPool2d.apply(x, count_include_pad=bool(count_include_pad), **params)
