"""Optimizers against reference trajectories written from PyTorch's documented update rules.

Each reference is a plain per-scalar loop on Python floats, one coordinate at a
time, transcribed from the pseudo-code in PyTorch's documentation; the
optimizers work on whole arrays in place. They must agree to rtol 1e-6 in
float64 over 50 steps of a fixed gradient sequence, for every option.
"""

import importlib.util
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import minigrad_nn as nn
from minigrad_nn import optim
from minigrad_nn.serialization import load, save

STEPS = 50
SHAPES = [(2, 3), (4,)]


# ----------------------------------------------------------------------------- references


def ref_sgd(theta, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    out, b = [], None
    for t, g in enumerate(grads, start=1):
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def ref_adagrad(theta, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10):
    out, state_sum = [], initial_accumulator_value
    for t, g in enumerate(grads, start=1):
        lr_t = lr / (1 + (t - 1) * lr_decay)
        if weight_decay != 0:
            g = g + weight_decay * theta
        state_sum = state_sum + g * g
        theta = theta - lr_t * g / (math.sqrt(state_sum) + eps)
        out.append(theta)
    return out


def ref_rmsprop(theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False):
    out, v, g_avg, b = [], 0.0, 0.0, 0.0
    for g in grads:
        if weight_decay != 0:
            g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g * g
        v_tilde = v
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            v_tilde = v_tilde - g_avg**2
        if momentum > 0:
            b = momentum * b + g / (math.sqrt(v_tilde) + eps)
            theta = theta - lr * b
        else:
            theta = theta - lr * g / (math.sqrt(v_tilde) + eps)
        out.append(theta)
    return out


def ref_adam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False, decoupled=False):
    beta1, beta2 = betas
    out, m, v, v_max = [], 0.0, 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        if decoupled:
            theta = theta - lr * weight_decay * theta
        elif weight_decay != 0:
            g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t)
        if amsgrad:
            v_max = max(v_max, v)
            v_hat = v_max / (1 - beta2**t)
        else:
            v_hat = v / (1 - beta2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def ref_adamw(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
              amsgrad=False):
    return ref_adam(theta, grads, lr, betas, eps, weight_decay, amsgrad, decoupled=True)


def ref_momentum(theta, grads, lr=0.01, momentum=0.9, **options):
    return ref_sgd(theta, grads, lr, momentum=momentum, **options)


# (optimizer class, its reference, options); each option appears at least once.
CASES = [
    (optim.SGD, ref_sgd, dict(lr=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9, dampening=0.5)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.9, nesterov=True)),
    (optim.SGD, ref_sgd, dict(lr=0.1, weight_decay=0.1)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.8, dampening=0.2, weight_decay=0.05)),
    (optim.SGD, ref_sgd, dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05)),
    (optim.Momentum, ref_momentum, dict()),
    (optim.Momentum, ref_momentum, dict(lr=0.02, momentum=0.5, nesterov=True)),
    (optim.Adagrad, ref_adagrad, dict()),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, lr_decay=0.05)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, weight_decay=0.1)),
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, initial_accumulator_value=0.5)),
    (optim.AdaGrad, ref_adagrad, dict(lr=0.1, eps=0.05)),  # big enough eps to matter
    (optim.Adagrad, ref_adagrad, dict(lr=0.1, lr_decay=0.01, weight_decay=0.05,
                                      initial_accumulator_value=0.1, eps=1e-6)),
    (optim.RMSprop, ref_rmsprop, dict()),
    (optim.RMSprop, ref_rmsprop, dict(lr=0.01, alpha=0.9, eps=0.05)),
    (optim.RMSprop, ref_rmsprop, dict(momentum=0.9)),
    (optim.RMSprop, ref_rmsprop, dict(centered=True)),
    (optim.RMSprop, ref_rmsprop, dict(centered=True, momentum=0.5)),
    (optim.RMSprop, ref_rmsprop, dict(weight_decay=0.1)),
    (optim.RMSprop, ref_rmsprop, dict(weight_decay=0.1, momentum=0.3, centered=True)),
    (optim.Adam, ref_adam, dict()),
    (optim.Adam, ref_adam, dict(lr=0.05, betas=(0.8, 0.99), eps=0.05)),
    (optim.Adam, ref_adam, dict(lr=0.05, amsgrad=True)),
    (optim.Adam, ref_adam, dict(lr=0.05, weight_decay=0.1)),
    (optim.Adam, ref_adam, dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    (optim.AdamW, ref_adamw, dict()),
    (optim.AdamW, ref_adamw, dict(lr=0.05, weight_decay=0.1)),
    (optim.AdamW, ref_adamw, dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.5, 0.9))),
]
CASE_IDS = [f"{cls.__name__}-{opts}" for cls, _, opts in CASES]


