"""NumPy's functions and ufuncs on Tensors (findings 2 and 3 of issue 11): a NumPy function with
a minigrad op returns a differentiable Tensor, honours axis/keepdims, refuses an `out=` it
cannot honour; any other raises TypeError naming it. Under create_graph, a rule written with
NumPy calls records its steps, and a rule that returns a non-Tensor gradient is refused."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def leaf(values, dtype=np.float64):
    return mg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# -- users' NumPy calls keep the graph --------------------------------------------------------


def test_np_dot_and_concatenate_return_tensors_with_gradients():
    t = leaf([1.0, 2.0, 3.0])
    d = np.dot(t, t)
    assert isinstance(d, mg.Tensor) and d.requires_grad
    d.backward()
    np.testing.assert_array_equal(t.grad.data, [2.0, 4.0, 6.0])

    t.grad = None
    c = np.concatenate([t, t])
    assert isinstance(c, mg.Tensor) and c.shape == (6,)
    (c * np.arange(6.0)).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [3.0, 5.0, 7.0])


def test_np_sum_and_friends_honour_axis_and_keepdims():
    a = np.arange(6.0).reshape(2, 3)
    t = leaf(a)
    for f in (np.sum, np.mean, np.max, np.min, np.amax, np.amin):
        for kwargs in ({}, {"axis": 0}, {"axis": 1, "keepdims": True}, {"axis": (0, 1)}):
            out = f(t, **kwargs)
            assert isinstance(out, mg.Tensor) and out.requires_grad, (f, kwargs)
            np.testing.assert_array_equal(out.data, f(a, **kwargs))
    assert np.sum(t, 1).shape == (2,)  # positional axis
    np.sum(t, axis=0).sum().backward()
    np.testing.assert_array_equal(t.grad.data, np.ones((2, 3)))
    np.testing.assert_array_equal(np.add.reduce(t).data, a.sum(axis=0))  # ufunc.reduce: axis=0


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda t, a: np.where(a > 2, t, -t), lambda a: np.where(a > 2, a, -a)),
        (lambda t, a: np.matmul(t, t.T), lambda a: a @ a.T),
        (lambda t, a: np.stack([t, t], axis=1), lambda a: np.stack([a, a], axis=1)),
        (lambda t, a: np.reshape(t, (3, 2)), lambda a: a.reshape(3, 2)),
        (lambda t, a: np.ravel(t), np.ravel),
        (lambda t, a: np.transpose(t), np.transpose),
        (lambda t, a: np.transpose(t, (1, 0)), lambda a: a.transpose(1, 0)),
        (lambda t, a: np.swapaxes(t, 0, 1), lambda a: np.swapaxes(a, 0, 1)),
        (lambda t, a: np.expand_dims(t, (0, 3)), lambda a: np.expand_dims(a, (0, 3))),
        (lambda t, a: np.squeeze(np.expand_dims(t, 1)), lambda a: a),
        (lambda t, a: np.broadcast_to(t, (4, 2, 3)), lambda a: np.broadcast_to(a, (4, 2, 3))),
        (lambda t, a: np.clip(t, 1.0, 4.0), lambda a: np.clip(a, 1.0, 4.0)),
        (lambda t, a: np.maximum(t, 2.0), lambda a: np.maximum(a, 2.0)),
        (lambda t, a: np.minimum(2.0, t), lambda a: np.minimum(2.0, a)),
        (lambda t, a: np.tensordot(t, t, ([0], [0])), lambda a: np.tensordot(a, a, ([0], [0]))),
        (lambda t, a: np.tensordot(t, t), lambda a: np.tensordot(a, a)),
        (lambda t, a: np.tensordot(t, t.T, axes=1), lambda a: np.tensordot(a, a.T, axes=1)),
        (lambda t, a: np.dot(t, t.T), lambda a: np.dot(a, a.T)),
        (lambda t, a: np.pad(t, 1, constant_values=7), lambda a: np.pad(a, 1, constant_values=7)),
        (lambda t, a: np.pad(t, ((0, 1), (2, 0))), lambda a: np.pad(a, ((0, 1), (2, 0)))),
        (lambda t, a: np.exp(t) + np.log(t), lambda a: np.exp(a) + np.log(a)),
        (lambda t, a: np.sqrt(t), np.sqrt),
        (lambda t, a: np.tanh(t) * np.power(t, 2), lambda a: np.tanh(a) * a**2),
        (lambda t, a: np.abs(-t) ** 2 / 3 - np.negative(t), lambda a: np.abs(-a) ** 2 / 3 + a),
        (lambda t, a: np.copy(t), np.copy),
    ],
)
def test_numpy_functions_with_a_minigrad_op_are_differentiable(call, expected):
    a = np.arange(6.0).reshape(2, 3) + 0.5
    out = call(leaf(a), a)
    assert isinstance(out, mg.Tensor) and out.requires_grad
    np.testing.assert_allclose(out.data, expected(a))
    assert mg.gradcheck(lambda t: call(t, a), [a])


def test_np_dot_on_nd_operands_sums_the_last_and_second_to_last_axes():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((5, 4, 2))
    np.testing.assert_allclose(np.dot(leaf(a), b).data, np.dot(a, b))
    assert mg.gradcheck(lambda x, y: np.dot(x, y), [a, b])
    assert mg.gradcheck(lambda x: np.dot(x, 3.0), [a])


def test_shape_queries_work_on_tensors():
    t = leaf(np.zeros((2, 3)))
    assert np.shape(t) == (2, 3) and np.ndim(t) == 2 and np.size(t) == 6 and np.size(t, 1) == 3


def test_a_numpy_function_without_a_minigrad_op_raises_naming_it():
    t = leaf([1.0, 2.0])
    for call, name in [
        (lambda: np.cumsum(t), "numpy.cumsum"),
        (lambda: np.einsum("i,i->", t, t), "numpy.einsum"),
        (lambda: np.sort(t), "numpy.sort"),
        (lambda: np.sin(t), "numpy.sin"),
        (lambda: np.add.accumulate(t), "numpy.add.accumulate"),
        (lambda: np.pad(t, 1, mode="edge"), "mode='constant'"),
    ]:
        with pytest.raises(TypeError, match=name.replace(".", r"\.")):
            call()


def test_an_out_argument_that_cannot_be_honoured_is_refused_clearly():
    t = leaf([1.0, 2.0])
    for call in [
        lambda: np.sum(t, out=np.zeros(())),
        lambda: np.concatenate([t, t], out=np.zeros(4)),
        lambda: np.dot(t, t, out=np.zeros(())),
        lambda: np.max(t, out=np.zeros(())),
    ]:
        with pytest.raises(TypeError, match="out="):
            call()
    with pytest.raises(TypeError, match="dtype"):
        np.sum(t, dtype=np.float32)


def test_a_ufunc_writing_into_an_ndarray():
    """`arr -= t` writes into the ndarray; refused in grad mode when the result needs grad."""
    arr = np.array([5.0, 5.0])
    before = arr
    arr -= mg.tensor([1.0, 2.0], dtype=np.float64)  # no grad needed: the values go in
    assert arr is before
    np.testing.assert_array_equal(arr, [4.0, 3.0])
    t = leaf([1.0, 1.0])
    with pytest.raises(RuntimeError, match=r"numpy\.subtract.*dropping its gradient"):
        arr -= t
    np.testing.assert_array_equal(arr, [4.0, 3.0])  # unchanged
    with mg.no_grad():
        arr -= t
    np.testing.assert_array_equal(arr, [3.0, 2.0])


def test_a_ufunc_writing_into_a_tensor_is_an_in_place_change():
    t = mg.tensor([1.0, 2.0])
    data, version = t.data, t._version
    result = np.multiply(t, 3.0, out=t)
    assert result is t and t.data is data and t._version == version + 1
    np.testing.assert_array_equal(t.data, [3.0, 6.0])
    np.add.at(t, [0, 0], 1.0)
    np.testing.assert_array_equal(t.data, [5.0, 6.0])
    w = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        np.add(w, 1.0, out=w)


# -- rules written with NumPy calls, under create_graph (finding 2) ------------------------------


class NumpyRules(mg.Function):
    """z = Σ_i pad(x)_i·w_i-ish: a rule that uses np.where, np.pad and np.tensordot."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.where(x > 0, x * x, -x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        g = np.where(x > 0, 2 * x * grad, -grad)
        g = np.pad(g, 1)[1:-1]  # a padded round trip: the same values
        return (np.tensordot(g, np.ones(()), axes=0),)


