"""Losses: the fused cross-entropy (the book's Softmax-with-Loss) and MSE against NumPy references,
the exact backward (softmax(x) - t)/N, stability for huge logits, double backward, dtypes, and the
error messages for bad labels, shapes and reductions."""

import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad_nn import functional as F  # noqa: N812 (PyTorch's spelling)
from minigrad_nn.losses import CrossEntropyLoss, MSELoss, SoftmaxWithLoss

STRICT = {"over": "raise", "divide": "raise", "invalid": "raise"}
REDUCTIONS = ["mean", "sum", "none"]


def logits_and_labels(n=5, c=4, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((n, c)) * 2, dtype=dtype, requires_grad=True)
    return x, rng.integers(0, c, n)


def np_softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def np_cross_entropy(x, t, reduction="mean"):
    """The reference: per-row -Σ t·ln softmax(x), t one-hot for class indices."""
    if t.dtype.kind in "iu":
        t = np.eye(x.shape[-1])[t]
    losses = -(t * np.log(np_softmax(x))).sum(axis=-1)
    return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]


def reduce_np(values, reduction):
    return {"mean": values.mean(), "sum": values.sum(), "none": values}[reduction]


# -- cross-entropy: values ---------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_numpy_for_labels_one_hot_and_soft_targets(reduction):
    x, t = logits_and_labels()
    one_hot = np.eye(4)[t]
    soft = np_softmax(np.random.default_rng(1).standard_normal((5, 4)))
    for target in (t, one_hot, soft):
        np.testing.assert_allclose(
            F.cross_entropy(x, target, reduction).data,
            np_cross_entropy(x.data, target, reduction),
            rtol=1e-12,
        )


@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 6)),
        elements=st.floats(-50, 50),
    ),
    st.data(),
)
def test_cross_entropy_property_against_numpy(x, data):
    t = np.array(
        data.draw(st.lists(st.integers(0, x.shape[1] - 1), min_size=len(x), max_size=len(x)))
    )
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    with np.errstate(**STRICT):
        loss = F.cross_entropy(x, t, reduction).data
    expected = np_cross_entropy(x, t, reduction)
    np.testing.assert_allclose(loss, expected, rtol=1e-9, atol=1e-9)
    assert (loss >= -1e-12).all()


def test_cross_entropy_single_sample_with_a_scalar_label():
    x, t = logits_and_labels(n=1)
    np.testing.assert_allclose(F.cross_entropy(x[0], t[0]).data, np_cross_entropy(x.data, t))
    assert F.cross_entropy(x[0], int(t[0]), reduction="none").shape == ()
    assert F.cross_entropy(x[0], np.eye(4)[t[0]]).shape == ()


def test_cross_entropy_label_smoothing_matches_the_mixed_target():
    x, t = logits_and_labels()
    mixed = np.eye(4)[t] * 0.8 + 0.2 / 4
    np.testing.assert_allclose(
        F.cross_entropy(x, t, label_smoothing=0.2).data, np_cross_entropy(x.data, mixed)
    )
    np.testing.assert_allclose(
        CrossEntropyLoss(label_smoothing=0.2)(x, np.eye(4)[t]).data, np_cross_entropy(x.data, mixed)
    )