def gradient_sequence(shape, steps=STEPS, seed=0):
    """Fixed gradients: large for 10 steps, then small (so AMSGrad's max matters)."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * (3.0 if t < 10 else 0.3) for t in range(steps)]


def start_values(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def run_optimizer(cls, options, shapes=SHAPES, dtype=np.float64, steps=STEPS):
    """Trajectories (list of arrays per step) of params of the given shapes."""
    params = [mg.Tensor(start_values(s).astype(dtype), requires_grad=True) for s in shapes]
    grads = [gradient_sequence(s, steps) for s in shapes]
    opt = cls(params, **options)
    history = []
    for t in range(steps):
        for p, g in zip(params, grads, strict=True):
            p.grad = mg.Tensor(g[t].astype(dtype))
        opt.step()
        history.append([p.data.copy() for p in params])
    return params, opt, history


def run_reference(ref, options, shape, steps=STEPS):
    """The reference trajectory of each coordinate, stacked to (steps, *shape)."""
    theta0, grads = start_values(shape), np.stack(gradient_sequence(shape, steps))
    columns = [ref(float(theta0[i]), [float(g) for g in grads[(slice(None), *i)]], **options)
               for i in np.ndindex(shape)]
    return np.array(columns).T.reshape(steps, *shape)


# ----------------------------------------------------------------------------- update rules


@pytest.mark.parametrize("cls, ref, options", CASES, ids=CASE_IDS)
def test_matches_reference_trajectory(cls, ref, options):
    _, _, history = run_optimizer(cls, options)
    for k, shape in enumerate(SHAPES):
        ours = np.stack([step[k] for step in history])
        np.testing.assert_allclose(ours, run_reference(ref, options, shape), rtol=1e-6, atol=0)


OPTION_CASES = [(i, c) for i, c in zip(CASE_IDS, CASES, strict=True)
                if c[2] and set(c[2]) != {"lr"}]


@pytest.mark.parametrize("cls, ref, options", [c for _, c in OPTION_CASES],
                         ids=[i for i, _ in OPTION_CASES])
def test_each_option_changes_the_trajectory(cls, ref, options):
    """Guards the test above: every option set differs from the defaults' trajectory."""
    plain = {"lr": options["lr"]} if "lr" in options else {}
    a, b = run_reference(ref, options, (3,)), run_reference(ref, plain, (3,))
    assert not np.allclose(a, b, rtol=1e-4)


def test_defaults_match_pytorch():
    p = [mg.Tensor(np.zeros(2), requires_grad=True)]
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                                          weight_decay=0, amsgrad=False)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    assert optim.Adagrad(p).defaults == dict(lr=1e-2, lr_decay=0, weight_decay=0,
                                             initial_accumulator_value=0, eps=1e-10)
    assert optim.RMSprop(p).defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
                                             momentum=0, centered=False)
    assert optim.Momentum(p).defaults == dict(lr=0.01, momentum=0.9, dampening=0,
                                              nesterov=False, weight_decay=0)
    assert optim.AdaGrad is optim.Adagrad
    with pytest.raises(TypeError):
        optim.SGD(p)  # lr is required, as in the API and older PyTorch