def test_a_rule_written_with_numpy_functions_has_second_derivatives():
    x = leaf([-1.0, 0.5, 2.0])
    (g,) = mg.grad(NumpyRules.apply(x).sum(), x, create_graph=True)
    assert isinstance(g, mg.Tensor) and g.requires_grad
    np.testing.assert_array_equal(g.data, [-1.0, 1.0, 4.0])
    (h,) = mg.grad(g.sum(), x)
    np.testing.assert_array_equal(h.data, [0.0, 2.0, 2.0])


class DropsTheGraph(mg.Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved_tensors
        return (2 * np.asarray(x) * np.asarray(grad),)


class ScattersIntoAnArray(mg.Function):
    def forward(self, x):
        return x[[0, 0]]

    def backward(self, grad):
        out = np.zeros(2)
        np.add.at(out, [0, 0], grad)
        return (out,)


def test_a_rule_producing_a_non_tensor_gradient_under_create_graph_raises():
    x = leaf([1.0, 2.0])
    DropsTheGraph.apply(x).sum().backward()  # fine without create_graph
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    with pytest.raises(RuntimeError, match=r"DropsTheGraph\.backward returned a ndarray"):
        mg.grad(DropsTheGraph.apply(x).sum(), x, create_graph=True)
    y = ScattersIntoAnArray.apply(x)
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0 + 4.0, 4.0])
    with pytest.raises(RuntimeError, match=r"numpy\.add\.at"):  # the grad there requires grad
        mg.grad((ScattersIntoAnArray.apply(x) ** 2).sum(), x, create_graph=True)
