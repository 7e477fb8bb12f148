"""fit, evaluate, History and checkpoints, on a small synthetic data set (fast)."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

from minigrad_nn import optim
from minigrad_nn.data import DataLoader, TensorDataset
from minigrad_nn.losses import CrossEntropyLoss
from minigrad_nn.models import MLP
from minigrad_nn.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from minigrad_nn.serialization import load, save
from minigrad_nn.training import CheckpointError, History, evaluate, fit

N_FEATURES, N_CLASSES = 20, 3


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well separated Gaussian clusters: float32 points, int64 labels."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(0, 2.0, (N_CLASSES, N_FEATURES))
    t = rng.integers(0, N_CLASSES, n)
    x = centres[t] + rng.normal(0, 1.0, (n, N_FEATURES))
    return x.astype(np.float32), t.astype(np.int64)


TRAIN, TEST = blobs(300, seed=1), blobs(100, seed=2)


def setup(dropout: float = 0.2, adam: bool = True, lr: float = 0.01):
    model = MLP((N_FEATURES, 16, 16, N_CLASSES), dropout=dropout, seed=0)
    opt_cls = optim.Adam if adam else optim.SGD
    return model, CrossEntropyLoss(), opt_cls(model.parameters(), lr=lr)


def quiet_fit(*args, **kwargs) -> History:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("log", None)
    kwargs.setdefault("batch_size", 50)
    kwargs.setdefault("seed", 0)
    return fit(*args, **kwargs)


def assert_same_parameters(a: MLP, b: MLP) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert np.array_equal(x, y), name


# ---------------------------------------------------------------------------- fit


def test_fit_returns_a_history_per_epoch_and_per_iteration():
    model, loss_fn, opt = setup()
    history = quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=3)
    assert history.epochs == 3
    for name in ("train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"):
        values = getattr(history, name)
        assert len(values) == 3 and all(isinstance(v, float) for v in values), name
    assert history.iterations == [6, 12, 18]
    assert len(history.losses) == 18 and all(isinstance(v, float) for v in history.losses)
    assert history.lr == [0.01] * 3
    assert history.train_loss[0] == pytest.approx(np.mean(history.losses[:6]))
    assert history.test_acc[-1] > 0.9 and history.train_acc[-1] > 0.9
    assert history.train_acc[-1] == evaluate(model, TRAIN)


def test_fit_without_test_data_records_none():
    model, loss_fn, opt = setup()
    history = quiet_fit(model, loss_fn, opt, TRAIN, epochs=2)
    assert history.test_acc == [None, None] and history.test_loss == [None, None]


def test_fit_accepts_datasets_and_loaders():
    model, loss_fn, opt = setup()
    loader = DataLoader(TensorDataset(*TRAIN), batch_size=30, seed=3)
    history = quiet_fit(model, loss_fn, opt, loader, TensorDataset(*TEST), epochs=1)
    assert history.iterations == [10]  # the loader's own batch size wins


def test_fit_rejects_bad_arguments():
    model, loss_fn, opt = setup()
    with pytest.raises(ValueError, match="epochs"):
        quiet_fit(model, loss_fn, opt, TRAIN, epochs=0)
    with pytest.raises(ValueError, match="iters"):
        quiet_fit(model, loss_fn, opt, TRAIN, iters=-1)
    with pytest.raises(TypeError, match="train_data"):
        quiet_fit(model, loss_fn, opt, TRAIN[0])
    with pytest.raises(ValueError, match="checkpoint"):
        quiet_fit(model, loss_fn, opt, TRAIN, resume=True)


def test_iters_trains_exactly_that_many_steps_and_records_the_partial_epoch():
    model, loss_fn, opt = setup()
    history = quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=99, iters=14)
    assert history.iterations == [6, 12, 14]
    assert len(history.losses) == 14 and history.epochs == 3


def test_scheduler_steps_once_per_epoch():
    model, loss_fn, opt = setup(lr=0.1)
    history = quiet_fit(
        model, loss_fn, opt, TRAIN, epochs=3, scheduler=StepLR(opt, step_size=1, gamma=0.5)
    )
    assert history.lr == [0.1, 0.05, 0.025]


def test_reduce_on_plateau_watches_the_test_loss_else_the_train_loss():
    class Recorder(ReduceLROnPlateau):
        def step(self, metric):
            self.seen.append(metric)
            super().step(metric)

    for test, key in ((TEST, "test_loss"), (None, "train_loss")):
        model, loss_fn, opt = setup()
        scheduler = Recorder(opt)
        scheduler.seen = []
        history = quiet_fit(model, loss_fn, opt, TRAIN, test, epochs=2, scheduler=scheduler)
        assert scheduler.seen == getattr(history, key)


def test_callbacks_get_the_epoch_and_the_history():
    model, loss_fn, opt = setup()
    calls = []
    quiet_fit(
        model,
        loss_fn,
        opt,
        TRAIN,
        epochs=2,
        callbacks=[lambda epoch, h: calls.append((epoch, h.epochs))],
    )
    assert calls == [(1, 1), (2, 2)]


def test_progress_false_prints_only_the_summary_lines(capsys):
    model, loss_fn, opt = setup()
    fit(model, loss_fn, opt, TRAIN, TEST, epochs=2, batch_size=50, progress=False)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2 and err == ""
    assert lines[0].startswith("epoch 1/2  train loss ") and "test acc 0." in lines[0]
    assert lines[1].startswith("epoch 2/2") and lines[1].endswith(" s")


def test_log_none_is_silent(capsys):
    model, loss_fn, opt = setup()
    fit(model, loss_fn, opt, TRAIN, epochs=1, progress=False, log=None)
    assert capsys.readouterr() == ("", "")


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for terminal in (False, True):
        stream = Terminal() if terminal else io.StringIO()
        monkeypatch.setattr(sys, "stderr", stream)
        model, loss_fn, opt = setup()
        fit(model, loss_fn, opt, TRAIN, epochs=1, batch_size=50, log=None)
        assert ("epoch 1/1" in stream.getvalue()) == terminal


# ---------------------------------------------------------------------------- evaluate


def test_evaluate_restores_each_module_mode_and_accepts_one_hot_labels():
    model, _, _ = setup()
    model.train()
    model.fc2.eval()  # a mixed state must come back as it was
    before = [m.training for m in model.modules()]
    accuracy = evaluate(model, TEST)
    assert [m.training for m in model.modules()] == before
    one_hot = np.eye(N_CLASSES, dtype=np.float32)[TEST[1]]
    assert evaluate(model, (TEST[0], one_hot), batch_size=7) == accuracy
    assert evaluate(model, DataLoader(TensorDataset(*TEST), batch_size=33)) == accuracy
    model.eval()
    evaluate(model, TEST)
    assert not any(m.training for m in model.modules())


def test_evaluate_runs_without_dropout_and_without_a_graph():
    model, _, _ = setup(dropout=0.5)
    assert evaluate(model, TEST) == evaluate(model, TEST)
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_on_empty_data_is_an_error():
    model, _, _ = setup()
    with pytest.raises(ValueError, match="empty"):
        evaluate(model, (TEST[0][:0], TEST[1][:0]))


# ---------------------------------------------------------------------------- History


def test_history_round_trips_through_save_and_load(tmp_path):
    model, loss_fn, opt = setup()
    history = quiet_fit(model, loss_fn, opt, TRAIN, epochs=2)
    save(history.state_dict(), tmp_path / "h.npz")
    assert History.from_dict(load(tmp_path / "h.npz")) == history
    with pytest.raises(ValueError, match="History state"):
        History.from_dict({"losses": []})


@pytest.mark.plot
def test_history_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    model, loss_fn, opt = setup()
    history = quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=2)
    history.plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_history_plot_without_matplotlib_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'minigrad-numpy\[plot\]'"):
        History(train_loss=[1.0]).plot(tmp_path / "curves.png")


# ---------------------------------------------------------------------------- checkpoints


def straight_run(epochs: int = 3) -> tuple[MLP, History]:
    model, loss_fn, opt = setup()
    scheduler = StepLR(opt, step_size=1, gamma=0.7)
    history = quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=epochs, scheduler=scheduler)
    return model, history


def resumed_run(path, epochs: int = 3) -> tuple[MLP, History]:
    model, loss_fn, opt = setup()
    scheduler = StepLR(opt, step_size=1, gamma=0.7)
    history = quiet_fit(
        model,
        loss_fn,
        opt,
        TRAIN,
        TEST,
        epochs=epochs,
        scheduler=scheduler,
        checkpoint=path,
        resume=True,
    )
    return model, history


def same_history(a: History, b: History) -> bool:
    a, b = a.state_dict(), b.state_dict()
    a.pop("seconds"), b.pop("seconds")
    return np.array_equal(a.pop("losses"), b.pop("losses")) and a == b


def test_two_epochs_then_one_resumed_equals_three_straight(tmp_path):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = setup()
    scheduler = StepLR(opt, step_size=1, gamma=0.7)
    quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=2, scheduler=scheduler, checkpoint=path)
    assert load(path)["epoch"] == 2
    resumed, resumed_history = resumed_run(path)
    straight, straight_history = straight_run()
    assert_same_parameters(resumed, straight)
    assert same_history(resumed_history, straight_history)
    assert resumed_history.lr == pytest.approx([0.01, 0.007, 0.0049])


def test_dropout_generators_are_in_the_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = setup()
    quiet_fit(model, loss_fn, opt, TRAIN, epochs=1, checkpoint=path)
    state = load(path)
    assert set(state["generators"]) == {"drop1._rng", "drop2._rng"}
    assert set(state) >= {"model", "optimizer", "scheduler", "loader", "history", "epoch"}


def test_ctrl_c_in_a_callback_saves_that_epoch_and_reraises(tmp_path, capsys):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = setup()
    scheduler = StepLR(opt, step_size=1, gamma=0.7)

    def interrupt(epoch: int, history: History) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        quiet_fit(
            model,
            loss_fn,
            opt,
            TRAIN,
            TEST,
            epochs=3,
            scheduler=scheduler,
            checkpoint=path,
            callbacks=[interrupt],
        )
    assert "holds the state after epoch 2" in capsys.readouterr().err
    assert load(path)["epoch"] == 2
    assert_same_parameters(resumed_run(path)[0], straight_run()[0])


def test_ctrl_c_mid_epoch_saves_the_last_finished_epoch(tmp_path, capsys):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = setup()
    scheduler = StepLR(opt, step_size=1, gamma=0.7)
    steps = []
    real_step = opt.step

    def step_then_maybe_interrupt() -> None:
        real_step()
        steps.append(1)
        if len(steps) == 9:  # the middle of epoch 2
            raise KeyboardInterrupt

    opt.step = step_then_maybe_interrupt
    with pytest.raises(KeyboardInterrupt):
        quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=3, scheduler=scheduler, checkpoint=path)
    err = capsys.readouterr().err
    assert "holds the state after epoch 1" in err and "resume" in err
    one_epoch, _ = straight_run(epochs=1)
    saved = load(path)
    assert saved["epoch"] == 1
    for name, array in one_epoch.state_dict().items():
        assert np.array_equal(saved["model"][name], array), name
    assert_same_parameters(resumed_run(path)[0], straight_run()[0])


def test_ctrl_c_in_the_first_epoch_saves_the_starting_point(tmp_path):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = setup()
    scheduler = StepLR(opt, step_size=1, gamma=0.7)
    real_step = opt.step
    calls = []

    def interrupt() -> None:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_step()

    opt.step = interrupt
    with pytest.raises(KeyboardInterrupt):
        quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=3, scheduler=scheduler, checkpoint=path)
    assert load(path)["epoch"] == 0
    assert_same_parameters(resumed_run(path)[0], straight_run()[0])


def test_resume_reports_missing_and_mismatched_checkpoints(tmp_path):
    model, loss_fn, opt = setup()
    with pytest.raises(CheckpointError, match="no checkpoint"):
        quiet_fit(model, loss_fn, opt, TRAIN, checkpoint=tmp_path / "none", resume=True)
    path = tmp_path / "run.ckpt"
    quiet_fit(model, loss_fn, opt, TRAIN, epochs=1, checkpoint=path)
    other = MLP((N_FEATURES, 8, N_CLASSES), seed=0)
    with pytest.raises(CheckpointError, match="cannot resume"):
        quiet_fit(
            other, loss_fn, optim.Adam(other.parameters()), TRAIN, checkpoint=path, resume=True
        )
    save({"weights": np.zeros(3)}, tmp_path / "model.npz")
    with pytest.raises(CheckpointError, match="not a minigrad training checkpoint"):
        quiet_fit(model, loss_fn, opt, TRAIN, checkpoint=tmp_path / "model.npz", resume=True)


def test_resume_past_the_last_epoch_trains_nothing(tmp_path):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = setup()
    quiet_fit(model, loss_fn, opt, TRAIN, epochs=2, checkpoint=path)
    before = model.state_dict()
    history = quiet_fit(model, loss_fn, opt, TRAIN, epochs=2, checkpoint=path, resume=True)
    assert history.epochs == 2
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def test_mlp_initialises_weights_for_its_activation():
    def widest(model, name):
        return np.abs(dict(model.named_parameters())[name].data).max()

    fan_in = 400
    default_bound = 1 / np.sqrt(fan_in)
    he = MLP((fan_in, 300, 10), activation="relu", seed=0)
    xavier = MLP((fan_in, 300, 10), activation="tanh", seed=0)
    default = MLP((fan_in, 300, 10), activation="relu", seed=0, init="default")
    assert default_bound * 2 < widest(he, "fc1.weight") <= np.sqrt(6 / fan_in)
    assert default_bound < widest(xavier, "fc1.weight") <= np.sqrt(6 / (fan_in + 300))
    assert widest(default, "fc1.weight") <= default_bound
    with pytest.raises(ValueError, match="unknown init 'he'"):
        MLP((4, 2), init="he")