@pytest.mark.parametrize("cls, ref, options", CASES, ids=CASE_IDS)
def test_float32_stays_float32_in_place(cls, ref, options):
    params, opt, history = run_optimizer(cls, options, dtype=np.float32, steps=5)
    arrays = [p.data for p in params]
    grads = [p.grad.data.copy() for p in params]
    before = [dict(opt.state[p]) for p in params]
    opt.step()
    for p, arr, g, states in zip(params, arrays, grads, before, strict=True):
        assert p.data is arr and p.data.dtype == np.float32
        np.testing.assert_array_equal(p.grad.data, g)  # the gradient is never modified
        assert p.is_leaf and p.grad_fn is None         # no graph was recorded
        for name, value in opt.state[p].items():
            if isinstance(value, np.ndarray):
                assert value.dtype == np.float32, name
                assert name not in states or value is states[name], name
    _, _, exact = run_optimizer(cls, options, steps=5)
    for ours, ref64 in zip(history[-1], exact[-1], strict=True):
        np.testing.assert_allclose(ours, ref64, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("cls, ref, options", CASES, ids=CASE_IDS)
def test_a_step_keeps_nothing_and_its_temporaries_are_few(cls, ref, options):
    """After the first steps (state created), a step holds on to no new memory, and the
    temporaries of the formula as written (`p.data -= lr * g`) stay a few parameter sizes."""
    params, opt, _ = run_optimizer(cls, options, shapes=[(200, 100)], steps=3)
    nbytes = params[0].data.nbytes  # 160 kB
    tracemalloc.start()
    try:
        opt.step()
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < nbytes / 4, f"a step kept {kept} bytes for a {nbytes}-byte parameter"
    assert peak <= 5 * nbytes, f"a step's temporaries peaked at {peak} bytes"


# ----------------------------------------------------------------------------- groups, grads


def test_params_without_grad_are_skipped():
    a = mg.Tensor(np.ones(3), requires_grad=True)
    b = mg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.Tensor(np.ones(3))
    opt.step()
    np.testing.assert_array_equal(b.data, np.ones(3))
    assert b not in opt.state or not opt.state[b]
    assert opt.state[a]["step"] == 1


def test_param_groups_use_their_own_options():
    a = mg.Tensor(start_values((4,)), requires_grad=True)
    b = mg.Tensor(start_values((4,)), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.01, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[0]["momentum"] == 0 and opt.param_groups[1]["momentum"] == 0.9
    grads = gradient_sequence((4,))
    for g in grads:
        a.grad, b.grad = mg.Tensor(g), mg.Tensor(g)
        opt.step()
    np.testing.assert_allclose(a.data, run_reference(ref_sgd, dict(lr=0.1), (4,))[-1], rtol=1e-6)
    np.testing.assert_allclose(
        b.data, run_reference(ref_sgd, dict(lr=0.01, momentum=0.9), (4,))[-1], rtol=1e-6)


def test_add_param_group():
    a = mg.Tensor(np.ones(2), requires_grad=True)
    b = mg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.6)})
    assert opt.param_groups[1]["lr"] == 0.1 and opt.param_groups[1]["betas"] == (0.5, 0.6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.add_param_group({"params": [mg.Tensor(np.ones(1), requires_grad=True)],
                             "betas": (0.9, 1.0)})
    assert len(opt.param_groups) == 2


def test_zero_grad():
    a = mg.Tensor(np.ones(3), requires_grad=True)
    opt = optim.SGD([a], lr=0.1)
    a.grad = mg.Tensor(np.full(3, 5.0))
    g = a.grad.data
    opt.zero_grad(set_to_none=False)
    assert a.grad.data is g and np.all(g == 0)
    opt.zero_grad()
    assert a.grad is None
    opt.zero_grad()  # nothing to do: no error


def test_step_with_closure_returns_the_loss():
    w = mg.Tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    for _ in range(3):
        loss = opt.step(closure)
    assert float(loss.data) == pytest.approx(0.75**2)  # w: 3 -> 1.5 -> 0.75 (loss before step)
    np.testing.assert_allclose(w.data, [0.375])


def test_repr_lists_groups():
    text = repr(optim.Adam([mg.Tensor(np.ones(1), requires_grad=True)]))
    assert text.startswith("Adam (") and "Parameter Group 0" in text and "lr: 0.001" in text


# ----------------------------------------------------------------------------- bad arguments


def good():
    return [mg.Tensor(np.ones(2), requires_grad=True)]


@pytest.mark.parametrize("make, error, message", [
    (lambda: optim.SGD(good(), lr=-0.1), ValueError, "lr: -0.1"),
    (lambda: optim.SGD(good(), lr="0.1"), TypeError, "lr"),
    (lambda: optim.SGD(good(), lr=float("nan")), ValueError, "lr"),
    (lambda: optim.SGD(good(), lr=0.1, momentum=-1), ValueError, "momentum: -1"),
    (lambda: optim.SGD(good(), lr=0.1, weight_decay=-1e-4), ValueError, "weight_decay"),
    (lambda: optim.SGD(good(), lr=0.1, nesterov=True), ValueError, "nesterov"),
    (lambda: optim.SGD(good(), lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     ValueError, "dampening=0.1"),
    (lambda: optim.SGD(good(), lr=0.1, nesterov="yes"), TypeError, "nesterov"),
    (lambda: optim.Momentum(good(), momentum=-0.9), ValueError, "momentum"),
    (lambda: optim.Adam(good(), lr=-1e-3), ValueError, "lr"),
    (lambda: optim.Adam(good(), betas=(1.0, 0.999)), ValueError, r"betas\[0\]: 1.0"),
    (lambda: optim.Adam(good(), betas=(0.9, -0.1)), ValueError, r"betas\[1\]: -0.1"),
    (lambda: optim.Adam(good(), betas=0.9), TypeError, "betas"),
    (lambda: optim.Adam(good(), eps=-1e-8), ValueError, "eps"),
    (lambda: optim.Adam(good(), weight_decay=-1), ValueError, "weight_decay"),
    (lambda: optim.Adam(good(), amsgrad=1), TypeError, "amsgrad"),
    (lambda: optim.AdamW(good(), weight_decay=-0.01), ValueError, "weight_decay"),
    (lambda: optim.Adagrad(good(), lr_decay=-1), ValueError, "lr_decay"),
    (lambda: optim.Adagrad(good(), initial_accumulator_value=-1), ValueError,
     "initial_accumulator_value"),
    (lambda: optim.Adagrad(good(), eps=-1), ValueError, "eps"),
    (lambda: optim.RMSprop(good(), alpha=-0.5), ValueError, "alpha"),
    (lambda: optim.RMSprop(good(), momentum=-0.5), ValueError, "momentum"),
    (lambda: optim.RMSprop(good(), eps=-1), ValueError, "eps"),
    (lambda: optim.RMSprop(good(), centered=None), TypeError, "centered"),
    (lambda: optim.Adam([{"params": good(), "lr": -5}]), ValueError, "lr: -5"),
])
def test_bad_hyperparameters(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("params, error, message", [
    ([], ValueError, "empty parameter list"),
    ([np.ones(3)], TypeError, r"params\[0\] is a ndarray"),
    ([1.0], TypeError, "float"),
    (mg.Tensor(np.ones(3), requires_grad=True), TypeError, "single Tensor"),
    ({mg.Tensor(np.ones(3), requires_grad=True)}, TypeError, "set"),
    ([{"lr": 0.1}], ValueError, "'params'"),
])
def test_bad_params(params, error, message):
    with pytest.raises(error, match=message):
        optim.Adam(params)


def test_non_leaf_tensor_is_refused():
    a = mg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([a * 2], lr=0.1)


def test_parameter_in_two_groups_or_twice_is_refused():
    a, b = good()[0], good()[0]
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a, b]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([a, a], lr=0.1)


# ----------------------------------------------------------------------------- state dicts


def two_group_adam(seed=1):
    a = mg.Tensor(start_values((2, 3), seed), requires_grad=True)
    b = mg.Tensor(start_values((4,), seed + 1), requires_grad=True)
    return [a, b], optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.01, "amsgrad": True}],
                              lr=0.05)


