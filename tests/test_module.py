"""`Module`, `Parameter`, `Sequential` and `ModuleList`: registration by attribute and its order,
re-assignment, shared parameters, walking the tree, train/eval, buffers, state dicts and strict
loading, and repr."""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad_nn.layers import BatchNorm1d, Dropout, Linear, ReLU
from minigrad_nn.module import Module, ModuleList, Parameter, Sequential


class Block(Module):
    def __init__(self, seed=0):
        super().__init__()
        self.fc = Linear(3, 4, seed=seed)
        self.norm = BatchNorm1d(4)
        self.scale = Parameter(np.ones(4, dtype=np.float32))

    def forward(self, x):
        return self.norm(self.fc(x)) * self.scale


class Net(Module):
    def __init__(self, seed=0):
        super().__init__()
        self.block = Block(seed)
        self.act = ReLU()
        self.drop = Dropout(0.5, seed=seed)
        self.head = Linear(4, 2, seed=seed + 1)

    def forward(self, x):
        return self.head(self.drop(self.act(self.block(x))))


# As in PyTorch, a module's own parameters come before those of its sub-modules.
PARAM_NAMES = [
    "block.scale",
    "block.fc.weight",
    "block.fc.bias",
    "block.norm.weight",
    "block.norm.bias",
    "head.weight",
    "head.bias",
]
BUFFER_NAMES = [
    "block.norm.running_mean",
    "block.norm.running_var",
    "block.norm.num_batches_tracked",
]


# -- registration ------------------------------------------------------------------------------


def test_parameters_are_registered_in_definition_order_with_dotted_names():
    net = Net()
    assert [name for name, _ in net.named_parameters()] == PARAM_NAMES
    assert [p for _, p in net.named_parameters()] == list(net.parameters())
    assert all(isinstance(p, Parameter) and p.requires_grad for p in net.parameters())
    assert [name for name, _ in net.named_parameters(recurse=False)] == []
    assert [name for name, _ in net.block.named_parameters(recurse=False)] == ["scale"]


def test_plain_tensors_and_values_are_not_registered():
    class M(Module):
        def __init__(self):
            super().__init__()
            self.constant = mg.ones(3)
            self.size = 3

    m = M()
    assert list(m.parameters()) == [] and list(m.state_dict()) == []
    assert m.size == 3


def test_assigning_before_init_is_a_clear_error():
    class Forgetful(Module):
        def __init__(self):
            self.fc = Linear(2, 2)

    with pytest.raises(AttributeError, match=re.escape("call super().__init__() first")):
        Forgetful()


def test_reassignment_replaces_in_place_of_the_registry():
    net = Net()
    new_head = Linear(4, 2, seed=9)
    net.head = new_head
    assert net.head is new_head
    assert [name for name, _ in net.named_parameters()] == PARAM_NAMES
    new_scale = Parameter(np.zeros(4, dtype=np.float32))
    net.block.scale = new_scale
    assert net.block.scale is new_scale and new_scale in list(net.parameters())
    net.head = ReLU()  # a module with no parameters replaces one with parameters
    assert [name for name, _ in net.named_parameters()] == PARAM_NAMES[:5]


def test_reassignment_keeps_the_place_of_the_name():
    layer = Linear(2, 3)
    layer.weight = Parameter(np.zeros((2, 3), dtype=np.float32))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    seq = Sequential(Linear(2, 2), ReLU())
    new_first = Linear(2, 2)
    setattr(seq, "0", new_first)  # must stay first: Sequential runs its modules in order
    assert list(seq) == [new_first, seq[1]]
    x = mg.randn(3, 2, seed=0)
    np.testing.assert_array_equal(seq(x).data, np.maximum(new_first(x).data, 0))


def test_a_name_moves_between_registries_and_wrong_types_are_refused():
    m = Module()
    m.thing = Parameter(np.zeros(2))
    m.thing = Linear(2, 2)  # now a module, no longer a parameter
    assert [n for n, _ in m.named_parameters()] == ["thing.weight", "thing.bias"]
    with pytest.raises(TypeError, match="cannot assign ndarray to 'thing', which is a Module"):
        m.thing = np.zeros(2)
    m.thing = None
    assert m.thing is None and list(m.parameters()) == []
    del m.thing
    assert "thing" not in dict(m.named_children())


