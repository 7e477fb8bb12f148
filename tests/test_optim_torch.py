"""Optimizers and schedulers against PyTorch itself, when torch happens to be installed.

CI does not install torch, so this module skips there; run it locally after
`pip install torch` for a second, independent check of test_optim.py.
"""

import numpy as np
import pytest

import minigrad as mg
from minigrad_nn import optim
from minigrad_nn.optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 50
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.2, weight_decay=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=0.05)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=0.05)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(centered=True, momentum=0.5)),
    ("RMSprop", dict(weight_decay=0.1, momentum=0.3, centered=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), eps=0.05)),
    ("Adam", dict(lr=0.05, amsgrad=True)),
    ("Adam", dict(lr=0.05, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True, betas=(0.5, 0.9))),
]


def gradients(shape, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) * (3.0 if t < 10 else 0.3) for t in range(STEPS)]


@pytest.mark.parametrize("name, options", CASES, ids=[f"{n}-{o}" for n, o in CASES])
def test_same_trajectory_as_torch(name, options):
    start = np.random.default_rng(1).standard_normal((3, 4))
    ours = mg.Tensor(start.copy(), requires_grad=True)
    theirs = torch.tensor(start.copy(), requires_grad=True)
    opt = getattr(optim, name)([ours], **options)
    torch_opt = getattr(torch.optim, name)([theirs], **options)
    for g in gradients(start.shape):
        ours.grad = mg.Tensor(g.copy())
        theirs.grad = torch.tensor(g.copy())
        opt.step()
        torch_opt.step()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-12)
    # Same state names and values (torch keeps momentum_buffer=None for plain SGD; we keep none).
    torch_state = {k: v for k, v in torch_opt.state_dict()["state"].get(0, {}).items()
                   if v is not None}
    ours_state = opt.state_dict()["state"].get(0, {})
    assert set(ours_state) == set(torch_state)
    for key, value in ours_state.items():
        np.testing.assert_allclose(value, np.asarray(torch_state[key]), rtol=1e-6, atol=1e-12)
    assert set(opt.param_groups[0]) <= set(torch_opt.param_groups[0])


SCHEDULERS = [
    ("StepLR", dict(step_size=3, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[2, 5, 5, 9], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.9)),
    ("CosineAnnealingLR", dict(T_max=6, eta_min=0.01)),
]


@pytest.mark.parametrize("name, options", SCHEDULERS, ids=[n for n, _ in SCHEDULERS])
def test_schedulers_match_torch(name, options):
    ours = optim.SGD([mg.Tensor(np.zeros(1), requires_grad=True)], lr=0.5)
    theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
    ours_sched = getattr(lr_scheduler, name)(ours, **options)
    torch_sched = getattr(torch.optim.lr_scheduler, name)(theirs, **options)
    for _ in range(20):
        np.testing.assert_allclose(ours_sched.get_last_lr(), torch_sched.get_last_lr(),
                                   rtol=1e-9, atol=1e-15)
        assert ours_sched.last_epoch == torch_sched.last_epoch
        assert ours.param_groups[0]["initial_lr"] == theirs.param_groups[0]["initial_lr"]
        theirs.step()
        ours_sched.step()
        torch_sched.step()


@pytest.mark.parametrize("options", [
    dict(factor=0.5, patience=2),
    dict(mode="max", factor=0.3, patience=1, threshold=0.05, cooldown=2),
    dict(factor=0.5, patience=0, threshold=0.5, threshold_mode="abs", min_lr=0.05),
])
def test_reduce_on_plateau_matches_torch(options):
    ours = optim.SGD([mg.Tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    theirs = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ours_sched = lr_scheduler.ReduceLROnPlateau(ours, **options)
    torch_sched = torch.optim.lr_scheduler.ReduceLROnPlateau(theirs, **options)
    metrics = np.random.default_rng(0).integers(0, 5, size=40).astype(float)
    for metric in metrics:
        ours_sched.step(metric)
        torch_sched.step(metric)
        assert ours_sched.get_last_lr() == pytest.approx(torch_sched.get_last_lr(), rel=1e-12)
        assert ours_sched.num_bad_epochs == torch_sched.num_bad_epochs