def test_loss_modules_call_the_functional_form():
    x, t = logits_and_labels()
    assert SoftmaxWithLoss is CrossEntropyLoss
    np.testing.assert_array_equal(CrossEntropyLoss()(x, t).data, F.cross_entropy(x, t).data)
    np.testing.assert_array_equal(
        CrossEntropyLoss("none")(x, t).data, F.cross_entropy(x, t, "none").data
    )
    assert repr(CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


# -- cross-entropy: gradients ------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("one_hot", [False, True])
def test_cross_entropy_backward_is_softmax_minus_target(reduction, one_hot):
    x, t = logits_and_labels()
    target = np.eye(4)[t] if one_hot else t
    loss = F.cross_entropy(x, target, reduction)
    upstream = np.linspace(0.5, 2.0, 5) if reduction == "none" else None
    loss.backward(upstream)
    residual = np_softmax(x.data) - np.eye(4)[t]
    expected = {
        "mean": residual / 5,
        "sum": residual,
        "none": residual * np.linspace(0.5, 2.0, 5)[:, None],
    }[reduction]
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("target", ["labels", "one_hot", "soft"])
def test_cross_entropy_gradcheck(reduction, target):
    x, t = logits_and_labels(seed=2)
    targets = {
        "labels": t,
        "one_hot": np.eye(4)[t],
        "soft": np_softmax(np.random.default_rng(3).standard_normal((5, 4))),
    }
    assert mg.gradcheck(lambda x: F.cross_entropy(x, targets[target], reduction), [x])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_gradient_for_soft_targets_that_require_grad(reduction):
    x, _ = logits_and_labels(seed=4)
    t = mg.tensor(np_softmax(np.random.default_rng(5).standard_normal((5, 4))), requires_grad=True)
    assert mg.gradcheck(lambda x, t: F.cross_entropy(x, t, reduction), [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("one_hot", [False, True])
def test_cross_entropy_double_backward_matches_finite_differences(reduction, one_hot):
    x, t = logits_and_labels(n=3, c=4, seed=6)
    target = np.eye(4)[t] if one_hot else t

    def g(x):
        with mg.enable_grad():  # gradcheck's numerical pass runs under no_grad
            out = F.cross_entropy(x, target, reduction)
            w = np.linspace(0.5, 1.5, out.size).reshape(out.shape)
            (gx,) = mg.grad((out * w).sum(), [x], create_graph=True)
            return (gx * gx * gx).sum()

    assert mg.gradcheck(g, [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_stable_for_huge_logits(dtype, reduction):
    x = mg.tensor(
        [[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, -1e4]], dtype=dtype, requires_grad=True
    )
    t = np.array([0, 2, 1])
    with np.errstate(**STRICT):
        loss = F.cross_entropy(x, t, reduction)
        loss.backward(np.ones(loss.shape, dtype))
        one_hot_loss = F.cross_entropy(x, np.eye(3, dtype=dtype)[t], reduction)
    expected_rows = np.array([0.0, np.log(2.0), np.log(2.0)])
    np.testing.assert_allclose(loss.data, reduce_np(expected_rows, reduction), rtol=1e-6)
    np.testing.assert_allclose(one_hot_loss.data, loss.data, rtol=1e-6)
    assert np.isfinite(x.grad.data).all()


def test_cross_entropy_keeps_float32():
    x, t = logits_and_labels(dtype=np.float32)
    for target in (t, np.eye(4)[t], list(t)):  # a float64 one-hot, a list of ints
        x.grad = None
        loss = F.cross_entropy(x, target)
        loss.backward()
        assert loss.dtype == np.float32 and x.grad.dtype == np.float32


# -- cross-entropy: errors ---------------------------------------------------------------------


LABEL_DTYPES = ["int8", "int16", "int32", "int64", ">i8", "uint8", "uint64"]


@pytest.mark.parametrize(
    ("bad", "label_dtype"),
    [(b, d) for d in LABEL_DTYPES for b in (4, 9, -1, -128) if b >= 0 or not d.startswith("u")],
)
def test_cross_entropy_names_an_out_of_range_label(bad, label_dtype):
    x, t = logits_and_labels()
    t = t.astype(label_dtype)
    t[2] = bad
    with pytest.raises(ValueError, match=rf"label {bad} is out of range for 4 classes"):
        F.cross_entropy(x, t)
    with pytest.raises(ValueError, match=rf"label {bad} is out of range for 4 classes"):
        F.cross_entropy(x, t, label_smoothing=0.1)  # checked before becoming one-hot rows


@pytest.mark.parametrize("label_dtype", LABEL_DTYPES)
def test_cross_entropy_accepts_every_integer_label_dtype(label_dtype):
    x, t = logits_and_labels()
    t[0], t[1] = 0, 3  # both ends of the range
    expected = F.cross_entropy(x, t).item()
    assert F.cross_entropy(x, t.astype(label_dtype)).item() == expected


@pytest.mark.parametrize(
    "target", [np.zeros(4, int), np.zeros((5, 1), int), np.zeros((5, 3)), np.zeros((6, 4))]
)
def test_cross_entropy_names_both_shapes(target):
    x, _ = logits_and_labels()
    expected = f"target shape {target.shape} does not match logits shape (5, 4)"
    with pytest.raises(ValueError, match=re.escape(expected)):
        F.cross_entropy(x, target)


def test_cross_entropy_asks_for_int_labels_when_given_floats():
    x, t = logits_and_labels()
    with pytest.raises(
        ValueError, match=r"shape \(5,\) has dtype float64: class indices must be integers"
    ):
        F.cross_entropy(x, t.astype(np.float64))
    with pytest.raises(ValueError, match="must be integers"):
        F.cross_entropy(x, mg.tensor(t.tolist()))  # a Tensor from a list is float32


@pytest.mark.parametrize(
    "make", [lambda r: F.cross_entropy(*logits_and_labels(), r), CrossEntropyLoss, MSELoss]
)
def test_unknown_reduction_is_an_error(make):
    with pytest.raises(
        ValueError, match=r"unknown reduction 'avg': expected 'mean', 'sum' or 'none'"
    ):
        make("avg")


def test_cross_entropy_rejects_bad_logits_and_targets():
    with pytest.raises(
        ValueError, match=r"logits of shape \(N, C\) or \(C,\), got shape \(2, 3, 4\)"
    ):
        F.cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match="dtype bool is not supported"):
        F.cross_entropy(np.zeros((2, 3)), np.array([True, False]))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        CrossEntropyLoss(label_smoothing=1.5)


# -- MSE ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_matches_numpy_and_gradcheck(reduction):
    x, t = (
        mg.randn(3, 4, dtype=np.float64, requires_grad=True, seed=0),
        np.arange(12.0).reshape(3, 4),
    )
    np.testing.assert_allclose(
        F.mse_loss(x, t, reduction).data, reduce_np((x.data - t) ** 2, reduction)
    )
    np.testing.assert_array_equal(MSELoss(reduction)(x, t).data, F.mse_loss(x, t, reduction).data)
    assert mg.gradcheck(
        lambda x, t: F.mse_loss(x, t, reduction), [x, mg.tensor(t, requires_grad=True)]
    )


def test_mse_backward_is_two_residual_over_n():
    x = mg.randn(3, 4, dtype=np.float64, requires_grad=True, seed=1)
    t = np.ones((3, 4))
    F.mse_loss(x, t).backward()
    np.testing.assert_allclose(x.grad.data, 2 * (x.data - t) / 12)


def test_mse_keeps_float32_with_int_targets():
    x = mg.randn(2, 3, requires_grad=True, seed=0)
    loss = MSELoss()(x, np.zeros((2, 3), dtype=np.int64))
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_mse_names_both_shapes():
    with pytest.raises(ValueError, match=r"input shape \(4, 1\) and target shape \(4,\) differ"):
        F.mse_loss(np.zeros((4, 1)), np.zeros(4))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_gradient_does_not_depend_on_the_logits_memory_layout(reduction):
    rng = np.random.default_rng(3)
    values, t = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    grads = []
    for order in ("C", "F"):
        x = mg.tensor(np.asarray(values, order=order), dtype=np.float64, requires_grad=True)
        loss = F.cross_entropy(x, t, reduction=reduction)
        (loss * mg.tensor(np.arange(1.0, 6.0)) if reduction == "none" else loss).sum().backward()
        grads.append(x.grad.data)
    assert not np.asarray(values, order="F").flags.c_contiguous  # the case is really Fortran
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-15)