def test_a_shared_parameter_is_listed_once():
    a, b = Linear(3, 3, seed=0), Linear(3, 3, seed=1)
    b.weight = a.weight
    model = Sequential(a, b)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    shared = Sequential(a, a)
    assert len(list(shared.parameters())) == 2 and len(list(shared.modules())) == 2


def test_shared_parameter_gets_the_gradient_of_both_uses():
    layer = Linear(2, 2, bias=False, dtype=np.float64, seed=0)
    model = Sequential(layer, layer)
    x = np.array([[1.0, 2.0]])
    model(x).sum().backward()
    w = layer.weight.data.T  # the layer computes x @ W.T: with V = W.T, d/dV of Σ (x V) V is
    expected_v = x.T @ (np.ones((1, 2)) @ w.T) + (x @ w).T @ np.ones((1, 2))  # xᵀ(1 Vᵀ) + (xV)ᵀ1
    np.testing.assert_allclose(layer.weight.grad.data, expected_v.T)


# -- walking the tree --------------------------------------------------------------------------


def test_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["block", "act", "drop", "head"]
    assert list(net.children()) == [net.block, net.act, net.drop, net.head]
    names = [name for name, _ in net.named_modules()]
    assert names == ["", "block", "block.fc", "block.norm", "act", "drop", "head"]
    assert next(net.modules()) is net


def test_train_and_eval_recurse():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.block.train(False)
    assert [m.training for m in net.modules()] == [True, False, False, False, True, True, True]


def test_eval_changes_what_the_model_computes():
    net = Net()
    x = mg.randn(6, 3, seed=0)
    net.eval()
    np.testing.assert_array_equal(net(x).data, net(x).data)  # no dropout, running stats
    assert net.block.norm.num_batches_tracked == 0


