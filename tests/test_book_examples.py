"""The worked examples of chapter 5 of *Deep Learning from Scratch* (backpropagation), computed
by minigrad's engine: the shopping graphs, the chain rule, and the layers' backward rules."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def scalar(value: float, dtype=np.float64) -> mg.Tensor:
    return mg.tensor(value, dtype=dtype, requires_grad=True)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_buying_apples(dtype):
    """Two apples at 100 each, 10% tax: 220. dprice/dapple = 2.2, /dcount = 110, /dtax = 200."""
    apple, apple_num, tax = scalar(100, dtype), scalar(2, dtype), scalar(1.1, dtype)
    apple_price = apple * apple_num
    price = apple_price * tax
    assert price.item() == pytest.approx(220)
    price.backward()  # dprice = 1
    assert apple.grad.item() == pytest.approx(2.2)
    assert apple_num.grad.item() == pytest.approx(110)
    assert tax.grad.item() == pytest.approx(200)
    assert apple.grad.dtype == dtype


def test_buying_apples_and_oranges():
    """(100·2 + 150·3)·1.1 = 715, with the book's gradients."""
    apple, apple_num = scalar(100), scalar(2)
    orange, orange_num = scalar(150), scalar(3)
    tax = scalar(1.1)
    price = (apple * apple_num + orange * orange_num) * tax
    assert price.item() == pytest.approx(715)
    price.backward()
    expected = {
        "apple": (apple, 2.2),
        "apple_num": (apple_num, 110),
        "orange": (orange, 3.3),
        "orange_num": (orange_num, 165),
        "tax": (tax, 650),
    }
    for name, (t, value) in expected.items():
        assert t.grad.item() == pytest.approx(value), name


def test_chain_rule_of_a_squared_sum():
    """z = (x + y)²: dz/dx = dz/dt · dt/dx = 2t · 1 = 2(x + y)."""
    x = mg.tensor([1.0, -2.0, 3.5], dtype=np.float64, requires_grad=True)
    y = mg.tensor([0.5, 4.0, -1.0], dtype=np.float64, requires_grad=True)
    z = (x + y) ** 2
    z.backward(np.ones(3))
    np.testing.assert_allclose(x.grad.data, 2 * (x.data + y.data))
    np.testing.assert_allclose(y.grad.data, 2 * (x.data + y.data))


def test_sigmoid_gradient_is_y_times_one_minus_y():
    x = mg.tensor(np.linspace(-5, 5, 11), requires_grad=True)
    y = x.sigmoid()
    dout = np.linspace(0.5, 1.5, 11)
    y.backward(dout)
    np.testing.assert_allclose(x.grad.data, dout * y.data * (1 - y.data), rtol=1e-12)


def test_relu_passes_the_gradient_where_x_is_positive_only():
    x = mg.tensor([[1.0, -0.5], [-2.0, 3.0]], requires_grad=True)
    dout = np.array([[10.0, 20.0], [30.0, 40.0]], dtype=np.float32)
    x.relu().backward(dout)
    mask = x.data <= 0  # the book's Relu.mask
    np.testing.assert_array_equal(x.grad.data, np.where(mask, 0, dout))
    np.testing.assert_array_equal(x.grad.data, [[10.0, 0.0], [0.0, 40.0]])


def test_affine_layer_gradients():
    """Y = X·W + b: dX = dY·Wᵀ, dW = Xᵀ·dY, db = Σ dY over the batch."""
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    w = mg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(2), requires_grad=True)
    dy = rng.standard_normal((4, 2))
    (x @ w + b).backward(dy)
    np.testing.assert_allclose(x.grad.data, dy @ w.data.T)
    np.testing.assert_allclose(w.grad.data, x.data.T @ dy)
    np.testing.assert_allclose(b.grad.data, dy.sum(axis=0))
    assert (x.grad.shape, w.grad.shape, b.grad.shape) == ((4, 3), (3, 2), (2,))


def test_backprop_agrees_with_the_numerical_gradient_of_a_two_layer_net():
    """The book's gradient check: backprop and central differences agree on a small net."""
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((5, 4)), np.eye(3)[rng.integers(0, 3, 5)]
    params = {
        "W1": mg.tensor(rng.standard_normal((4, 6)) * 0.5, requires_grad=True),
        "b1": mg.zeros(6, dtype=np.float64, requires_grad=True),
        "W2": mg.tensor(rng.standard_normal((6, 3)) * 0.5, requires_grad=True),
        "b2": mg.zeros(3, dtype=np.float64, requires_grad=True),
    }

    def loss(_=None):
        h = (x @ params["W1"] + params["b1"]).sigmoid()
        y = h @ params["W2"] + params["b2"]
        log_softmax = y - mg.logsumexp(y, axis=1, keepdims=True)
        return -(log_softmax * t).sum() / len(x)

    loss().backward()
    for name, p in params.items():
        numeric = mg.numerical_gradient(loss, p)
        assert np.abs(p.grad.data - numeric).mean() < 1e-8, name
