"""Layers: Linear/Affine, activations, Dropout, BatchNorm1d, Flatten and Identity. Shapes and
initialisation, gradients by gradcheck in float64, train/eval behaviour, BatchNorm's running
statistics against PyTorch's update formula, reprs, float32 kept, and a TwoLayerNet that learns."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad_nn import functional as F  # noqa: N812 (PyTorch's spelling)
from minigrad_nn import optim
from minigrad_nn.layers import (
    Affine,
    BatchNorm1d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from minigrad_nn.losses import CrossEntropyLoss
from minigrad_nn.module import Module, Sequential


def randn(*shape, seed=0, dtype=np.float64):
    return mg.randn(*shape, dtype=dtype, requires_grad=True, seed=seed)


def check_parameter_grads(module, x):
    """Backprop gradients of Σ w·module(x) for each parameter against central differences."""
    out = module(x)
    w = np.random.default_rng(0).uniform(0.5, 1.5, out.shape)

    def loss():
        return float((module(x).data * w).sum())

    module.zero_grad()
    (module(x) * w).sum().backward()
    for name, p in module.named_parameters():
        numeric = mg.numerical_gradient(lambda _: loss(), p, eps=1e-6)
        np.testing.assert_allclose(p.grad.data, numeric, rtol=1e-5, atol=1e-7, err_msg=name)


# -- Linear ------------------------------------------------------------------------------------


def test_linear_shapes_init_bounds_and_repr():
    layer = Linear(784, 50, seed=0)
    assert layer.weight.shape == (50, 784) and layer.bias.shape == (50,)  # PyTorch's (out, in)
    bound = 1 / math.sqrt(784)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32 and p.requires_grad
        assert np.abs(p.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.95 * bound
    assert repr(layer) == "Linear(in_features=784, out_features=50, bias=True)"
    assert repr(Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"


def test_linear_is_seeded():
    a, b = Linear(20, 10, seed=1), Linear(20, 10, rng=np.random.default_rng(1))
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    assert not np.array_equal(Linear(20, 10, seed=2).weight.data, a.weight.data)
    assert not np.array_equal(Linear(20, 10).weight.data, Linear(20, 10).weight.data)
    assert not np.array_equal(a.weight.data[0, :], a.bias.data)  # bias drawn after the weight


def test_linear_forward_and_no_bias():
    layer = Linear(3, 2, bias=False, dtype=np.float64, seed=0)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    x = randn(4, 3)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T)


def test_affine_is_the_books_layer_with_w_in_out():
    affine = Affine(784, 50, seed=0)
    assert [(n, p.shape) for n, p in affine.named_parameters()] == [("W", (784, 50)), ("b", (50,))]
    assert np.abs(affine.W.data).max() <= 1 / math.sqrt(784)
    assert repr(affine) == "Affine(in_features=784, out_features=50, bias=True)"
    x = randn(4, 784, seed=1)
    np.testing.assert_allclose(affine(x).data, x.data @ affine.W.data + affine.b.data, rtol=1e-5)
    linear = Linear(784, 50, seed=0)  # the same draws, stored transposed
    np.testing.assert_array_equal(linear.weight.data, affine.W.data.reshape(50, 784))
    no_bias = Affine(3, 2, bias=False, dtype=np.float64, seed=0)
    assert no_bias.b is None and [n for n, _ in no_bias.named_parameters()] == ["W"]
    assert mg.gradcheck(lambda x, w: F.affine(x, w), [randn(5, 3, seed=2), no_bias.W])


def test_linear_state_dict_round_trips_with_torch():
    """A torch MLP's state_dict, as arrays, loads into the same minigrad model with equal
    logits; and a minigrad state dict loads into torch."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(12, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    ours = Sequential(Linear(12, 7), ReLU(), Linear(7, 3))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 12)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(x).numpy(), expected, rtol=1e-5, atol=1e-6)

    back = Sequential(Linear(12, 7, seed=1), ReLU(), Linear(7, 3, seed=2))
    fresh = torch.nn.Sequential(torch.nn.Linear(12, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in back.state_dict().items()})
    with torch.no_grad():
        np.testing.assert_allclose(fresh(torch.from_numpy(x)).numpy(), back(x).numpy(),
                                   rtol=1e-5, atol=1e-6)
    # PyTorch's initialisation: both uniform in ±1/√in_features
    big = Linear(400, 300, seed=0)
    assert np.abs(big.weight.data).max() == pytest.approx(1 / math.sqrt(400), rel=0.01)
    assert np.abs(big.bias.data).max() == pytest.approx(1 / math.sqrt(400), rel=0.05)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(bias):
    layer = Linear(3, 4, bias=bias, dtype=np.float64, seed=0)
    x = randn(5, 3, seed=1)
    assert mg.gradcheck(lambda x, *p: F.linear(x, *p), [x, *layer.parameters()])
    check_parameter_grads(layer, x)


