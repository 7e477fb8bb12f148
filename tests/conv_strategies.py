"""Examples and NumPy references for the convolution and pooling rows of the gradcheck table.

Shapes are small (a float64 gradcheck perturbs every element twice) but cover the cases that
break convolution code: stride larger than the kernel, padding, dilation, groups, 1x1 kernels,
a batch of one, odd and non-square sizes, and sizes that leave rows no window reaches.

The references are written another way than minigrad's ops: convolution and pooling reduce
`sliding_window_view` windows with `einsum` / `max` (minigrad copies the windows into columns
for a matrix product), the transposed convolution scatters one input pixel at a time (minigrad
adds one kernel position at a time), and im2col / col2im are the book's loops."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.stride_tricks import sliding_window_view
from strategies import arrays, distinct

# -- examples -----------------------------------------------------------------------------------


def _spelled(draw: st.DrawFn, pair: tuple[int, int]) -> int | tuple[int, int]:
    """An int when both sides agree and a coin says so, else the pair (PyTorch takes both)."""
    return pair[0] if pair[0] == pair[1] and draw(st.booleans()) else pair


@st.composite
def window_geometry(draw: st.DrawFn, max_padding: str = "any", dilation: bool = True):
    """kernel, stride, padding, dilation (pairs) and an image size (H, W) with >= 1 window."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if max_padding == "half":  # pooling: at most half the kernel
        padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    else:
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    if max_padding == "half" and max(dil) > 1:
        # A dilated pooling window over padding can miss the image entirely: no maximum there.
        padding = (0, 0)
    size = tuple(
        max(1, dil[i] * (kernel[i] - 1) + 1 - 2 * padding[i]) + draw(st.integers(0, 3))
        for i in range(2)
    )
    return kernel, stride, padding, dil, size