def feed(params, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        for p in params:
            p.grad = mg.Tensor(rng.standard_normal(p.shape))
        opt.step()


@pytest.mark.parametrize("cls, ref, options", CASES, ids=CASE_IDS)
def test_state_dict_round_trips_exactly_through_save(cls, ref, options, tmp_path):
    params, opt, _ = run_optimizer(cls, options, steps=20)
    save({"optimizer": opt.state_dict()}, tmp_path / "opt.npz")
    loaded = load(tmp_path / "opt.npz")["optimizer"]
    copies = [mg.Tensor(p.data.copy(), requires_grad=True) for p in params]
    other = cls(copies, lr=123.0) if cls is optim.SGD else cls(copies)
    other.load_state_dict(loaded)
    assert other.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    feed(params, opt, 30, seed=5)
    feed(copies, other, 30, seed=5)
    for p, q in zip(params, copies, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
        assert opt.state[p].keys() == other.state[q].keys()


def test_state_dict_layout_matches_pytorch():
    params, opt = two_group_adam()
    feed(params, opt, 3, seed=0)
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1]
    assert sd["state"][0]["step"] == 3 and isinstance(sd["state"][0]["step"], int)
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.01 and sd["param_groups"][1]["amsgrad"] is True


def test_state_dict_is_a_snapshot():
    params, opt = two_group_adam()
    feed(params, opt, 3, seed=0)
    sd = opt.state_dict()
    before = sd["state"][0]["exp_avg"].copy()
    feed(params, opt, 3, seed=1)
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], before)
    assert sd["state"][0]["step"] == 3