# -- activations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layer", "fn"),
    [
        (ReLU(), F.relu),
        (Sigmoid(), F.sigmoid),
        (Tanh(), F.tanh),
        (Softmax(), F.softmax),
        (Softmax(axis=0), lambda x: F.softmax(x, 0)),
        (Softmax(dim=0), lambda x: F.softmax(x, 0)),
        (LogSoftmax(dim=1), lambda x: F.log_softmax(x, 1)),
    ],
)
def test_activation_layers(layer, fn):
    x = randn(4, 5, seed=2) + 0.01
    np.testing.assert_array_equal(layer(x).data, fn(x).data)
    assert mg.gradcheck(layer, [x])


def test_activation_reprs():
    assert repr(ReLU()) == "ReLU()"
    assert repr(Softmax(dim=1)) == "Softmax(axis=1)"
    assert repr(Sequential(Linear(2, 3), Tanh())) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): Tanh()\n)"
    )


# -- Dropout -----------------------------------------------------------------------------------


def test_dropout_train_and_eval():
    layer = Dropout(0.25, seed=0)
    x = mg.ones(100, 100)
    y = layer(x).data
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert not np.array_equal(layer(x).data, y)  # each call draws a new mask
    layer.eval()
    assert layer(x) is x
    assert repr(layer) == "Dropout(p=0.25)"


def test_dropout_is_seeded_and_validates_p():
    x = mg.ones(10, 10)
    np.testing.assert_array_equal(Dropout(seed=5)(x).data, Dropout(seed=5)(x).data)
    assert (Dropout(1.0, seed=0)(x).data == 0).all()
    with pytest.raises(ValueError, match=r"in \[0, 1\], got 1.5"):
        Dropout(1.5)


def test_dropout_gradcheck_with_fixed_seed():
    assert mg.gradcheck(lambda x: Dropout(0.5, seed=3)(x), [randn(6, 4)])


# -- BatchNorm1d -------------------------------------------------------------------------------


def test_batchnorm_running_stats_follow_pytorchs_update():
    bn = BatchNorm1d(3, momentum=0.2, dtype=np.float64)
    mean, var = np.zeros(3), np.ones(3)
    rng = np.random.default_rng(0)
    for step in range(1, 4):
        x = rng.normal(2.0, 3.0, (8, 3))
        y = bn(x).data
        mean = 0.8 * mean + 0.2 * x.mean(axis=0)
        var = 0.8 * var + 0.2 * x.var(axis=0, ddof=1)  # unbiased for the running update
        normalised = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)  # biased in train
        np.testing.assert_allclose(y, normalised, rtol=1e-10)
        np.testing.assert_allclose(bn.running_mean, mean, rtol=1e-12)
        np.testing.assert_allclose(bn.running_var, var, rtol=1e-12)
        assert bn.num_batches_tracked == step


