"""Convolution: `conv2d`, `conv_transpose2d` and `conv2d_weight`, the weight's gradient.

Layout NCHW, weights (out_channels, in_channels / groups, kh, kw), names and results as PyTorch's.

The idea is the book's (chapter 7): unroll every receptive field into a column ("im2col"), so a
convolution becomes one matrix product. The windows are a strided view (`windows.py`), copied
once into the layout (N, G, C/G·kh·kw, OH·OW): then W (G, O/G, C/G·kh·kw) @ cols is already the
output in NCHW order, with no transpose after it.

The three ops are one bilinear map seen from three sides, so each one's gradients are the others
(and gradients of gradients come out of the same three rules):

    y = conv2d(x, w)            dL/dx = conv_transpose2d(dL/dy, w), dL/dw = conv2d_weight(x, dL/dy)
    z = conv_transpose2d(x, w)  dL/dx = conv2d(dL/dz, w),           dL/dw = conv2d_weight(dL/dz, x)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..function import Function, run_op
from ..tensor import Tensor
from .windows import Pair, _check_image, _check_output, _fold, _pair, _shape, _window_params
from .windows import _windows as _windows_view


def _conv_cols(
    x: np.ndarray,
    kernel: Pair,
    stride: Pair,
    padding: tuple[int, ...],
    dilation: Pair,
    groups: int,
    out_size: Pair | None = None,
) -> tuple[np.ndarray, Pair]:
    """im2col, channel-major: (G, C/G·kh·kw, N·OH·OW), the layout in which one matrix product
    per group covers the whole batch, and (OH, OW). This copy is the one big memory move of a
    convolution. `out_size` keeps only the first OH x OW windows (for conv_transpose2d)."""
    win = _windows_view(x, kernel, stride, padding, dilation)
    if out_size is not None:
        win = win[:, :, : out_size[0], : out_size[1]]
    n, c, oh, ow, kh, kw = win.shape
    cols = win.transpose(1, 4, 5, 0, 2, 3).reshape(groups, c // groups * kh * kw, n * oh * ow)
    return cols, (oh, ow)


def _correlate(
    x: np.ndarray,
    w: np.ndarray,
    stride: Pair,
    padding: tuple[int, ...],
    dilation: Pair,
    groups: int,
) -> tuple[np.ndarray, np.ndarray]:
    """conv2d's arithmetic: (the (N, O, OH, OW) result, the columns it was computed from).
    The result stays channel-major in memory (it is a transposed view), so that the next
    convolution's columns and this one's gradients need no transposing copy."""
    o = w.shape[0]
    cols, (oh, ow) = _conv_cols(x, w.shape[2:], stride, padding, dilation, groups)
    out = np.matmul(w.reshape(groups, o // groups, -1), cols)  # (G, O/G, N·OH·OW)
    return out.reshape(o, x.shape[0], oh, ow).transpose(1, 0, 2, 3), cols


def _channel_major(a: np.ndarray, groups: int) -> np.ndarray:
    """An (N, C, H, W) array as (G, C/G, N·H·W): no copy when its memory is channel-major
    already (as this module's outputs are)."""
    n, c, h, w = a.shape
    return a.transpose(1, 0, 2, 3).reshape(groups, c // groups, n * h * w)


def _output_padding(size: Any, out_size: Any, kernel: Any, params: dict[str, Any]) -> Pair:
    """The rows and columns after the last window that conv2d never read: what the transposed
    convolution adds back to give its input's size exactly."""
    s, p, d = params["stride"], params["padding"], params["dilation"]
    extra = [
        size[i] - ((out_size[i] - 1) * s[i] - 2 * p[i] + d[i] * (kernel[i] - 1) + 1) for i in (0, 1)
    ]
    return extra[0], extra[1]


def _bias_grad(fn: Function, grad: Any) -> tuple[Any, ...]:
    return (grad.sum(axis=(0, 2, 3)),) if len(fn.inputs) == 3 else ()


def _conv_args(
    op: str, x: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: Any
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Check a convolution's arguments before anything runs, and normalise them."""
    x_shape, w_shape = _shape(x), _shape(weight)
    _check_image(op, x_shape)
    if len(w_shape) != 4:
        raise ValueError(f"{op}: expected a 4-D weight (out, in/groups, kh, kw), got {w_shape}")
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    transposed = op == "conv_transpose2d"
    w_in = w_shape[0] if transposed else w_shape[1] * groups
    w_out = w_shape[1] * groups if transposed else w_shape[0]
    if x_shape[1] % groups or w_out % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide the input's {x_shape[1]} channels (input "
            f"{x_shape}) and the {w_out} output channels (weight {w_shape})"
        )
    if x_shape[1] != w_in:
        raise ValueError(
            f"{op}: the input {x_shape} has {x_shape[1]} channels but the weight {w_shape} with "
            f"groups={groups} expects {w_in}"
        )
    if bias is not None and _shape(bias) != (w_out,):
        raise ValueError(f"{op}: bias of shape {_shape(bias)}, expected ({w_out},)")
    params = {**_window_params(stride, padding, dilation), "groups": int(groups)}
    return ((x, weight) if bias is None else (x, weight, bias)), params


class Conv2d(Function):
    """y[n, o, i, j] = Σ_c,p,q w[o, c, p, q] · x_pad[n, c, i·s + p·d, j·s + q·d] + b[o], with c
    running over the channels of o's group.

    Forward: one batched matrix product W (G, O/G, K) @ cols (N, G, K, L). Backward: the input's
    gradient is conv_transpose2d(grad, w), the weight's conv2d_weight(x, grad), the bias's Σ grad.
    The columns are kept for the weight's gradient (rebuilding them would repeat the forward's
    one copy) and freed with the rest of the graph."""

    def forward(self, x: np.ndarray, w: np.ndarray, *bias: np.ndarray, **params: Any) -> np.ndarray:
        self.params = params
        self.save_for_backward(x, w)
        out, self.cols = _correlate(x, w, **params)
        if bias:
            out += bias[0].reshape(-1, 1, 1)
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, w = self.saved_tensors
        gx = gw = None
        if self.needs_input_grad[0]:
            extra = _output_padding(x.shape[2:], grad.shape[2:], w.shape[2:], self.params)
            gx = run_op(ConvTranspose2d, grad, w, output_padding=extra, **self.params)
        if self.needs_input_grad[1]:
            gw = run_op(Conv2dWeight, x, grad, kernel=w.shape[2:], cols=self.cols, **self.params)
        return (gx, gw, *_bias_grad(self, grad))

    def release(self) -> None:
        super().release()
        self.cols = None


def conv2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch's) of x (N, C, H, W) with a weight
    (O, C/groups, kh, kw) and a bias (O,), giving (N, O, OH, OW) with
    OH = ⌊(H + 2·padding - dilation·(kh - 1) - 1) / stride⌋ + 1."""
    inputs, params = _conv_args("conv2d", x, weight, bias, stride, padding, dilation, groups)
    kernel = _shape(weight)[2:]
    _check_output(
        "conv2d", _shape(x), kernel, params["stride"], params["padding"], params["dilation"]
    )
    return Conv2d.apply(*inputs, **params)


class ConvTranspose2d(Function):
    """The adjoint of conv2d in its input: each input pixel adds w[c_in] · x[n, c_in, i, j] to a
    kh×kw patch of the output (a matrix product, then the book's col2im). The weight is
    (C_in, C_out/G, kh, kw). Backward: dL/dx = conv2d(grad, w), dL/dw = conv2d_weight(grad, x)."""

    def forward(
        self, x: np.ndarray, w: np.ndarray, *bias: np.ndarray, output_padding: Pair, **params: Any
    ) -> np.ndarray:
        self.params = params
        self.save_for_backward(x, w)
        n, c_in, h, wd = x.shape
        _, cg_out, kh, kw = w.shape
        stride, padding, dilation = params["stride"], params["padding"], params["dilation"]
        groups = params["groups"]
        size = tuple(
            (length - 1) * stride[i]
            - 2 * padding[i]
            + dilation[i] * (k - 1)
            + output_padding[i]
            + 1
            for i, (length, k) in enumerate(((h, kh), (wd, kw)))
        )
        if stride == (1, 1):
            # Gather instead of scatter: with stride 1 the transposed convolution is a plain
            # correlation of x with the flipped kernel, padded by d(k - 1) - p on each side (and
            # output_padding more after), which needs no overlapping adds.
            flipped = w.reshape(groups, c_in // groups, cg_out, kh, kw)[..., ::-1, ::-1]
            flipped = flipped.transpose(0, 2, 1, 3, 4).reshape(groups * cg_out, -1, kh, kw)
            before = [dilation[i] * (k - 1) - padding[i] for i, k in enumerate((kh, kw))]
            widths = (
                before[0],
                before[0] + output_padding[0],
                before[1],
                before[1] + output_padding[1],
            )
            out = _correlate(x, flipped, stride, widths, dilation, groups)[0]
        else:  # each input pixel adds its kh x kw patch: a product, then the book's col2im
            rows = w.reshape(groups, c_in // groups, -1).swapaxes(1, 2)  # (G, K, C_in/G)
            cols = np.matmul(rows, _channel_major(x, groups))  # (G, C_out/G·kh·kw, N·H·W)
            cols = cols.reshape(groups * cg_out, kh, kw, n, h, wd)
            out = _fold(cols, size, stride, padding, dilation)
        if bias:
            out = out + bias[0].reshape(-1, 1, 1)
        return out

    def backward(self, grad: Any) -> tuple[Any, ...]:
        x, w = self.saved_tensors
        gx = gw = None
        if self.needs_input_grad[0]:
            gx = run_op(Conv2d, grad, w, **self.params)
            if gx.shape[2:] != x.shape[2:]:  # output_padding >= stride: windows past the input
                gx = gx[:, :, : x.shape[2], : x.shape[3]]
        if self.needs_input_grad[1]:
            gw = run_op(Conv2dWeight, grad, x, kernel=w.shape[2:], **self.params)
        return (gx, gw, *_bias_grad(self, grad))


def conv_transpose2d(
    x: Any,
    weight: Any,
    bias: Any = None,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    output_padding: int | Pair = 0,
    groups: int = 1,
    dilation: int | Pair = 1,
) -> Tensor:
    """Transposed convolution, the gradient of conv2d with respect to its input as a layer:
    x (N, C_in, H, W) and a weight (C_in, C_out/groups, kh, kw) give C_out channels of
    (H - 1)·stride - 2·padding + dilation·(kh - 1) + output_padding + 1 rows.
    (PyTorch's argument order: groups before dilation.)"""
    inputs, params = _conv_args(
        "conv_transpose2d", x, weight, bias, stride, padding, dilation, groups
    )
    extra = _pair(output_padding, "output_padding", minimum=0)
    stride, padding, dilation = params["stride"], params["padding"], params["dilation"]
    if any(extra[i] >= max(stride[i], dilation[i]) for i in (0, 1)):
        raise ValueError(
            f"conv_transpose2d: output_padding {extra} must be smaller than the stride {stride} "
            f"or the dilation {dilation}"
        )
    x_shape, kernel = _shape(x), _shape(weight)[2:]
    size = tuple(
        (x_shape[2 + i] - 1) * stride[i]
        - 2 * padding[i]
        + dilation[i] * (kernel[i] - 1)
        + extra[i]
        + 1
        for i in (0, 1)
    )
    if min(size) < 1:
        raise ValueError(
            f"conv_transpose2d: the output would be empty ({size}) for an input {x_shape}, a "
            f"weight {_shape(weight)} and padding {padding}"
        )
    return ConvTranspose2d.apply(*inputs, output_padding=extra, **params)


class Conv2dWeight(Function):
    """conv2d's weight gradient: gw[o, c, p, q] = Σ_n,i,j gy[n, o, i, j] · x_pad[n, c, i·s + p·d,
    j·s + q·d], one batched product gy (N, G, O/G, L) @ colsᵀ, summed over the batch.

    Linear in x and in gy: the gradients are conv_transpose2d(gy, g) for x and conv2d(x, g)
    for gy (so a Hessian-vector product through a CNN runs on the same three ops)."""

    def forward(
        self,
        x: np.ndarray,
        gy: np.ndarray,
        kernel: Pair,
        cols: np.ndarray | None = None,
        **params: Any,
    ) -> np.ndarray:
        self.params = params
        self.save_for_backward(x, gy)
        o, (oh, ow), groups = gy.shape[1], gy.shape[2:], params["groups"]
        if cols is None:
            cols = _conv_cols(x, kernel, **params, out_size=(oh, ow))[0]
        gw = np.matmul(_channel_major(gy, groups), cols.swapaxes(1, 2))  # (G, O/G, C/G·kh·kw)
        return gw.reshape(o, x.shape[1] // groups, *kernel)

    def backward(self, grad: Any) -> tuple[Any, Any]:
        x, gy = self.saved_tensors
        gx = ggy = None
        if self.needs_input_grad[0]:
            extra = _output_padding(x.shape[2:], gy.shape[2:], grad.shape[2:], self.params)
            gx = run_op(ConvTranspose2d, gy, grad, output_padding=extra, **self.params)
        if self.needs_input_grad[1]:
            ggy = run_op(Conv2d, x, grad, **self.params)
            if ggy.shape[2:] != gy.shape[2:]:
                ggy = ggy[:, :, : gy.shape[2], : gy.shape[3]]
        return gx, ggy


def conv2d_weight(
    x: Any,
    weight_size: tuple[int, ...],
    grad_output: Any,
    stride: int | Pair = 1,
    padding: int | Pair = 0,
    dilation: int | Pair = 1,
    groups: int = 1,
) -> Tensor:
    """The gradient of conv2d with respect to its weight, given the output's gradient (as
    `torch.nn.grad.conv2d_weight`); differentiable again in x and grad_output."""
    weight_size = tuple(int(s) for s in weight_size)
    _, params = _conv_args(
        "conv2d_weight", x, np.empty(weight_size, np.int8), None, stride, padding, dilation, groups
    )
    oh, ow = _check_output(
        "conv2d_weight",
        _shape(x),
        weight_size[2:],
        params["stride"],
        params["padding"],
        params["dilation"],
    )
    expected = (_shape(x)[0], weight_size[0], oh, ow)
    if tuple(_shape(grad_output)) != expected:
        raise ValueError(
            f"conv2d_weight: grad_output has shape {_shape(grad_output)}, but conv2d of an input "
            f"{_shape(x)} with a weight {weight_size} gives {expected}"
        )
    return Conv2dWeight.apply(x, grad_output, kernel=weight_size[2:], **params)
