"""`mg.numerical_gradient` (the book's central differences) and `mg.gradcheck`, including a
deliberately wrong custom `mg.Function` that gradcheck must catch."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import arrays, shapes

import minigrad as mg

# -- numerical_gradient ----------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(a=arrays(shapes(max_side=3), st.floats(-2, 2)))
def test_numerical_gradient_of_a_sum_of_cubes(dtype, a):
    x = a.astype(dtype)
    before = x.copy()
    gradient = mg.numerical_gradient(lambda t: np.sum(t**3), x)
    assert gradient.shape == x.shape and gradient.dtype == dtype
    # In float32 each f(x±h) carries a rounding error of about ulp(f)·n, magnified by 1/2h.
    cubes = np.sum(np.abs(before.astype(np.float64)) ** 3)
    tolerance = 1e-2 + 1e-3 * x.size * cubes if dtype == np.float32 else 1e-6
    np.testing.assert_allclose(gradient, 3 * before.astype(np.float64) ** 2, atol=tolerance)
    np.testing.assert_array_equal(x, before)  # restored after


def test_numerical_gradient_of_a_tensor_and_a_model_style_closure():
    w = mg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64, requires_grad=True)
    x = mg.tensor([0.5, -1.0], dtype=np.float64)

    def loss(_):  # reads w from the enclosing scope, as the book's model does
        return ((x @ w) ** 2).sum()

    numeric = mg.numerical_gradient(loss, w)
    loss(w).backward()
    np.testing.assert_allclose(numeric, w.grad.data, rtol=1e-7)
    np.testing.assert_array_equal(w.data, [[1.0, 2.0], [3.0, 4.0]])
    assert mg.is_grad_enabled()


def test_numerical_gradient_of_a_0d_input_and_a_custom_eps():
    x = np.array(2.0)
    assert mg.numerical_gradient(lambda t: float(t) ** 2, x, eps=1e-3) == pytest.approx(4.0)
    assert mg.numerical_gradient(lambda t: t.sum() * 5, mg.tensor(3.0)).shape == ()


def test_numerical_gradient_of_a_non_contiguous_array():
    x = np.arange(6.0).reshape(2, 3).T
    gradient = mg.numerical_gradient(lambda t: (t * np.arange(6.0).reshape(3, 2)).sum(), x)
    np.testing.assert_allclose(gradient, np.arange(6.0).reshape(3, 2), rtol=1e-6)
    np.testing.assert_array_equal(x, np.arange(6.0).reshape(2, 3).T)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def f(t):
        if t[0] != 1.0:
            raise ZeroDivisionError
        return t.sum()

    with pytest.raises(ZeroDivisionError):
        mg.numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_gradient_needs_floating_values():
    with pytest.raises(TypeError, match="floating"):
        mg.numerical_gradient(lambda t: t.sum(), np.arange(3))
    with pytest.raises(TypeError, match="floating"):
        mg.numerical_gradient(lambda t: t, [1.0, 2.0])


# -- gradcheck -------------------------------------------------------------------------------------


def test_gradcheck_passes_on_correct_gradients_of_several_inputs():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    b = mg.tensor(rng.standard_normal(2), requires_grad=True)
    assert mg.gradcheck(lambda x, w, b: (x @ w + b).tanh(), [x, w, b]) is True
    assert mg.gradcheck(lambda x: x.sigmoid().sum(), x) is True
    assert mg.gradcheck(lambda x: x**2, mg.tensor(x, dtype=np.float32, requires_grad=True))


def test_gradcheck_works_in_float64_on_copies():
    x = mg.tensor([1.0, 2.0], requires_grad=True)  # float32
    seen = []

    def f(t):
        seen.append(t.dtype)
        return t * t

    assert mg.gradcheck(f, [x])
    assert set(seen) == {np.dtype(np.float64)}
    assert x.grad is None and x.dtype == np.float32


def test_gradcheck_skips_inputs_that_do_not_require_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])  # a constant: its wrong "gradient" is never looked at
    assert mg.gradcheck(lambda x, c: x * c, [x, c])


class WrongSquare(mg.Function):
    """x² with a wrong derivative, 2x + 0.5 at element 1 only."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved_tensors
        wrong = 2 * x
        wrong[1, 2] += 0.5
        return (grad * wrong,)


def test_gradcheck_names_the_input_the_worst_element_and_both_values():
    x = np.arange(12.0).reshape(3, 4) / 10
    y = np.ones(2)
    with pytest.raises(mg.GradcheckError) as info:
        mg.gradcheck(lambda y, x: WrongSquare.apply(x) * y.sum(), [y, x])
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "input 1" in message and "(1, 2)" in message
    assert "backprop" in message and "numerical" in message
    # Both values are reported: backprop's 2·0.6 + 0.5 and the true 2·0.6, each times the same
    # weight and y.sum(), so their ratio is 1.7 / 1.2.
    backprop, numeric = (float(v) for v in re.findall(r"\d+\.\d+(?:e-?\d+)?", message)[:2])
    assert backprop / numeric == pytest.approx(1.7 / 1.2, rel=1e-6)


def test_gradcheck_catches_a_gradient_of_the_wrong_shape():
    class WrongShape(mg.Function):
        def forward(self, x):
            return x.sum()

        def backward(self, grad):
            return (np.ones(5),)

    with pytest.raises(RuntimeError, match="shape"):
        mg.gradcheck(lambda x: WrongShape.apply(x), [np.ones(3)])


@pytest.mark.parametrize("returned", ["array", "too many"])
def test_a_backward_returning_the_wrong_number_of_gradients_is_named(returned):
    class Twice(mg.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad * 2 if returned == "array" else (grad * 2, grad)

    x = mg.tensor([1.0], requires_grad=True)  # one element: zip() would not notice an array
    with pytest.raises(RuntimeError, match=r"Twice.backward must return a tuple of 1 gradient"):
        Twice.apply(x).backward()


def test_gradcheck_reports_nan_gradients():
    class NanGradient(mg.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return (grad * np.nan,)

    with pytest.raises(mg.GradcheckError, match="input 0"):
        mg.gradcheck(lambda x: NanGradient.apply(x), [np.ones(3)])


def test_gradcheck_needs_a_tensor_result():
    with pytest.raises(TypeError, match="Tensor"):
        mg.gradcheck(lambda x: 1.0, [np.ones(2)])