def test_load_state_dict_casts_to_the_parameter_dtype():
    params, opt = two_group_adam()
    feed(params, opt, 2, seed=0)
    p32 = [mg.Tensor(p.data.astype(np.float32), requires_grad=True) for p in params]
    opt32 = optim.Adam([{"params": [p32[0]]}, {"params": [p32[1]]}])
    opt32.load_state_dict(opt.state_dict())
    assert opt32.state[p32[0]]["exp_avg"].dtype == np.float32
    assert opt32.param_groups[1]["amsgrad"] is True


def corrupt(sd, how):
    if how == "groups":
        sd["param_groups"].pop()
    elif how == "sizes":
        sd["param_groups"][0]["params"].append(7)
    elif how == "shape":
        sd["state"][1]["exp_avg_sq"] = np.zeros(5)
    elif how == "index":
        sd["state"][9] = sd["state"].pop(1)
    elif how == "keys":
        sd["extra"] = 1
    elif how == "hyper":
        sd["param_groups"][1]["lr"] = -1.0
    return sd


@pytest.mark.parametrize("how, message", [
    ("groups", "1 parameter groups, this optimizer has 2"),
    ("sizes", "group 0: the state dict has 2 parameters, this optimizer has 1"),
    ("shape", r"'exp_avg_sq' of parameter 1 has shape \(5,\)"),
    ("index", "index 9"),
    ("keys", "exactly the keys"),
    ("hyper", "lr: -1.0"),
])
def test_load_state_dict_validates_before_changing_anything(how, message):
    params, opt = two_group_adam()
    feed(params, opt, 2, seed=0)
    bad = corrupt(opt.state_dict(), how)
    fresh_params, fresh = two_group_adam()
    with pytest.raises(ValueError, match=message):
        fresh.load_state_dict(bad)
    assert not fresh.state
    assert [g["lr"] for g in fresh.param_groups] == [0.05, 0.01]
    assert fresh.param_groups[0]["params"][0] is fresh_params[0]


# ----------------------------------------------------------------------------- real training


class Quadratic(nn.Module):
    """loss = mean((x @ W + b - y)²) over nn.Parameters, trained through real backward."""

    def __init__(self, seed):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.W = nn.Parameter(rng.standard_normal((3, 2)).astype(np.float32))
        self.b = nn.Parameter(np.zeros(2, np.float32))

    def forward(self, x):
        return x @ self.W + self.b


def train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = mg.Tensor(rng.standard_normal((8, 3)).astype(np.float32))
        y = mg.Tensor(rng.standard_normal((8, 2)).astype(np.float32))
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    return float(loss.data)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: optim.Adagrad(ps, lr=0.1),
    lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5),
    lambda ps: optim.AdamW(ps, lr=0.01, amsgrad=True),
])
def test_checkpoint_and_resume_a_model(make, tmp_path):
    model = Quadratic(0)
    opt = make(model.parameters())
    train(model, opt, 30, seed=1)
    save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "ckpt")
    assert np.isfinite(train(model, opt, 20, seed=2))

    resumed = Quadratic(99)
    resumed_opt = make(resumed.parameters())
    checkpoint = load(tmp_path / "ckpt")
    resumed.load_state_dict(checkpoint["model"])
    resumed_opt.load_state_dict(checkpoint["optimizer"])
    train(resumed, resumed_opt, 20, seed=2)
    for (name, p), (_, q) in zip(model.named_parameters(), resumed.named_parameters(),
                                 strict=True):
        assert q.data.dtype == np.float32, name
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


# ----------------------------------------------------------------------------- the benchmark


def load_benchmark():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_optim.py"
    spec = importlib.util.spec_from_file_location("bench_optim", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_baselines_compute_the_same_update():
    """benchmarks/bench_optim.py compares like with like: its raw NumPy twins match bit for bit."""
    bench = load_benchmark()
    rng = np.random.default_rng(0)
    shapes = [(5, 4), (4,)]
    for name, make, raw in bench.CASES:
        ours = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        theirs = [x.copy() for x in ours]
        grads = [rng.standard_normal(s, dtype=np.float32) for s in shapes]
        step_ours, step_raw = bench.minigrad_step(make, ours, grads), raw(theirs, grads)
        for _ in range(5):
            step_ours()
            step_raw()
        for x, y in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=name)
