"""Tensor: construction and dtype policy, creation functions, attributes, repr, operators with
NumPy arrays and Python scalars on either side."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg

# -- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "shape"),
    [(2.5, ()), (3, ()), ([1.0, 2.0], (2,)), ([[1, 2, 3], [4, 5, 6]], (2, 3)), ([], (0,))],
)
def test_python_numbers_and_lists_default_to_float32(data, shape):
    for t in (mg.tensor(data), mg.Tensor(data)):
        assert t.dtype == np.float32
        assert t.shape == shape
        np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float32))


def test_an_ndarray_keeps_its_dtype_and_memory():
    a = np.arange(6.0).reshape(2, 3)
    t = mg.tensor(a)
    assert t.dtype == np.float64
    assert t.data is a  # as torch.from_numpy
    assert mg.tensor(a.astype(np.float32)).dtype == np.float32
    assert mg.tensor(np.arange(3)).dtype == np.int64
    assert mg.tensor(np.float64(2.0)).dtype == np.float64


def test_a_tensor_from_a_tensor_shares_values_but_not_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = mg.tensor(x * 2)
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.data, [2.0, 4.0])


@pytest.mark.parametrize("dtype", [np.float64, np.float16, "float64"])
def test_explicit_dtype_is_kept_through_ops_and_gradients(dtype):
    x = mg.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=dtype, requires_grad=True)
    w = mg.tensor([[0.5], [-1.0]], dtype=dtype, requires_grad=True)
    y = ((x @ w).tanh() * 2 + x.exp().sum(axis=1, keepdims=True)).mean()
    assert y.dtype == np.dtype(dtype)
    y.backward()
    assert x.grad.dtype == np.dtype(dtype) and w.grad.dtype == np.dtype(dtype)


def test_bools_and_integers():
    assert mg.tensor([True, False]).dtype == np.bool_
    assert mg.tensor([1, 2], dtype=np.int64).dtype == np.int64
    assert mg.arange(5).dtype == np.int64


@pytest.mark.parametrize(
    "make",
    [
        lambda: mg.tensor([1, 2], dtype=np.int64, requires_grad=True),
        lambda: mg.tensor([True, False], requires_grad=True),
        lambda: mg.arange(3).requires_grad_(),
        lambda: mg.zeros(3, dtype=np.int32, requires_grad=True),
    ],
)
def test_integer_and_bool_tensors_cannot_require_grad(make):
    with pytest.raises(TypeError, match="floating-point"):
        make()


def test_an_op_with_an_integer_result_does_not_require_grad():
    x = mg.tensor([1.5, 2.5], requires_grad=True)
    y = x.astype(np.int64)
    assert y.dtype == np.int64
    assert not y.requires_grad


def test_objects_that_are_not_numbers_are_refused():
    with pytest.raises(TypeError):
        mg.tensor({"a": 1})


# -- creation functions --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [mg.zeros, mg.ones])
def test_zeros_and_ones(make):
    assert make(2, 3).shape == (2, 3)
    assert make((2, 3)).shape == (2, 3)
    assert make([4]).shape == (4,)
    assert make().shape == ()
    assert make(2).dtype == np.float32
    assert make(2, dtype=np.float64).dtype == np.float64
    assert make(2, requires_grad=True).requires_grad
    np.testing.assert_array_equal(make(3).data, [make is mg.ones] * 3)


def test_full_arange_and_likes():
    t = mg.full((2, 2), 7.0)
    assert t.dtype == np.float32 and (t.data == 7).all()
    assert mg.full(3, 1.5, dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(mg.arange(4).data, [0, 1, 2, 3])
    np.testing.assert_array_equal(mg.arange(1, 7, 2).data, [1, 3, 5])
    np.testing.assert_array_equal(mg.arange(10, step=3).data, [0, 3, 6, 9])
    assert mg.arange(np.int64(3)).dtype == np.int64  # NumPy integers count as integers
    np.testing.assert_allclose(mg.arange(0.0, 1.0, 0.25).data, [0, 0.25, 0.5, 0.75])
    assert mg.arange(0.0, 1.0, 0.25).dtype == np.float32

    x = mg.tensor(np.ones((2, 3)))
    for like, value in [(mg.zeros_like, 0), (mg.ones_like, 1)]:
        y = like(x)
        assert y.shape == (2, 3) and y.dtype == np.float64 and (y.data == value).all()
        assert like(x, dtype=np.float32).dtype == np.float32
        assert like(x.data).shape == (2, 3)
    with pytest.raises(ValueError, match="negative"):
        mg.zeros(-1, 2)


@pytest.mark.parametrize("make", [mg.randn, mg.rand])
def test_random_creation_is_reproducible(make):
    a = make(3, 4, seed=0)
    assert a.shape == (3, 4) and a.dtype == np.float32
    np.testing.assert_array_equal(a.data, make(3, 4, seed=0).data)
    assert not np.array_equal(a.data, make(3, 4, seed=1).data)

    r1, r2 = np.random.default_rng(5), np.random.default_rng(5)
    first = make((2, 2), rng=r1, dtype=np.float64)
    assert first.dtype == np.float64
    np.testing.assert_array_equal(first.data, make(2, 2, rng=r2, dtype=np.float64).data)
    fresh = make(2, 2, rng=np.random.default_rng(5))
    assert not np.array_equal(make(2, 2, rng=r1).data, fresh.data)  # a generator moves on

    assert make(2, requires_grad=True, seed=0).requires_grad
    with pytest.raises(ValueError, match="seed"):
        make(2, seed=0, rng=np.random.default_rng(0))


def test_rand_is_in_the_unit_interval():
    values = mg.rand(1000, seed=3).data
    assert values.min() >= 0 and values.max() < 1


# -- attributes ----------------------------------------------------------------------------------


def test_attributes():
    t = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert isinstance(t.data, np.ndarray)
    assert t.grad is None
    assert t.requires_grad is False
    assert t.shape == (2, 3)
    assert t.ndim == 2
    assert t.size == 6
    assert t.dtype == np.float32
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.data, t.data.T)
    assert len(t) == 2
    assert t.numpy() is t.data
    assert np.asarray(t) is t.data
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert t.is_leaf and t.grad_fn is None
    assert [row.shape for row in t] == [(3,), (3,)]


def test_item_and_conversions():
    t = mg.tensor(2.5)
    assert t.item() == 2.5 and isinstance(t.item(), float)
    assert float(t) == 2.5 and int(mg.tensor(3.0)) == 3
    assert mg.tensor([[4.0]]).item() == 4.0
    assert float(mg.tensor([[4.5]])) == 4.5 and int(mg.tensor([7.0])) == 7
    for convert in (lambda t: t.item(), float, int):
        with pytest.raises(ValueError):
            convert(mg.tensor([1.0, 2.0]))
    with pytest.raises(TypeError):
        len(t)


def test_repr():
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(mg.tensor([1.0, 2.0], requires_grad=True)) == (
        "tensor([1., 2.], requires_grad=True)"
    )
    assert repr(mg.tensor([1.0], dtype=np.float64)) == "tensor([1.], dtype=float64)"
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2., 4.], grad_fn=<Mul>)"
    text = repr(mg.tensor(np.ones((2, 2))))
    assert text.startswith("tensor([[1., 1.],") and "dtype=float64" in text


def test_requires_grad_detach_and_grad_assignment():
    x = mg.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    np.testing.assert_array_equal(d.data, y.data)
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad = False
    x.requires_grad_(False)
    assert not x.requires_grad


# -- operators with NumPy arrays and Python scalars ------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (lambda a, t: a + t, [3.0, 5.0]),
        (lambda a, t: a - t, [-1.0, -1.0]),
        (lambda a, t: a * t, [2.0, 6.0]),
        (lambda a, t: a / t, [0.5, 2 / 3]),
        (lambda a, t: a**t, [1.0, 8.0]),
        (lambda a, t: t + a, [3.0, 5.0]),
        (lambda a, t: 2 * t, [4.0, 6.0]),
        (lambda a, t: 1 - t, [-1.0, -2.0]),
        (lambda a, t: 1 / t, [0.5, 1 / 3]),
        (lambda a, t: 2**t, [4.0, 8.0]),
        (lambda a, t: -t, [-2.0, -3.0]),
        (lambda a, t: abs(-t), [2.0, 3.0]),
        (lambda a, t: +t, [2.0, 3.0]),
        (lambda a, t: np.exp(t), np.exp([2.0, 3.0])),
        (lambda a, t: np.maximum(a, t), [2.0, 3.0]),
        (lambda a, t: a[None, :] @ t, 8.0),
    ],
)
def test_operators_with_ndarrays_and_scalars_give_tensors(expression, expected):
    a = np.array([1.0, 2.0], dtype=np.float32)
    t = mg.tensor([2.0, 3.0], requires_grad=True)
    out = expression(a, t)
    assert isinstance(out, mg.Tensor)
    assert out.requires_grad
    np.testing.assert_allclose(np.squeeze(out.data), expected, rtol=1e-6)
    out.sum().backward()
    assert t.grad.shape == (2,)


def test_operators_with_lists():
    t = mg.tensor([1.0, 2.0])
    np.testing.assert_array_equal(mg.add(t, [1, 1]).data, [2.0, 3.0])
    np.testing.assert_array_equal(([1, 1] - t).data, [0.0, -1.0])
    assert (t * [2, 2]).dtype == np.float32


def test_in_place_assignment():
    t = mg.zeros(2, 3)
    t[0] = 1.0
    t[1, mg.tensor([0, 2], dtype=np.int64)] = 5.0
    np.testing.assert_array_equal(t.data, [[1, 1, 1], [5, 0, 5]])
    t.fill_(2.0)
    assert (t.data == 2).all()
    t.zero_()
    assert (t.data == 0).all()
    t.copy_(np.arange(3.0))
    np.testing.assert_array_equal(t.data, [[0, 1, 2], [0, 1, 2]])
    assert t.dtype == np.float32


def test_in_place_changes_of_a_tensor_requiring_grad_need_no_grad():
    w = mg.ones(3, requires_grad=True)
    for change in (lambda: w.__setitem__(0, 5.0), lambda: w.fill_(0.0), lambda: w.zero_()):
        with pytest.raises(RuntimeError, match="no_grad"):
            change()
    with mg.no_grad():
        w[0] = 5.0
    np.testing.assert_array_equal(w.data, [5.0, 1.0, 1.0])


def test_join_functions_reject_unknown_keywords():
    x = mg.ones(2)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        mg.cat([x, x], axes=0)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        mg.stack([x, x], dims=0)
    assert mg.cat([x, x], dim=0).shape == (4,) and mg.stack([x, x], dim=1).shape == (2, 2)
