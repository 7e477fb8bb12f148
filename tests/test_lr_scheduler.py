"""Learning-rate schedulers against PyTorch's closed forms and hand-traced plateaus."""

import math

import numpy as np
import pytest

import minigrad as mg
from minigrad_nn import optim
from minigrad_nn.optim import lr_scheduler as sched
from minigrad_nn.serialization import load, save


def make_optimizer(lrs=(0.1, 0.02)):
    groups = [{"params": [mg.Tensor(np.zeros(2), requires_grad=True)], "lr": lr} for lr in lrs]
    return optim.SGD(groups, lr=1.0, momentum=0.9)


def lrs_over(scheduler, epochs):
    """[lrs at epoch 0, lrs at epoch 1, ...] as the optimizer's groups see them."""
    out = []
    for epoch in range(epochs):
        assert scheduler.last_epoch == epoch
        groups = [g["lr"] for g in scheduler.optimizer.param_groups]
        assert scheduler.get_last_lr() == groups
        out.append(groups)
        scheduler.step()
    return out


CLOSED_FORMS = [
    (lambda o: sched.StepLR(o, step_size=3), lambda b, e: b * 0.1 ** (e // 3)),
    (lambda o: sched.StepLR(o, step_size=1, gamma=0.5), lambda b, e: b * 0.5**e),
    (lambda o: sched.MultiStepLR(o, milestones=[8, 2, 8], gamma=0.5),
     lambda b, e: b * 0.5 ** ((e >= 2) + 2 * (e >= 8))),  # a repeated milestone counts twice
    (lambda o: sched.ExponentialLR(o, gamma=0.9), lambda b, e: b * 0.9**e),
    (lambda o: sched.CosineAnnealingLR(o, T_max=10),
     lambda b, e: (b * (1 + math.cos(math.pi * e / 10)) / 2)),
    (lambda o: sched.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
     lambda b, e: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * e / 7)) / 2),
]


@pytest.mark.parametrize("make, closed_form", CLOSED_FORMS)
def test_closed_forms(make, closed_form):
    opt = make_optimizer()
    scheduler = make(opt)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    assert scheduler.base_lrs == [0.1, 0.02]
    for epoch, lrs in enumerate(lrs_over(scheduler, 25)):
        expected = [closed_form(0.1, epoch), closed_form(0.02, epoch)]
        np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)


def test_cosine_reaches_eta_min_at_t_max_and_comes_back():
    scheduler = sched.CosineAnnealingLR(make_optimizer([1.0]), T_max=4, eta_min=0.1)
    lrs = [lr for (lr,) in lrs_over(scheduler, 9)]
    assert lrs[0] == 1.0 and lrs[4] == pytest.approx(0.1) and lrs[8] == pytest.approx(1.0)


def test_the_optimizer_uses_the_scheduled_rate():
    w = mg.Tensor(np.array([1.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    scheduler = sched.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = mg.Tensor(np.array([1.0]))
        opt.step()
        scheduler.step()
    np.testing.assert_allclose(w.data, [1.0 - 0.5 - 0.25 - 0.125])


def test_initial_lr_is_kept_when_present():
    opt = make_optimizer([0.1])
    opt.param_groups[0]["initial_lr"] = 0.4
    assert sched.ExponentialLR(opt, gamma=0.5).get_last_lr() == [0.4]


def test_resume_with_last_epoch():
    opt = make_optimizer([0.1])
    sched.StepLR(opt, step_size=2)
    resumed = sched.StepLR(opt, step_size=2, last_epoch=4)
    assert resumed.last_epoch == 5 and resumed.get_last_lr() == pytest.approx([0.1 * 0.1**2])
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(make_optimizer(), step_size=2, last_epoch=4)


@pytest.mark.parametrize("make", [m for m, _ in CLOSED_FORMS])
def test_state_dict_round_trip(make, tmp_path):
    opt = make_optimizer()
    scheduler = make(opt)
    for _ in range(5):
        scheduler.step()
    save({"scheduler": scheduler.state_dict(), "optimizer": opt.state_dict()},
         tmp_path / "s.npz")
    saved = load(tmp_path / "s.npz")
    opt2 = make_optimizer()
    scheduler2 = make(opt2)
    opt2.load_state_dict(saved["optimizer"])
    scheduler2.load_state_dict(saved["scheduler"])
    assert scheduler2.last_epoch == 5 and scheduler2.get_last_lr() == scheduler.get_last_lr()
    assert lrs_over_from(scheduler, 5) == lrs_over_from(scheduler2, 5)


def lrs_over_from(scheduler, steps):
    out = []
    for _ in range(steps):
        scheduler.step()
        out.append(scheduler.get_last_lr())
    return out


def test_load_state_dict_checks_keys():
    scheduler = sched.StepLR(make_optimizer(), step_size=2)
    with pytest.raises(ValueError, match="needs keys"):
        scheduler.load_state_dict({"last_epoch": 3})
    bad = scheduler.state_dict()
    bad["base_lrs"] = [0.1]
    with pytest.raises(ValueError, match="base_lrs"):
        scheduler.load_state_dict(bad)


@pytest.mark.parametrize("make, error, message", [
    (lambda o: sched.StepLR(o, step_size=0), ValueError, "step_size"),
    (lambda o: sched.StepLR(o, step_size=2.5), TypeError, "step_size"),
    (lambda o: sched.StepLR(o, step_size=2, gamma=-1), ValueError, "gamma"),
    (lambda o: sched.MultiStepLR(o, milestones=[1, -2]), ValueError, "milestone"),
    (lambda o: sched.MultiStepLR(o, milestones=3), TypeError, "milestones"),
    (lambda o: sched.ExponentialLR(o, gamma="0.9"), TypeError, "gamma"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=0), ValueError, "T_max"),
    (lambda o: sched.CosineAnnealingLR(o, T_max=5, eta_min=-1), ValueError, "eta_min"),
    (lambda o: sched.StepLR(o, step_size=2, last_epoch=-3), ValueError, "last_epoch"),
    (lambda o: sched.StepLR([o], step_size=2), TypeError, "optimizer"),
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="up"), ValueError, "mode"),
    (lambda o: sched.ReduceLROnPlateau(o, threshold_mode="pct"), ValueError, "threshold_mode"),
    (lambda o: sched.ReduceLROnPlateau(o, patience=-1), ValueError, "patience"),
    (lambda o: sched.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "min_lr"),
])
def test_bad_arguments(make, error, message):
    with pytest.raises(error, match=message):
        make(make_optimizer())


