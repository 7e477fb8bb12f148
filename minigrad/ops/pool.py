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

from ..autograd import Function, run_op
from .windows import Fold, Pair, _check_image, _check_output, _pair, _shape, _windows


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
    among ties, to the first in row-major order of the window (as PyTorch)."""

    def forward(
        self, x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair
    ) -> np.ndarray:
        self.params = {"stride": stride, "padding": padding, "dilation": dilation}
        self.size, self.kernel = x.shape[2:], kernel
        windows = _windows(x, kernel, stride, padding, dilation, fill=-np.inf)
        n, c, oh, ow, kh, kw = windows.shape
        flat = windows.reshape(n, c, oh, ow, kh * kw)  # one copy: each window contiguous
        self.argmax = flat.argmax(axis=-1)  # argmax takes the first of equal values
        return np.take_along_axis(flat, self.argmax[..., None], axis=-1)[..., 0]

    def backward(self, grad: Any) -> tuple[Any]:
        (kh, kw), (n, c, oh, ow) = self.kernel, self.argmax.shape
        hit = self.argmax[..., None] == np.arange(kh * kw)  # one-hot: where each maximum was
        patches = (grad[..., None] * hit.astype(grad.dtype)).reshape(n, c, oh, ow, kh, kw)
        return (run_op(Fold, patches, size=self.size, **self.params),)


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


from ..tensor import Tensor  # noqa: E402
