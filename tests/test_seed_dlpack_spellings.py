"""`mg.manual_seed` (one default generator behind every random function), DLPack exchange, and
the PyTorch spellings `dim`, `numel`, `add/sub/mul/div`, `pow`, `matmul`."""

import numpy as np
import pytest

import minigrad as mg
import minigrad_nn as nn


def _one_run() -> list[np.ndarray]:
    """Everything random a user touches without passing seed= or rng=."""
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(3, 2))
    w = mg.zeros(3, 4)
    nn.init.kaiming_normal_(w)
    x = mg.randn(5, 4)
    u = mg.rand(2)
    dropped = model[1](mg.ones(10))
    loader = nn.DataLoader(nn.TensorDataset(np.arange(10), np.arange(10)), batch_size=10)
    (order, _), = list(loader)
    return [p.numpy().copy() for p in model.parameters()] + [
        w.numpy(), x.numpy(), u.numpy(), dropped.numpy(), order,
        nn.functional.dropout(mg.ones(8)).numpy(),
    ]


def test_two_runs_after_the_same_manual_seed_are_identical():
    mg.manual_seed(123)
    first = _one_run()
    mg.manual_seed(123)
    second = _one_run()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    mg.manual_seed(124)
    third = _one_run()
    assert any(not np.array_equal(a, b) for a, b in zip(first, third, strict=True))


def test_manual_seed_reaches_a_dropout_built_before_it():
    drop = nn.Dropout(0.5)
    mg.manual_seed(7)
    a = drop(mg.ones(50)).numpy()
    mg.manual_seed(7)
    np.testing.assert_array_equal(drop(mg.ones(50)).numpy(), a)


def test_explicit_seed_is_independent_of_the_default_generator():
    mg.manual_seed(1)
    a = mg.randn(3, seed=5).numpy()
    mg.manual_seed(2)
    np.testing.assert_array_equal(mg.randn(3, seed=5).numpy(), a)


def test_a_loader_restoring_its_state_does_not_rewind_the_default_generator():
    mg.manual_seed(3)
    loader = nn.DataLoader(nn.TensorDataset(np.arange(6)), batch_size=6)
    state = loader.state_dict()
    after = mg.randn(4).numpy()
    loader.load_state_dict(state)
    assert not np.array_equal(mg.randn(4).numpy(), after)


@pytest.mark.parametrize("bad", [-1, 1.5, "1", True])
def test_manual_seed_rejects_what_is_not_a_seed(bad):
    with pytest.raises(ValueError, match="manual_seed"):
        mg.manual_seed(bad)


def test_dlpack_round_trip_with_numpy_is_zero_copy():
    t = mg.tensor([1.0, 2.0, 3.0])
    a = np.from_dlpack(t)
    assert a.dtype == np.float32
    a[0] = 10.0
    assert t.numpy()[0] == 10.0
    back = mg.from_dlpack(a)
    assert back.dtype == np.float32 and not back.requires_grad
    back.numpy()[1] = 20.0
    assert t.numpy()[1] == 20.0
    assert t.__dlpack_device__() == a.__dlpack_device__()


def test_dlpack_refuses_a_tensor_that_requires_grad():
    t = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        np.from_dlpack(t)
    np.testing.assert_array_equal(np.from_dlpack(t.detach()), [1.0])


def test_dlpack_with_torch():
    torch = pytest.importorskip("torch")
    t = mg.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=np.float64)
    shared = torch.from_dlpack(t)
    assert shared.dtype == torch.float64 and shared.shape == (2, 2)
    shared[0, 0] = 5.0
    assert t.numpy()[0, 0] == 5.0
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    m = mg.from_dlpack(x)
    assert m.shape == (2, 3) and m.dtype == np.float32
    x[1, 2] = -1.0
    assert m.numpy()[1, 2] == -1.0


def test_pytorch_spellings_equal_the_operators():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = mg.tensor([[0.5, -1.0], [2.0, 1.0]])
    assert x.dim() == 2 and x.numel() == 4
    assert mg.tensor(3.0).dim() == 0 and mg.tensor(3.0).numel() == 1
    pairs = [
        (x.add(y), x + y), (x.sub(y), x - y), (x.mul(y), x * y), (x.div(y), x / y),
        (x.pow(2), x**2), (x.matmul(y), x @ y),
    ]
    for spelled, operator in pairs:
        np.testing.assert_array_equal(spelled.numpy(), operator.numpy())
        assert spelled.requires_grad
    x.pow(3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)
    assert nn.Parameter(mg.zeros(2, 3)).numel() == 6
