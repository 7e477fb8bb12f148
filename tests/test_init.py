"""`nn.init`: PyTorch's gain table, fans for minigrad's (in, out) layout, the statistics of each
initialiser on large tensors, seeding, and in-place writes that keep identity and dtype."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad_nn import init
from minigrad_nn.module import Parameter

LARGE = (500, 400)  # (out, in) as PyTorch: fan_in 400, fan_out 500: 200,000 samples


def param(*shape, dtype=np.float32):
    return Parameter(np.zeros(shape, dtype=dtype))


@pytest.mark.parametrize(
    ("nonlinearity", "param_", "gain"),
    [
        ("linear", None, 1.0),
        ("conv2d", None, 1.0),
        ("conv_transpose3d", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("leaky_relu", 0, math.sqrt(2)),
        ("selu", None, 0.75),
    ],
)
def test_calculate_gain_is_pytorchs_table(nonlinearity, param_, gain):
    assert init.calculate_gain(nonlinearity, param_) == pytest.approx(gain, rel=1e-15)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


def test_fans_follow_pytorchs_out_in_layout():
    assert init.calculate_fan_in_and_fan_out(param(50, 784)) == (784, 50)
    assert init.calculate_fan_in_and_fan_out(np.zeros((16, 3, 5, 5))) == (75, 400)
    with pytest.raises(ValueError, match=r"shape \(7,\).*at least 2 dimensions"):
        init.calculate_fan_in_and_fan_out(param(7))


def sample(fn, *args, dtype=np.float32, **kwargs):
    t = param(*LARGE, dtype=dtype)
    out = fn(t, *args, seed=0, **kwargs)
    assert out is t and t.dtype == dtype and t.requires_grad
    return t.data.astype(np.float64)


@pytest.mark.parametrize(
    ("fn", "kwargs", "bound"),
    [
        (init.uniform_, {"a": -0.3, "b": 0.7}, None),
        (init.xavier_uniform_, {}, math.sqrt(6 / 900)),
        (init.xavier_uniform_, {"gain": 2.0}, 2 * math.sqrt(6 / 900)),
        (init.kaiming_uniform_, {}, math.sqrt(6 / 400)),
        (init.kaiming_uniform_, {"a": math.sqrt(5)}, 1 / math.sqrt(400)),
        (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, math.sqrt(6 / 500)),
    ],
)
def test_uniform_initialisers_fill_their_bounds(fn, kwargs, bound):
    values = sample(fn, **kwargs)
    low, high = (-0.3, 0.7) if bound is None else (-bound, bound)
    assert low <= values.min() < low + 0.01 * (high - low)
    assert high - 0.01 * (high - low) < values.max() <= high
    assert values.std() == pytest.approx((high - low) / math.sqrt(12), rel=0.01)


@pytest.mark.parametrize(
    ("fn", "kwargs", "mean", "std"),
    [
        (init.normal_, {"mean": 1.5, "std": 0.2}, 1.5, 0.2),
        (init.xavier_normal_, {}, 0.0, math.sqrt(2 / 900)),
        (init.kaiming_normal_, {"nonlinearity": "relu"}, 0.0, math.sqrt(2 / 400)),
        (
            init.kaiming_normal_,
            {"mode": "fan_out", "nonlinearity": "tanh"},
            0.0,
            5 / 3 / math.sqrt(500),
        ),
    ],
)
def test_normal_initialisers_have_their_std(fn, kwargs, mean, std):
    values = sample(fn, **kwargs)
    assert values.mean() == pytest.approx(mean, abs=0.01 * std)
    assert values.std() == pytest.approx(std, rel=0.01)


@pytest.mark.parametrize(
    "fn", [init.uniform_, init.normal_, init.xavier_uniform_, init.kaiming_normal_]
)
def test_seeded_initialisers_are_reproducible(fn):
    a, b, c = param(30, 20), param(30, 20), param(30, 20)
    fn(a, seed=3)
    fn(b, rng=np.random.default_rng(3))
    fn(c, seed=4)
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    with pytest.raises(ValueError, match="seed= or rng=, not both"):
        fn(a, seed=1, rng=np.random.default_rng(1))


def test_unseeded_initialisers_differ():
    a, b = param(30, 20), param(30, 20)
    init.kaiming_uniform_(a)
    init.kaiming_uniform_(b)
    assert not np.array_equal(a.data, b.data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_in_place_writes_keep_identity_dtype_and_work_in_grad_mode(dtype):
    t = param(3, 4, dtype=dtype)
    data = t.data
    assert mg.is_grad_enabled()
    assert init.constant_(t, 0.25) is t and (t.data == 0.25).all()
    assert init.ones_(t) is t and (t.data == 1).all()
    assert init.zeros_(t) is t and (t.data == 0).all()
    init.xavier_normal_(t, seed=0)
    assert t.data is data and t.dtype == dtype


def test_initialisers_accept_plain_arrays():
    array = np.zeros((10, 20), dtype=np.float32)
    assert init.kaiming_uniform_(array, seed=0) is array
    assert np.abs(array).max() <= math.sqrt(6 / 20)
    assert init.ones_(array).sum() == 200


def test_kaiming_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan_avg'"):
        init.kaiming_normal_(param(3, 4), mode="fan_avg")
