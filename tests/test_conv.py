"""Convolution and pooling ops beyond the gradcheck table: PyTorch's values and gradients (first
and second order) where torch is installed, PyTorch's choice among tied maxima, the book's im2col
example, float32 kept, and one clear error for each kind of bad input."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

# (x shape, weight shape, stride, padding, dilation, groups)
CONV_CONFIGS = [
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, 1, 1),
    ((1, 4, 9, 9), (6, 2, 3, 2), (2, 3), (1, 2), 1, 2),  # groups, non-square everything
    ((2, 2, 8, 7), (2, 2, 2, 2), 3, 1, 1, 1),  # stride > kernel: pixels no window reads
    ((1, 3, 10, 9), (3, 1, 3, 3), 2, 2, (2, 1), 3),  # depthwise, dilated, padded
    ((3, 5, 4, 4), (2, 5, 1, 1), 1, 0, 1, 1),  # 1x1 kernel
    ((1, 1, 28, 28), (30, 1, 5, 5), 1, 0, 1, 1),  # the book's SimpleConvNet layer
]


def _torch():
    return pytest.importorskip("torch")


def _seeded(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding", "dilation", "groups"), CONV_CONFIGS
)
def test_conv2d_and_its_gradients_to_second_order_match_torch(
    x_shape, w_shape, stride, padding, dilation, groups, dtype
):
    torch = _torch()
    x, w, b = _seeded(x_shape, 0, dtype), _seeded(w_shape, 1, dtype), _seeded(w_shape[0], 2, dtype)
    params = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)

    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, **params)
    mx, mw, mb = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    y = mg.conv2d(mx, mw, mb, **params)
    assert y.dtype == dtype
    np.testing.assert_allclose(y.data, ty.detach().numpy(), **tol)

    # First order, kept as a graph; then the gradient of a function of the gradients.
    v = _seeded(y.shape, 3, dtype)
    t_grads = torch.autograd.grad((ty * torch.tensor(v)).sum(), (tx, tw, tb), create_graph=True)
    m_grads = mg.grad((y * v).sum(), [mx, mw, mb], create_graph=True)
    for g, tg in zip(m_grads, t_grads, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g.data, tg.detach().numpy(), **tol)
    u = [_seeded(a.shape, 4 + i, dtype) for i, a in enumerate((x, w))]
    t_second = torch.autograd.grad(
        sum((g * torch.tensor(c)).sum() for g, c in zip(t_grads[:2], u, strict=True)), (tx, tw)
    )
    m_second = mg.grad(sum((g * c).sum() for g, c in zip(m_grads[:2], u, strict=True)), [mx, mw])
    for g, tg in zip(m_second, t_second, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(g.data, tg.numpy(), **tol)


# (x shape, weight shape, stride, padding, output_padding, groups, dilation)
TRANSPOSE_CONFIGS = [
    ((2, 3, 4, 5), (3, 2, 3, 3), 1, 0, 0, 1, 1),
    ((1, 4, 3, 3), (4, 3, 2, 3), 2, (1, 0), (1, 0), 2, 1),
    ((2, 2, 3, 4), (2, 1, 3, 2), 3, 1, 2, 1, 1),  # stride > kernel
    ((1, 2, 4, 3), (2, 2, 3, 3), 1, 1, 1, 1, 2),  # output_padding >= stride (allowed by dilation)
]


@pytest.mark.parametrize(
    ("x_shape", "w_shape", "stride", "padding", "output_padding", "groups", "dilation"),
    TRANSPOSE_CONFIGS,
)
def test_conv_transpose2d_and_its_gradients_to_second_order_match_torch(
    x_shape, w_shape, stride, padding, output_padding, groups, dilation
):
    torch = _torch()
    x, w = _seeded(x_shape, 0), _seeded(w_shape, 1)
    b = _seeded(w_shape[1] * groups, 2)
    args = (stride, padding, output_padding, groups, dilation)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv_transpose2d(tx, tw, tb, *args)
    mx, mw, mb = (mg.tensor(a, requires_grad=True) for a in (x, w, b))
    y = mg.conv_transpose2d(mx, mw, mb, *args)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-10)

    v = _seeded(y.shape, 3)
    t_grads = torch.autograd.grad((ty * torch.tensor(v)).sum(), (tx, tw, tb), create_graph=True)
    m_grads = mg.grad((y * v).sum(), [mx, mw, mb], create_graph=True)
    for g, tg in zip(m_grads, t_grads, strict=True):
        np.testing.assert_allclose(g.data, tg.detach().numpy(), rtol=1e-10, atol=1e-10)
    u = [_seeded(a.shape, 4 + i) for i, a in enumerate((x, w))]
    t_second = torch.autograd.grad(
        sum((g * torch.tensor(c)).sum() for g, c in zip(t_grads[:2], u, strict=True)), (tx, tw)
    )
    m_second = mg.grad(sum((g * c).sum() for g, c in zip(m_grads[:2], u, strict=True)), [mx, mw])
    for g, tg in zip(m_second, t_second, strict=True):
        np.testing.assert_allclose(g.data, tg.numpy(), rtol=1e-10, atol=1e-10)


# (x shape, kernel, stride, padding, dilation)
POOL_CONFIGS = [
    ((2, 3, 24, 24), 2, None, 0, 1),  # the book's pooling: windows tile the image
    ((1, 2, 7, 9), 3, 2, 1, 1),  # overlapping windows over a padded border
    ((2, 1, 9, 8), (3, 2), (1, 2), (1, 1), 1),
    ((1, 2, 9, 9), 2, 3, 0, 1),  # stride > kernel
    ((1, 1, 9, 10), 3, 1, 0, 2),  # dilated
    ((1, 1, 5, 5), 2, None, 0, 1),  # odd size: the last row and column are never read
]


@pytest.mark.parametrize("values", ["normal", "ties"])
@pytest.mark.parametrize(("x_shape", "kernel", "stride", "padding", "dilation"), POOL_CONFIGS)
def test_pooling_and_its_gradients_match_torch_ties_included(
    x_shape, kernel, stride, padding, dilation, values
):
    torch = _torch()
    rng = np.random.default_rng(0)
    if values == "ties":  # few distinct values: most windows have a tied maximum (as after ReLU)
        x = rng.integers(-1, 2, x_shape).astype(np.float32)
    else:
        x = rng.standard_normal(x_shape).astype(np.float32)
    v = rng.standard_normal(x_shape).astype(np.float32)  # sliced to the output's shape below
    tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
    ty = torch.nn.functional.max_pool2d(tx, kernel, stride, padding, dilation)
    y = mg.max_pool2d(mx, kernel, stride, padding, dilation)
    grad = v[tuple(slice(n) for n in y.shape)]
    ty.backward(torch.tensor(grad))
    y.backward(grad)
    assert y.dtype == mx.grad.dtype == np.float32
    np.testing.assert_array_equal(y.data, ty.detach().numpy())
    np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), rtol=1e-6, atol=1e-6)

    if dilation != 1:
        return  # avg_pool2d has no dilation
    for include in (True, False):
        tx, mx = torch.tensor(x, requires_grad=True), mg.tensor(x, requires_grad=True)
        ty = torch.nn.functional.avg_pool2d(tx, kernel, stride, padding, count_include_pad=include)
        y = mg.avg_pool2d(mx, kernel, stride, padding, count_include_pad=include)
        ty.backward(torch.tensor(grad))
        y.backward(grad)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(mx.grad.data, tx.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_max_pool_sends_a_tied_gradient_to_the_first_maximum_of_each_window():
    """PyTorch's rule: scan the window row by row, keep the first of equal maxima. With all
    values equal, each 2x2 window (stride 1) gives its gradient to its top-left element."""
    x = mg.zeros((1, 1, 4, 4), requires_grad=True)
    mg.max_pool2d(x, 2, stride=1).sum().backward()
    expected = np.zeros((4, 4))
    expected[:3, :3] = 1
    np.testing.assert_array_equal(x.grad.data[0, 0], expected)

    x = mg.tensor([[[[1.0, 3.0], [3.0, 2.0]]]], requires_grad=True)
    mg.max_pool2d(x, 2).backward(mg.ones((1, 1, 1, 1)))
    np.testing.assert_array_equal(x.grad.data[0, 0], [[0, 1], [0, 0]])


def test_im2col_as_in_the_book_and_col2im_its_adjoint():
    """The book's example (chapter 7.4.3): 7x7 images, 5x5 windows, stride 1: 9 windows a
    picture, each a row of 3·5·5 = 75 values."""
    x1 = np.random.default_rng(0).random((1, 3, 7, 7))
    assert mg.im2col(x1, 5, 5, stride=1, padding=0).shape == (9, 75)
    x2 = np.random.default_rng(1).random((10, 3, 7, 7))
    cols = mg.im2col(x2, 5, 5)
    assert cols.shape == (90, 75)
    np.testing.assert_array_equal(cols.data[0], x2[0, :, :5, :5].ravel())  # first window
    np.testing.assert_array_equal(cols.data[1], x2[0, :, :5, 1:6].ravel())  # one step right

    # <im2col(x), c> = <x, col2im(c)>: col2im is im2col's adjoint (its backward).
    c = np.random.default_rng(2).random(cols.shape)
    back = mg.col2im(c, x2.shape, 5, 5)
    assert back.shape == x2.shape
    np.testing.assert_allclose((cols.data * c).sum(), (x2 * back.data).sum(), rtol=1e-12)

    # When the windows tile the image, col2im undoes im2col exactly.
    x = np.arange(2 * 3 * 4 * 6, dtype=np.float32).reshape(2, 3, 4, 6)
    np.testing.assert_array_equal(
        mg.col2im(mg.im2col(x, 2, 3, stride=(2, 3)), x.shape, 2, 3, stride=(2, 3)).data, x
    )


def test_conv2d_is_the_im2col_matrix_product():
    rng = np.random.default_rng(0)
    x, w, b = rng.random((2, 3, 6, 5)), rng.random((4, 3, 3, 2)), rng.random(4)
    out = mg.conv2d(x, w, b, stride=(1, 2), padding=1)
    cols = mg.im2col(x, 3, 2, stride=(1, 2), padding=1).data
    n, o, oh, ow = out.shape
    by_hand = (cols @ w.reshape(4, -1).T + b).reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out.data, by_hand, rtol=1e-12)


def test_float32_in_float32_out_everywhere():
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.random((2, 2, 6, 6), dtype=np.float32), requires_grad=True)
    w = mg.tensor(rng.random((2, 2, 3, 3), dtype=np.float32), requires_grad=True)
    y = mg.conv2d(x, w, padding=1)
    z = mg.conv_transpose2d(y, w, stride=2)
    out = mg.avg_pool2d(mg.max_pool2d(z, 2), 2, padding=1).sum()
    assert y.dtype == z.dtype == out.dtype == np.float32
    (gx,) = mg.grad(out, [x], create_graph=True)
    assert gx.dtype == np.float32
    (gx * gx).sum().backward()
    assert w.grad.dtype == np.float32


def test_a_frozen_input_gets_no_gradient_and_no_work():
    x = mg.tensor(np.ones((1, 1, 4, 4)))  # data: requires no grad
    w = mg.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    mg.conv2d(x, w).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.data, np.full((1, 1, 3, 3), 4.0))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: mg.conv2d(np.ones((2, 3, 5, 5)), np.ones((4, 2, 3, 3))),
            r"input \(2, 3, 5, 5\) has 3 channels but the weight \(4, 2, 3, 3\) with groups=1 "
            r"expects 2",
        ),
        (
            lambda: mg.conv2d(np.ones((1, 1, 2, 5)), np.ones((1, 1, 3, 3))),
            r"output would be empty: input \(1, 1, 2, 5\) padded to \(2, 5\) is smaller than the "
            r"kernel \(3, 3\)",
        ),
        (
            lambda: mg.conv2d(np.ones((1, 4, 5, 5)), np.ones((3, 2, 3, 3)), groups=2),
            r"groups=2 must divide the input's 4 channels .* and the 3 output channels",
        ),
        (
            lambda: mg.conv2d(np.ones((1, 3, 5, 5)), np.ones((3, 1, 3, 3)), groups=2),
            r"groups=2 must divide the input's 3 channels \(input \(1, 3, 5, 5\)\)",
        ),
        (
            lambda: mg.conv2d(np.ones((3, 5, 5)), np.ones((1, 3, 3, 3))),
            r"expected an input of shape \(N, C, H, W\), got \(3, 5, 5\)",
        ),
        (
            lambda: mg.conv2d(np.ones((1, 1, 5, 5)), np.ones((2, 1, 3, 3)), np.ones(3)),
            r"bias of shape \(3,\), expected \(2,\)",
        ),
        (
            lambda: mg.conv2d(np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)), stride=0),
            r"stride must be at least 1",
        ),
        (
            lambda: mg.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((3, 1, 3, 3))),
            r"input \(1, 2, 3, 3\) has 2 channels but the weight \(3, 1, 3, 3\)",
        ),
        (
            lambda: mg.conv_transpose2d(
                np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3)), stride=2, output_padding=2
            ),
            r"output_padding \(2, 2\) must be smaller than the stride \(2, 2\)",
        ),
        (
            lambda: mg.max_pool2d(np.ones((1, 1, 4, 4)), 2, padding=2),
            r"padding \(2, 2\) must be at most half the kernel \(2, 2\)",
        ),
        (
            lambda: mg.avg_pool2d(np.ones((1, 1, 1, 4)), 2),
            r"output would be empty: input \(1, 1, 1, 4\)",
        ),
        (
            lambda: mg.col2im(np.ones((5, 4)), (1, 1, 3, 3), 2, 2),
            r"cols of shape \(5, 4\) do not fit input_shape \(1, 1, 3, 3\) .* expected \(4, 4\)",
        ),
    ],
)
def test_bad_input_gets_one_clear_error_naming_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()