# ----------------------------------------------------------------------------- ReduceLROnPlateau


def plateau_lrs(metrics, lr=1.0, **options):
    scheduler = sched.ReduceLROnPlateau(make_optimizer([lr]), **options)
    assert scheduler.get_last_lr() == [lr] and scheduler.last_epoch == 0
    out = []
    for metric in metrics:
        scheduler.step(metric)
        assert scheduler.get_last_lr() == [scheduler.optimizer.param_groups[0]["lr"]]
        out.append(scheduler.get_last_lr()[0])
    return out


def test_plateau_reduces_after_patience():
    metrics = [5, 4, 4, 4, 4, 3, 3, 3, 3, 3]
    assert plateau_lrs(metrics, factor=0.5, patience=2, threshold=0) == \
        [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_plateau_cooldown():
    assert plateau_lrs([1] * 8, factor=0.5, patience=0, cooldown=2) == \
        [1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125]


def test_plateau_relative_threshold():
    # improvements of less than 1% do not count: 100 -> 99.5 is a bad epoch
    assert plateau_lrs([100, 99.5, 99.4], factor=0.5, patience=1, threshold=0.01) == [1, 1, 0.5]
    assert plateau_lrs([100, 98.9, 97.8], factor=0.5, patience=1, threshold=0.01) == [1, 1, 1]


def test_plateau_absolute_threshold_and_max_mode():
    lrs = plateau_lrs([10, 10.5, 11.5, 12.0, 12.2], mode="max", factor=0.5, patience=1,
                      threshold=1.0, threshold_mode="abs")
    assert lrs == [1, 1, 1, 1, 0.5]
    lrs = plateau_lrs([10, 10.5, 11.5], mode="max", factor=0.5, patience=0, threshold=0.1)
    assert lrs == [1, 0.5, 0.5]  # 10.5 < 10*1.1 is no improvement, 11.5 is


def test_plateau_min_lr_and_eps():
    assert plateau_lrs([1] * 6, factor=0.1, patience=0, min_lr=0.005) == \
        pytest.approx([1, 0.1, 0.01, 0.005, 0.005, 0.005], rel=1e-12)
    assert plateau_lrs([1] * 3, lr=1e-8, factor=0.5, patience=0) == [1e-8] * 3  # change < eps


def test_plateau_per_group_min_lr():
    scheduler = sched.ReduceLROnPlateau(make_optimizer([1.0, 1.0]), factor=0.1, patience=0,
                                        min_lr=[0.5, 0.0])
    for metric in [1, 1]:
        scheduler.step(metric)
    assert scheduler.get_last_lr() == [0.5, pytest.approx(0.1)]


def test_plateau_accepts_a_tensor_metric_and_round_trips(tmp_path):
    scheduler = sched.ReduceLROnPlateau(make_optimizer([1.0]), factor=0.5, patience=1)
    for metric in [3.0, 2.0, 2.5]:
        scheduler.step(mg.Tensor(np.array(metric)))
    save(scheduler.state_dict(), tmp_path / "p.npz")
    other = sched.ReduceLROnPlateau(make_optimizer([1.0]), factor=0.5, patience=1)
    other.load_state_dict(load(tmp_path / "p.npz"))
    assert (other.best, other.num_bad_epochs, other.last_epoch) == (2.0, 1, 3)
    scheduler.step(2.5)
    other.step(2.5)
    assert scheduler.get_last_lr() == other.get_last_lr() == [0.5]
    assert other.num_bad_epochs == scheduler.num_bad_epochs == 0
