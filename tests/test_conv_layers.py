"""Convolution, pooling and batch-normalisation layers, and the book's CNNs: PyTorch's parameter
names, shapes and initialisation, PyTorch's values for the same weights, running statistics, and
the SimpleConvNet / DeepConvNet architectures of the book's chapters 7 and 8."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
import minigrad_nn as nn
from minigrad_nn.models import DeepConvNet, SimpleConvNet


def test_conv2d_parameters_as_pytorch():
    conv = nn.Conv2d(6, 4, (3, 2), stride=2, padding=1, groups=2, seed=0)
    assert [(name, p.shape) for name, p in conv.named_parameters()] == [
        ("weight", (4, 3, 3, 2)),
        ("bias", (4,)),
    ]
    assert conv.weight.dtype == conv.bias.dtype == np.float32
    bound = 1 / np.sqrt(3 * 3 * 2)  # fan_in = in_channels/groups · kh · kw
    for p in (conv.weight, conv.bias):
        assert np.abs(p.data).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.8 * bound  # uniform over the whole range
    assert repr(conv) == "Conv2d(6, 4, kernel_size=(3, 2), stride=(2, 2), padding=(1, 1), groups=2)"
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None
    np.testing.assert_array_equal(
        nn.Conv2d(1, 2, 3, seed=5).weight.data, nn.Conv2d(1, 2, 3, seed=5).weight.data
    )

    transposed = nn.ConvTranspose2d(4, 6, 3, stride=2, output_padding=1, groups=2)
    assert transposed.weight.shape == (4, 3, 3, 3)  # (in, out/groups, kh, kw)
    assert transposed.bias.shape == (6,)
    assert np.abs(transposed.weight.data).max() <= 1 / np.sqrt(3 * 9)
    with pytest.raises(ValueError, match=r"groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)


def test_layers_compute_their_functions_and_keep_float32():
    x = np.random.default_rng(0).random((2, 3, 9, 8), dtype=np.float32)
    conv = nn.Conv2d(3, 4, 3, padding=1, seed=0)
    y = conv(x)
    np.testing.assert_allclose(
        y.data, mg.conv2d(x, conv.weight, conv.bias, padding=1).data, rtol=1e-6
    )
    assert y.dtype == np.float32
    assert conv(x.astype(np.float64)).dtype == np.float32  # an ndarray takes the weight's dtype
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, mg.max_pool2d(x, 2).data)
    np.testing.assert_array_equal(
        nn.AvgPool2d(3, stride=2, padding=1)(x).data, mg.avg_pool2d(x, 3, 2, 1).data
    )
    up = nn.ConvTranspose2d(3, 2, 2, stride=2, seed=0)
    assert up(x).shape == (2, 2, 18, 16)


def test_batchnorm2d_running_statistics_and_eval_mode():
    rng = np.random.default_rng(0)
    bn = nn.BatchNorm2d(3)
    x = rng.normal(2.0, 3.0, (8, 3, 5, 4)).astype(np.float32)
    y = bn(x)
    per_channel = y.data.transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(per_channel.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(per_channel.std(axis=1), 1, atol=1e-3)
    flat = x.transpose(1, 0, 2, 3).reshape(3, -1)
    np.testing.assert_allclose(bn.running_mean, 0.1 * flat.mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * flat.var(axis=1, ddof=1), rtol=1e-5)
    assert int(bn.num_batches_tracked) == 1

    bn.eval()
    out = bn(x)
    expected = (x - bn.running_mean.reshape(1, 3, 1, 1)) / np.sqrt(
        bn.running_var.reshape(1, 3, 1, 1) + bn.eps
    )
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-5)
    assert int(bn.num_batches_tracked) == 1  # evaluation changes nothing
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expects input of shape \(N, 3, H, W\)"):
        bn(np.ones((2, 3)))


def _torch_cnn(torch):
    """A small PyTorch classifier using every layer of this module, and a Linear head."""
    tnn = torch.nn
    return tnn.Sequential(
        tnn.Conv2d(1, 6, 3, padding=1),
        tnn.BatchNorm2d(6),
        tnn.ReLU(),
        tnn.MaxPool2d(2),
        tnn.Conv2d(6, 8, 3, stride=2, groups=2, dilation=1),
        tnn.ReLU(),
        tnn.ConvTranspose2d(8, 4, 2, stride=2),
        tnn.AvgPool2d(2),
        tnn.Conv2d(4, 10, 1),
        tnn.AvgPool2d(3),
        tnn.Flatten(),
        tnn.Linear(10, 10),
    )


def _minigrad_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 8, 3, stride=2, groups=2, dilation=1),
        nn.ReLU(),
        nn.ConvTranspose2d(8, 4, 2, stride=2),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 10, 1),
        nn.AvgPool2d(3),
        nn.Flatten(),
        nn.Linear(10, 10),
    )


def test_a_pytorch_cnn_state_dict_loads_and_predicts_the_same_logits():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    reference = _torch_cnn(torch)
    x = np.random.default_rng(0).random((5, 1, 14, 14), dtype=np.float32)
    reference.train()
    reference(torch.tensor(x))  # one training batch: BatchNorm's running statistics move
    reference.eval()
    state = {k: v.numpy() for k, v in reference.state_dict().items()}

    model = _minigrad_cnn()
    assert sorted(model.state_dict()) == sorted(state)
    for key, value in model.state_dict().items():
        assert np.shape(value) == state[key].shape, key
    model.load_state_dict(state)
    model.eval()
    with torch.no_grad():
        expected = reference(torch.tensor(x)).numpy()
    logits = model(x)
    assert logits.shape == (5, 10)
    np.testing.assert_allclose(logits.data, expected, rtol=1e-4, atol=1e-5)

    # Training mode too: batch statistics, and the same gradients for every parameter.
    reference.train()
    model.train()
    out = reference(torch.tensor(x))
    (out * out).sum().backward()
    mine = model(x)
    (mine * mine).sum().backward()
    np.testing.assert_allclose(mine.data, out.detach().numpy(), rtol=1e-4, atol=1e-5)
    grads = {name: p.grad for name, p in reference.named_parameters()}
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, grads[name].numpy(), rtol=1e-3, atol=1e-4)


def test_simple_conv_net_is_the_books():
    model = SimpleConvNet(seed=0)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert shapes == {
        "conv1.weight": (30, 1, 5, 5),
        "conv1.bias": (30,),
        "fc1.W": (30 * 12 * 12, 100),  # the book's Affine: W is (in, out)
        "fc1.b": (100,),
        "fc2.W": (100, 10),
        "fc2.b": (10,),
    }
    assert list(dict(model.named_children())) == [
        "conv1",
        "relu1",
        "pool1",
        "flatten",
        "fc1",
        "relu2",
        "fc2",
    ]
    weights = model.conv1.weight.data
    assert abs(weights.std() - 0.01) < 0.002  # the book's weight_init_std
    assert not model.conv1.bias.data.any()
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    assert model(x).shape == (3, 10)
    np.testing.assert_array_equal(SimpleConvNet(seed=0)(x).data, model(x).data)

    small = SimpleConvNet((3, 16, 16), {"filter_num": 8, "filter_size": 3, "pad": 1}, 20, 5)
    assert small.fc1.W.shape == (8 * 8 * 8, 20)
    assert small(np.zeros((2, 3, 16, 16), np.float32)).shape == (2, 5)
    he = SimpleConvNet(weight_init_std="he", seed=1)
    assert abs(he.conv1.weight.data.std() - np.sqrt(2 / 25)) < 0.05
    with pytest.raises(ValueError, match=r"too small"):
        SimpleConvNet((1, 4, 4))


def test_deep_conv_net_is_the_books():
    model = DeepConvNet(seed=0)
    convs = [(name, p.shape) for name, p in model.named_parameters() if p.ndim > 1]
    assert convs == [
        ("conv1.weight", (16, 1, 3, 3)),
        ("conv2.weight", (16, 16, 3, 3)),
        ("conv3.weight", (32, 16, 3, 3)),
        ("conv4.weight", (32, 32, 3, 3)),
        ("conv5.weight", (64, 32, 3, 3)),
        ("conv6.weight", (64, 64, 3, 3)),
        ("fc1.W", (64 * 4 * 4, 50)),
        ("fc2.W", (50, 10)),
    ]
    # He initialisation: std √(2 / fan_in), biases 0.
    assert abs(model.conv6.weight.data.std() - np.sqrt(2 / (64 * 9))) < 0.01
    assert abs(model.fc1.W.data.std() - np.sqrt(2 / 1024)) < 0.005
    assert not any(p.data.any() for p in model.parameters() if p.ndim == 1)  # the biases
    assert [name for name, m in model.named_children() if isinstance(m, nn.Dropout)] == [
        "drop1",
        "drop2",
    ]
    x = np.random.default_rng(0).random((2, 1, 28, 28), dtype=np.float32)
    model.eval()
    out = model(x)
    assert out.shape == (2, 10) and out.dtype == np.float32
    np.testing.assert_array_equal(model(x).data, out.data)  # no dropout in evaluation
