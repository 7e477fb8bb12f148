"""`nn.functional`: activations, softmax and log-softmax, dropout, linear and batch_norm against
NumPy references, their gradients by gradcheck in float64, and float32 kept end to end."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad_nn import functional as F  # noqa: N812 (PyTorch's spelling)

STRICT = {"over": "raise", "divide": "raise", "invalid": "raise"}


def randn(*shape, seed=0, dtype=np.float64):
    return mg.randn(*shape, dtype=dtype, requires_grad=True, seed=seed)


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def second_order(f):
    """Σ (∂ Σ w·f / ∂x)³, a function whose gradient needs the double backward of f."""

    def g(x):
        with mg.enable_grad():  # gradcheck's numerical pass runs under no_grad
            out = f(x)
            w = np.linspace(0.5, 1.5, out.size).reshape(out.shape)
            (gx,) = mg.grad((out * w).sum(), [x], create_graph=True)
            return (gx * gx * gx).sum()

    return g


# -- activations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "ref"),
    [
        (F.relu, lambda x: np.maximum(x, 0)),
        (F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
        (F.tanh, np.tanh),
    ],
)
def test_activations_match_numpy_and_gradcheck(fn, ref):
    x = randn(4, 5)
    np.testing.assert_allclose(fn(x).data, ref(x.data), rtol=1e-12)
    assert mg.gradcheck(fn, [x + 0.01])  # keep relu away from its kink at exactly 0


@pytest.mark.parametrize("fn", [F.relu, F.sigmoid, F.tanh, F.softmax, F.log_softmax])
def test_activations_keep_float32(fn):
    x = randn(3, 4, dtype=np.float32)
    y = fn(x)
    y.backward(np.ones(y.shape, np.float32))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_activations_accept_ndarrays_and_lists():
    assert F.relu(np.array([-1.0, 2.0])).tolist() == [0.0, 2.0]
    assert F.softmax([0.0, 0.0]).dtype == np.float32
    np.testing.assert_allclose(F.softmax([0.0, 0.0]).data, [0.5, 0.5])


# -- softmax and log-softmax -------------------------------------------------------------------


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_match_numpy(axis):
    x = randn(3, 4, 5)
    np.testing.assert_allclose(F.softmax(x, axis).data, np_softmax(x.data, axis), rtol=1e-12)
    np.testing.assert_allclose(
        F.log_softmax(x, axis).data, np.log(np_softmax(x.data, axis)), rtol=1e-12
    )


def test_softmax_accepts_dim():
    x = randn(3, 4)
    np.testing.assert_array_equal(F.softmax(x, dim=0).data, F.softmax(x, 0).data)
    np.testing.assert_array_equal(F.log_softmax(x, dim=0).data, F.log_softmax(x, 0).data)


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_gradcheck(fn, axis):
    assert mg.gradcheck(lambda x: fn(x, axis), [randn(3, 4)])


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_double_backward(fn):
    assert mg.gradcheck(second_order(lambda x: fn(x, -1)), [randn(2, 3, seed=3)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax])
def test_softmax_stable_for_huge_logits(fn, dtype):
    x = mg.tensor([[1e4, -1e4, 0.0], [1e4, 1e4, -1e4]], dtype=dtype, requires_grad=True)
    with np.errstate(**STRICT):
        y = fn(x)
        y.backward(np.ones(y.shape, dtype))
    assert np.isfinite(y.data).all() and np.isfinite(x.grad.data).all()
    probs = F.softmax(x).data
    np.testing.assert_allclose(probs, [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=st.floats(-1e3, 1e3),
    ),
    st.floats(-100, 100),
)
def test_softmax_properties(x, shift):
    with np.errstate(**STRICT):
        probs = F.softmax(x).data
        shifted = F.softmax(x + shift).data
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(probs, np_softmax(x), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(shifted, probs, rtol=1e-9, atol=1e-12)


# -- dropout -----------------------------------------------------------------------------------


def test_dropout_identity_when_not_training_or_p_zero():
    x = randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_dropout_scales_kept_units_and_keeps_the_mean():
    x = mg.ones(200, 500)
    y = F.dropout(x, 0.3, seed=0).data
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.01
    assert abs(y.mean() - 1.0) < 0.02
    assert y.dtype == np.float32


def test_dropout_p_one_drops_everything():
    x = randn(3, 4)
    y = F.dropout(x, 1.0, seed=0)
    assert (y.data == 0).all()
    y.sum().backward()
    assert (x.grad.data == 0).all()


def test_dropout_is_seeded():
    x = randn(5, 6)
    np.testing.assert_array_equal(F.dropout(x, seed=3).data, F.dropout(x, seed=3).data)
    a = F.dropout(x, rng=np.random.default_rng(3)).data
    np.testing.assert_array_equal(a, F.dropout(x, seed=3).data)
    assert not np.array_equal(F.dropout(x, seed=3).data, F.dropout(x, seed=4).data)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(ValueError, match=r"dropout probability must be in \[0, 1\]"):
        F.dropout(randn(2), p)


def test_dropout_gradcheck_with_fixed_seed():
    assert mg.gradcheck(lambda x: F.dropout(x, 0.4, seed=7), [randn(4, 5)])


# -- linear ------------------------------------------------------------------------------------


def test_linear_is_pytorchs_and_affine_the_books():
    x, w, b = randn(4, 3, seed=1), randn(2, 3, seed=2), randn(2, seed=3)  # w: (out, in)
    np.testing.assert_allclose(F.linear(x, w, b).data, x.data @ w.data.T + b.data)
    np.testing.assert_allclose(F.linear(x, w).data, x.data @ w.data.T)
    np.testing.assert_allclose(F.linear(x[0], w, b).data, w.data @ x.data[0] + b.data)
    assert mg.gradcheck(F.linear, [x, w, b])
    assert mg.gradcheck(F.linear, [x, w])
    wt = randn(3, 2, seed=2)  # (in, out)
    np.testing.assert_allclose(F.affine(x, wt, b).data, x.data @ wt.data + b.data)
    assert mg.gradcheck(F.affine, [x, wt, b])


def test_linear_converts_array_input_to_the_weight_dtype():
    w = randn(2, 3, dtype=np.float32)
    assert F.linear(np.ones((4, 3)), w).dtype == np.float32  # a float64 ndarray
    assert F.affine(np.ones((4, 2)), w).dtype == np.float32


@pytest.mark.parametrize("bias", [True, False])
def test_linear_shape_error_names_both_shapes(bias):
    b = randn(3) if bias else None
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(3, 2\)"):
        F.linear(randn(4, 5), randn(3, 2), b)


# -- batch_norm --------------------------------------------------------------------------------


def test_batch_norm_training_normalises_and_updates_running_stats():
    x = randn(8, 3, seed=4) * 3 + 2
    mean, var = np.zeros(3), np.ones(3)
    y = F.batch_norm(x, mean, var, training=True, momentum=0.1)
    np.testing.assert_allclose(y.data.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(y.data.var(axis=0), 1, rtol=1e-4)  # eps = 1e-5
    np.testing.assert_allclose(mean, 0.1 * x.data.mean(axis=0))
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.data.var(axis=0, ddof=1))


def test_batch_norm_eval_uses_running_stats():
    x = randn(5, 3)
    mean, var = np.array([1.0, 2.0, 3.0]), np.array([4.0, 1.0, 0.25])
    w, b = randn(3, seed=1), randn(3, seed=2)
    y = F.batch_norm(x, mean, var, w, b, training=False, eps=0.0)
    np.testing.assert_allclose(y.data, (x.data - mean) / np.sqrt(var) * w.data + b.data)


def test_batch_norm_three_dims_uses_batch_and_length():
    x = randn(4, 3, 5)
    y = F.batch_norm(x, None, None, training=True).data
    np.testing.assert_allclose(y.mean(axis=(0, 2)), 0, atol=1e-12)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2)])
def test_batch_norm_gradcheck_in_training(shape):
    x, w, b = randn(*shape), randn(3, seed=1), randn(3, seed=2)
    assert mg.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])


def test_batch_norm_gradcheck_in_eval():
    x = randn(4, 3)
    mean, var = np.array([0.5, -1.0, 0.0]), np.array([2.0, 0.5, 1.0])
    assert mg.gradcheck(lambda x: F.batch_norm(x, mean, var, training=False), [x])


def test_batch_norm_needs_two_values_per_channel_in_training():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        F.batch_norm(randn(1, 3), np.zeros(3), np.ones(3), training=True)