def test_batchnorm_eval_uses_running_stats():
    bn = BatchNorm1d(2, dtype=np.float64)
    bn.running_mean[:] = [1.0, -1.0]
    bn.running_var[:] = [4.0, 0.25]
    with mg.no_grad():
        bn.weight.data[:] = [2.0, 1.0]
        bn.bias.data[:] = [0.5, 0.0]
    bn.eval()
    x = np.array([[3.0, 0.0], [1.0, -1.0]])
    expected = (x - [1.0, -1.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5) * [2.0, 1.0] + [0.5, 0]
    np.testing.assert_allclose(bn(x).data, expected)
    assert bn.num_batches_tracked == 0
    np.testing.assert_array_equal(bn.running_mean, [1.0, -1.0])


def test_batchnorm_cumulative_average_and_no_tracking():
    bn = BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [np.random.default_rng(i).normal(i, 1.0, (5, 2)) for i in range(3)]
    for x in batches:
        bn(x)
    np.testing.assert_allclose(bn.running_mean, np.mean([x.mean(axis=0) for x in batches], axis=0))
    free = BatchNorm1d(2, track_running_stats=False, affine=False).eval()
    assert free.running_mean is None and list(free.parameters()) == []
    y = free(batches[2]).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-6)  # batch statistics even in eval
    assert list(free.state_dict()) == []


def test_batchnorm_three_dims_and_shape_errors():
    bn = BatchNorm1d(3, dtype=np.float64)
    x = np.random.default_rng(0).normal(1.0, 2.0, (4, 3, 5))
    np.testing.assert_allclose(bn(x).data.mean(axis=(0, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2)))
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3\).*got \(4, 2\)"):
        bn(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.zeros((1, 3)))
    assert bn.num_batches_tracked == 1  # the failed calls changed nothing


def test_batchnorm_gradients_in_train_mode():
    bn = BatchNorm1d(3, dtype=np.float64)
    with mg.no_grad():
        bn.weight.data[:] = [0.5, 1.5, -1.0]
        bn.bias.data[:] = [0.1, 0.2, 0.3]
    x = randn(6, 3, seed=4)
    assert mg.gradcheck(bn, [x])
    check_parameter_grads(bn, x)


def test_batchnorm_buffers_and_repr():
    bn = BatchNorm1d(50)
    assert list(bn.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert bn.state_dict()["num_batches_tracked"].dtype == np.int64
    assert repr(bn) == (
        "BatchNorm1d(50, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    )


# -- Flatten and Identity ----------------------------------------------------------------------


def test_flatten_and_identity():
    x = randn(2, 3, 4, 5)
    assert Flatten()(x).shape == (2, 60)
    assert Flatten(0, 1)(x).shape == (6, 4, 5)
    assert Flatten(start_dim=2)(np.zeros((2, 3, 4, 5))).shape == (2, 3, 20)
    assert mg.gradcheck(Flatten(), [x])
    assert repr(Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert Identity(54, unused=1)(x) is x


# -- float32 end to end ------------------------------------------------------------------------


def test_float32_in_float32_out_and_grads():
    model = Sequential(
        Flatten(),
        Linear(12, 8, seed=0),
        BatchNorm1d(8),
        ReLU(),
        Dropout(0.2, seed=0),
        Linear(8, 6, seed=1),
        Tanh(),
        Sigmoid(),
        Softmax(),
    )
    x = mg.randn(5, 3, 4, seed=0)
    out = model(x)
    loss = CrossEntropyLoss()(out, np.arange(5) % 6)
    loss.backward()
    assert out.dtype == loss.dtype == np.float32
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == np.float32, name
    for name, buffer in model.named_buffers():
        assert buffer.dtype == (np.int64 if "num_batches" in name else np.float32), name


# -- learning ----------------------------------------------------------------------------------


class TwoLayerNet(Module):
    def __init__(self, n_in=784, n_hidden=50, n_out=10, seed=None):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.fc1 = Linear(n_in, n_hidden, rng=rng)
        self.act = ReLU()
        self.fc2 = Linear(n_hidden, n_out, rng=rng)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def test_two_layer_net_models_built_with_one_seed_are_equal():
    a, b = TwoLayerNet(seed=0).state_dict(), TwoLayerNet(seed=0).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_two_layer_net_memorises_random_labels():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 784), dtype=np.float32)
    t = rng.integers(0, 10, 200)
    model, loss_fn = TwoLayerNet(seed=0), CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=0.1)
    for _ in range(200):
        logits = model(x)
        if (logits.data.argmax(axis=1) == t).all():
            break
        loss = loss_fn(logits, t)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with mg.no_grad():
        accuracy = (model(x).data.argmax(axis=1) == t).mean()
    assert accuracy == 1.0
    assert all(p.dtype == np.float32 for p in model.parameters())