@st.composite
def conv2d_example(draw: st.DrawFn):
    kernel, stride, padding, dilation, (h, w) = draw(window_geometry())
    groups, n = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    xs = [draw(arrays((n, c, h, w))), draw(arrays((o, c // groups, *kernel)))]
    if draw(st.booleans()):
        xs.append(draw(arrays((o,))))
    params = {
        "stride": _spelled(draw, stride),
        "padding": _spelled(draw, padding),
        "dilation": _spelled(draw, dilation),
        "groups": groups,
    }
    return tuple(xs), params


@st.composite
def conv_transpose2d_example(draw: st.DrawFn):
    kernel, stride, padding, dilation, _ = draw(window_geometry())
    groups, n = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    extra = tuple(draw(st.integers(0, max(stride[i], dilation[i]) - 1)) for i in range(2))
    # An input size whose output is not empty: (H - 1)s - 2p + d(k - 1) + op + 1 >= 1.
    size = []
    for i in range(2):
        h = 1
        while (h - 1) * stride[i] - 2 * padding[i] + dilation[i] * (kernel[i] - 1) + extra[i] < 0:
            h += 1
        size.append(h + draw(st.integers(0, 2)))
    xs = [draw(arrays((n, c_in, *size))), draw(arrays((c_in, c_out // groups, *kernel)))]
    if draw(st.booleans()):
        xs.append(draw(arrays((c_out,))))
    params = {
        "stride": _spelled(draw, stride),
        "padding": _spelled(draw, padding),
        "output_padding": _spelled(draw, extra),
        "dilation": _spelled(draw, dilation),
        "groups": groups,
    }
    return tuple(xs), params


@st.composite
def conv2d_weight_example(draw: st.DrawFn):
    """x and an output gradient of conv2d's output shape; weight_size says the kernel."""
    kernel, stride, padding, dilation, (h, w) = draw(window_geometry())
    groups, n = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    oh, ow = (
        (size + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
        for i, size in enumerate((h, w))
    )
    xs = (draw(arrays((n, c, h, w))), draw(arrays((n, o, oh, ow))))
    params = {
        "weight_size": (o, c // groups, *kernel),
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
        "groups": groups,
    }
    return xs, params


@st.composite
def pool_example(draw: st.DrawFn, kind: str):
    """Max pooling draws distinct values (a tie has no derivative); average pooling any."""
    dilation = kind == "max"
    kernel, stride, padding, dil, (h, w) = draw(window_geometry("half", dilation=dilation))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    params: dict[str, Any] = {
        "kernel_size": _spelled(draw, kernel),
        "stride": None if draw(st.booleans()) and kind == "max" else _spelled(draw, stride),
        "padding": _spelled(draw, padding),
    }
    if kind == "max":
        params["dilation"] = _spelled(draw, dil)
        return (draw(distinct(shape)),), params
    params["count_include_pad"] = draw(st.booleans())
    return (draw(arrays(shape)),), params


@st.composite
def im2col_example(draw: st.DrawFn):
    kernel, stride, padding, dilation, (h, w) = draw(window_geometry())
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    params = {"kh": kernel[0], "kw": kernel[1], "stride": stride, "padding": padding}
    if draw(st.booleans()):
        params["dilation"] = dilation
    return (draw(arrays(shape)),), params


@st.composite
def col2im_example(draw: st.DrawFn):
    (x,), params = draw(im2col_example())
    rows = book_im2col(x, **params).shape
    return (draw(arrays(rows)),), {"input_shape": x.shape, **params}


# -- references ---------------------------------------------------------------------------------


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _window_view(x, kernel, stride, padding, dilation, fill=0.0):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel, stride, padding, dilation))
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=fill)
    span = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    return sliding_window_view(xp, span, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]


def conv2d_ref(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    win = _window_view(x, w.shape[2:], stride, padding, dilation)
    n, c, oh, ow, kh, kw = win.shape
    o = w.shape[0]
    win = win.reshape(n, groups, c // groups, oh, ow, kh, kw)
    wg = w.reshape(groups, o // groups, c // groups, kh, kw)
    out = np.einsum("ngchwpq,gocpq->ngohw", win, wg).reshape(n, o, oh, ow)
    return out if b is None else out + b.reshape(-1, 1, 1)


def conv_transpose2d_ref(x, w, b=None, stride=1, padding=0, output_padding=0, dilation=1, groups=1):
    """Each input pixel (i, j) adds w · x[:, :, i, j] to the output patch it reaches."""
    (sh, sw), (ph, pw), (eh, ew), (dh, dw) = map(_pair, (stride, padding, output_padding, dilation))
    n, c_in, h, wd = x.shape
    _, og, kh, kw = w.shape
    full = ((h - 1) * sh + dh * (kh - 1) + 1 + eh, (wd - 1) * sw + dw * (kw - 1) + 1 + ew)
    out = np.zeros((n, groups * og, *full))
    wg = w.reshape(groups, c_in // groups, og, kh, kw)
    xg = x.reshape(n, groups, c_in // groups, h, wd)
    for i in range(h):
        for j in range(wd):
            patch = np.einsum("ngc,gcopq->ngopq", xg[:, :, :, i, j], wg).reshape(n, -1, kh, kw)
            out[:, :, i * sh : i * sh + dh * (kh - 1) + 1 : dh,
                j * sw : j * sw + dw * (kw - 1) + 1 : dw] += patch  # fmt: skip
    out = out[:, :, ph : full[0] - ph, pw : full[1] - pw]
    return out if b is None else out + b.reshape(-1, 1, 1)


def conv2d_weight_ref(x, gy, weight_size, stride, padding, dilation, groups):
    win = _window_view(x, weight_size[2:], stride, padding, dilation)
    n, c, oh, ow, kh, kw = win.shape
    o = gy.shape[1]
    win = win.reshape(n, groups, c // groups, oh, ow, kh, kw)
    gyg = gy.reshape(n, groups, o // groups, oh, ow)
    return np.einsum("ngohw,ngchwpq->gocpq", gyg, win).reshape(weight_size)


def max_pool2d_ref(x, kernel_size, stride=None, padding=0, dilation=1):
    stride = kernel_size if stride is None else stride
    win = _window_view(x, kernel_size, stride, padding, dilation, fill=-np.inf)
    return win.max(axis=(-2, -1))


def avg_pool2d_ref(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    stride = kernel_size if stride is None else stride
    total = _window_view(x, kernel_size, stride, padding, 1).sum(axis=(-2, -1))
    if count_include_pad:
        return total / np.prod(_pair(kernel_size))
    ones = np.ones((1, 1, *x.shape[2:]))
    return total / _window_view(ones, kernel_size, stride, padding, 1).sum(axis=(-2, -1))


def book_im2col(x, kh, kw, stride=1, padding=0, dilation=1):
    """The book's im2col (common/util.py), with pairs and dilation."""
    (sh, sw), (ph, pw), (dh, dw) = map(_pair, (stride, padding, dilation))
    n, c, h, w = x.shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    img = np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)])
    col = np.zeros((n, c, kh, kw, oh, ow))
    for y in range(kh):
        for x_ in range(kw):
            col[:, :, y, x_] = img[
                :, :, y * dh : y * dh + sh * oh : sh, x_ * dw : x_ * dw + sw * ow : sw
            ]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * oh * ow, -1)


def book_col2im(col, input_shape, kh, kw, stride=1, padding=0, dilation=1):
    """The book's col2im (common/util.py), with pairs and dilation."""
    (sh, sw), (ph, pw), (dh, dw) = map(_pair, (stride, padding, dilation))
    n, c, h, w = input_shape
    oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    col = col.reshape(n, oh, ow, c, kh, kw).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * ph + sh - 1, w + 2 * pw + sw - 1))
    for y in range(kh):
        for x_ in range(kw):
            img[:, :, y * dh : y * dh + sh * oh : sh, x_ * dw : x_ * dw + sw * ow : sw] += col[
                :, :, y, x_
            ]
    return img[:, :, ph : h + ph, pw : w + pw]


@st.composite
def max_unpool2d_example(draw: st.DrawFn):
    """Max pooling's backward on its own: a gradient per window and, for each window, which of
    its kh·kw positions held the maximum (any of them, so overlapping windows may share one)."""
    kernel, stride, padding, dilation, (h, w) = draw(window_geometry("half"))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    oh, ow = (
        (size + 2 * padding[i] - dilation[i] * (kernel[i] - 1) - 1) // stride[i] + 1
        for i, size in enumerate((h, w))
    )
    argmax = draw(
        hnp.arrays(np.uint8, (n, c, oh, ow), elements=st.integers(0, kernel[0] * kernel[1] - 1))
    )
    params = {
        "argmax": argmax,
        "size": (h, w),
        "kernel": kernel,
        "stride": stride,
        "padding": padding,
        "dilation": dilation,
    }
    return (draw(arrays((n, c, oh, ow))),), params


def max_unpool2d_ref(grad, argmax, size, kernel, stride, padding, dilation):
    """Window by window: add the window's gradient at its maximum's place."""
    n, c, oh, ow = grad.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    out = np.zeros((n, c, size[0] + 2 * ph, size[1] + 2 * pw))
    for i in range(oh):
        for j in range(ow):
            p, q = np.divmod(argmax[:, :, i, j], kernel[1])
            for b in range(n):
                for ch in range(c):
                    out[b, ch, i * sh + p[b, ch] * dh, j * sw + q[b, ch] * dw] += grad[b, ch, i, j]
    return out[:, :, ph : ph + size[0], pw : pw + size[1]]