def test_zero_grad():
    net = Net()
    net(mg.randn(5, 3, seed=0)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all((p.grad.data == 0).all() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


# -- state dicts -------------------------------------------------------------------------------


def test_state_dict_holds_parameters_then_buffers_as_copies():
    net = Net()
    state = net.state_dict()
    assert list(state)[: len(PARAM_NAMES)] == PARAM_NAMES
    assert set(state) - set(PARAM_NAMES) == set(BUFFER_NAMES)
    assert state["block.norm.num_batches_tracked"].dtype == np.int64
    state["head.bias"][:] = 100
    assert not (net.head.bias.data == 100).any()


def test_non_persistent_buffers_stay_out_of_the_state_dict():
    m = Module()
    m.register_buffer("kept", np.zeros(2))
    m.register_buffer("scratch", np.zeros(2), persistent=False)
    assert list(m.state_dict()) == ["kept"]
    assert [name for name, _ in m.named_buffers()] == ["kept", "scratch"]


def test_load_state_dict_round_trip_keeps_identity_and_dtype():
    source, target = Net(seed=1), Net(seed=2)
    source(mg.randn(8, 3, seed=0))  # move the running statistics
    params, buffers = list(target.parameters()), list(target.buffers())
    state = {
        k: v.astype(np.float64) if v.dtype == np.float32 else v
        for k, v in source.state_dict().items()
    }
    result = target.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert list(target.parameters()) == params
    assert all(a is b for a, b in zip(target.buffers(), buffers, strict=True))
    for (name, value), expected in zip(target.state_dict().items(), state.values(), strict=True):
        np.testing.assert_allclose(value, expected, err_msg=name)
        assert value.dtype == (np.int64 if "num_batches" in name else np.float32), name


def test_strict_load_lists_every_problem_and_changes_nothing():
    net = Net()
    before = net.state_dict()
    state = dict(before)
    del state["head.bias"], state["block.norm.running_var"]
    state["head.weight"] = np.zeros((4, 2), dtype=np.float32)
    state["extra.weight"] = np.zeros(3)
    state["block.fc.bias"] = np.ones(4, dtype=np.float32)  # a valid change that must not happen
    with pytest.raises(RuntimeError) as error:
        net.load_state_dict(state)
    message = str(error.value)
    assert "missing keys: head.bias, block.norm.running_var" in message
    assert "unexpected keys: extra.weight" in message
    assert "head.weight: the checkpoint has shape (4, 2), the model (2, 4)" in message
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_non_strict_load_reports_missing_and_unexpected_keys():
    net, other = Net(seed=0), Net(seed=5)
    state = other.state_dict()
    del state["head.bias"]
    state["extra"] = np.zeros(1)
    result = net.load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(net.head.weight.data, other.head.weight.data)
    assert not np.array_equal(net.head.bias.data, other.head.bias.data)
    bad = other.state_dict()
    bad["head.bias"] = np.zeros(3)
    with pytest.raises(RuntimeError, match=re.escape("head.bias: the checkpoint has shape (3,)")):
        net.load_state_dict(bad, strict=False)  # mis-shaped keys are errors even when not strict


# -- containers and repr -----------------------------------------------------------------------


def test_sequential_and_module_list():
    seq = Sequential(Linear(3, 4), ReLU(), Linear(4, 2))
    assert len(seq) == 3 and isinstance(seq[1], ReLU) and seq[-1] is seq[2]
    assert isinstance(seq[1:], Sequential) and len(seq[1:]) == 2
    assert seq(mg.ones(5, 3)).shape == (5, 2)
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        seq[3]
    layers = ModuleList([Linear(2, 2) for _ in range(3)])
    assert [n for n, _ in layers.named_parameters()][:2] == ["0.weight", "0.bias"]
    layers[1] = ReLU()
    assert isinstance(layers[1], ReLU) and len(list(layers.parameters())) == 4


def test_repr_nests_children_with_their_extra_repr():
    norm = "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(Net()) == (
        "Net(\n"
        "  (block): Block(\n"
        "    (fc): Linear(in_features=3, out_features=4, bias=True)\n"
        f"    (norm): {norm}\n"
        "  )\n"
        "  (act): ReLU()\n"
        "  (drop): Dropout(p=0.5)\n"
        "  (head): Linear(in_features=4, out_features=2, bias=True)\n"
        ")"
    )
    assert repr(Parameter(np.zeros(2, dtype=np.float32))).startswith("Parameter containing:\n")


# -- PyTorch habits ----------------------------------------------------------------------------


def test_to_accepts_the_cpu_and_dtypes_as_pytorch():
    net = Net()
    params = list(net.parameters())
    assert net.to("cpu") is net and net.to(device="cpu:0") is net
    assert all(p.dtype == np.float32 for p in net.parameters())
    assert net.to("cpu", np.float64) is net
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert list(net.parameters()) == params  # the same objects, converted in place
    net.to(dtype="float32")
    assert all(p.dtype == np.float32 for p in net.parameters())
    torch = pytest.importorskip("torch")
    assert net.to(torch.device("cpu")) is net


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("cuda",), ValueError, "minigrad computes with NumPy on the CPU"),
        (("cuda:1", np.float64), ValueError, "device 'cuda:1' is not available"),
        ((np.int32,), TypeError, "must stay floating point"),
        (("no-such-dtype",), TypeError, "expects a dtype or 'cpu'"),
        ((np.float32, np.float64), TypeError, "two dtypes"),
    ],
)
def test_to_refuses_what_it_cannot_do_before_changing_anything(args, error, message):
    net = Net()
    with pytest.raises(error, match=message):
        net.to(*args)
    assert all(p.dtype == np.float32 for p in net.parameters())


def test_requires_grad_freezes_and_the_optimizer_skips_frozen_parameters():
    from minigrad_nn import optim

    net = Net(seed=0)
    assert net.block.requires_grad_(False) is net.block
    frozen = {name: p.data.copy() for name, p in net.named_parameters() if name.startswith("block")}
    assert all(not p.requires_grad for p in net.block.parameters())
    opt = optim.SGD(net.parameters(), lr=0.5, momentum=0.9)  # frozen ones accepted, as PyTorch
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    before = net.head.weight.data.copy()
    for _ in range(2):
        opt.zero_grad()
        net(x).sum().backward()
        opt.step()
    assert not np.array_equal(net.head.weight.data, before)
    for name, p in net.named_parameters():
        if name in frozen:
            np.testing.assert_array_equal(p.data, frozen[name], err_msg=name)
            assert p.grad is None and p not in opt.state
    net.requires_grad_()
    assert all(p.requires_grad for p in net.parameters())


def test_parameter_numel_and_dim_as_pytorch():
    layer = Linear(784, 50)
    assert layer.weight.numel() == 784 * 50 and layer.weight.dim() == 2
    assert sum(p.numel() for p in layer.parameters()) == 39250
