"""Checkpoints never destroy work (API.md, "Checkpoints"); `fit`'s metrics and NaN stop.

On the small synthetic data set of test_training.py (fast)."""

from __future__ import annotations

import errno
import math
import os

import numpy as np
import pytest
from test_training import N_CLASSES, N_FEATURES, TEST, TRAIN, quiet_fit
from test_training import setup as new_run

from minigrad_nn import optim, serialization
from minigrad_nn.checkpoint import FORMAT, differences
from minigrad_nn.losses import CrossEntropyLoss, MSELoss
from minigrad_nn.models import MLP
from minigrad_nn.optim.lr_scheduler import CosineAnnealingLR
from minigrad_nn.serialization import check_writable, load, save
from minigrad_nn.training import CheckpointError, History, fit


def first_run(path, epochs: int = 2) -> bytes:
    model, loss_fn, opt = new_run()
    quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=epochs, checkpoint=path)
    return path.read_bytes()


# ---------------------------------------------------------------------------- never overwrite


def test_an_existing_checkpoint_is_not_replaced_by_a_new_run(tmp_path):
    path = tmp_path / "run.ckpt"
    before = first_run(path)
    model, loss_fn, opt = new_run()
    with pytest.raises(CheckpointError) as info:
        quiet_fit(model, loss_fn, opt, TRAIN, epochs=1, checkpoint=path)
    message = str(info.value)
    assert "already exists (a training checkpoint after epoch 2)" in message
    assert "resume=True" in message and "overwrite=True" in message
    assert path.read_bytes() == before


def test_overwrite_starts_over_and_replaces_the_file_after_the_first_epoch(tmp_path):
    path = tmp_path / "run.ckpt"
    first_run(path, epochs=2)
    model, loss_fn, opt = new_run(lr=0.02)
    quiet_fit(model, loss_fn, opt, TRAIN, epochs=1, checkpoint=path, overwrite=True)
    state = load(path)
    assert state["epoch"] == 1 and state["settings"]["lr"] == 0.02


def test_ctrl_c_before_the_first_epoch_ends_keeps_the_older_work(tmp_path, capsys):
    path = tmp_path / "run.ckpt"
    before = first_run(path, epochs=3)
    model, loss_fn, opt = new_run()

    def interrupt() -> None:
        raise KeyboardInterrupt

    opt.step = interrupt
    with pytest.raises(KeyboardInterrupt):
        quiet_fit(model, loss_fn, opt, TRAIN, epochs=5, checkpoint=path, overwrite=True)
    assert path.read_bytes() == before
    assert f"{path} is unchanged" in capsys.readouterr().err


def test_ctrl_c_in_a_resumed_run_does_not_write_its_starting_point_again(tmp_path):
    path = tmp_path / "run.ckpt"
    before = first_run(path, epochs=2)
    model, loss_fn, opt = new_run()

    def interrupt() -> None:
        raise KeyboardInterrupt

    opt.step = interrupt
    with pytest.raises(KeyboardInterrupt):
        quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=4, checkpoint=path, resume=True)
    assert path.read_bytes() == before


def test_a_newer_state_written_by_another_run_is_never_replaced(tmp_path):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = new_run()

    def other_run_writes(epoch: int, history: History) -> None:
        if epoch == 1:
            state = load(path)
            save({**state, "epoch": 7}, path)

    with pytest.raises(CheckpointError, match="changed on disk while this run was training"):
        quiet_fit(model, loss_fn, opt, TRAIN, epochs=3, checkpoint=path,
                  callbacks=[other_run_writes])
    assert load(path)["epoch"] == 7


def test_resume_and_overwrite_exclude_each_other(tmp_path):
    model, loss_fn, opt = new_run()
    with pytest.raises(ValueError, match="exclude each other"):
        quiet_fit(model, loss_fn, opt, TRAIN, checkpoint=tmp_path / "c", resume=True,
                  overwrite=True)
    with pytest.raises(ValueError, match="needs a checkpoint path"):
        quiet_fit(model, loss_fn, opt, TRAIN, overwrite=True)


# ---------------------------------------------------------------------------- settings


def test_resume_with_other_settings_lists_every_difference_and_changes_nothing(tmp_path):
    path = tmp_path / "run.ckpt"
    before = first_run(path)
    model = MLP((N_FEATURES, 16, 16, N_CLASSES), dropout=0.5, seed=0)
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    with pytest.raises(CheckpointError) as info:
        quiet_fit(model, CrossEntropyLoss(), opt, TRAIN, epochs=3, batch_size=30, seed=4,
                  checkpoint=path, resume=True)
    message = str(info.value)
    assert "\n" not in message
    for expected in ("model: checkpoint", "dropout=0.5", "optimizer: checkpoint Adam, now SGD",
                     "lr: checkpoint 0.01, now 0.5", "batch_size: checkpoint 50, now 30",
                     "seed: checkpoint 0, now 4", "momentum: checkpoint (not set), now 0.9"):
        assert expected in message, (expected, message)
    assert path.read_bytes() == before


def test_the_callers_settings_are_compared_in_the_callers_words(tmp_path):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = new_run()
    quiet_fit(model, loss_fn, opt, TRAIN, epochs=1, checkpoint=path,
              settings={"--dataset": "mnist", "--limit": 300})
    model, loss_fn, opt = new_run()
    with pytest.raises(CheckpointError) as info:
        quiet_fit(model, loss_fn, opt, TRAIN, epochs=2, checkpoint=path, resume=True,
                  settings={"--dataset": "fashion-mnist", "--limit": 300})
    assert "--dataset: checkpoint mnist, now fashion-mnist" in str(info.value)
    assert "--limit" not in str(info.value)


def test_differences_treat_a_saved_tuple_as_the_same_list():
    assert differences({"betas": [0.9, 0.999]}, {"betas": (0.9, 0.999)}) == []
    assert differences({"a": 1}, {"a": 2, "b": 3}) == [
        "a: checkpoint 1, now 2", "b: checkpoint (not set), now 3"]


def test_a_longer_cosine_run_is_stretched_not_run_at_zero(tmp_path):
    path = tmp_path / "run.ckpt"
    model, loss_fn, opt = new_run(dropout=0.0)
    quiet_fit(model, loss_fn, opt, TRAIN, epochs=3, checkpoint=path,
              scheduler=CosineAnnealingLR(opt, T_max=3))
    model, loss_fn, opt = new_run(dropout=0.0)
    history = quiet_fit(model, loss_fn, opt, TRAIN, epochs=5, checkpoint=path, resume=True,
                        scheduler=CosineAnnealingLR(opt, T_max=5))
    cosine_5 = [0.005 * (1 + math.cos(math.pi * e / 5)) for e in range(5)]
    assert history.epochs == 5 and load(path)["epoch"] == 5
    assert history.lr[3:] == pytest.approx(cosine_5[3:])
    assert min(history.lr[3:]) > 0.0009


def test_an_old_checkpoint_without_settings_is_refused_with_what_to_do(tmp_path):
    path = tmp_path / "old.ckpt"
    save({"format": FORMAT, "version": 1, "epoch": 3}, path)
    model, loss_fn, opt = new_run()
    with pytest.raises(CheckpointError, match=r"version 1 cannot be resumed.*overwrite"):
        quiet_fit(model, loss_fn, opt, TRAIN, epochs=4, checkpoint=path, resume=True)


# ---------------------------------------------------------------------------- writing


def test_a_checkpoint_path_that_cannot_be_written_fails_before_training(tmp_path):
    model, loss_fn, opt = new_run()
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(CheckpointError, match=r"no/run\.ckpt: folder .* does not exist"):
        quiet_fit(model, loss_fn, opt, TRAIN, checkpoint=tmp_path / "no" / "run.ckpt")
    with pytest.raises(CheckpointError, match="is a folder"):
        quiet_fit(model, loss_fn, opt, TRAIN, checkpoint=tmp_path, overwrite=True)
    assert all(np.array_equal(b, p.data) for b, p in zip(before, model.parameters(), strict=True))


def test_check_writable_names_the_path(tmp_path, monkeypatch):
    check_writable(tmp_path / "fine.npz")
    with pytest.raises(FileNotFoundError, match=r"missing/x\.npz: folder"):
        check_writable(tmp_path / "missing" / "x.npz")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "tmpabc"))

    monkeypatch.setattr(serialization.tempfile, "TemporaryFile", refuse)
    with pytest.raises(PermissionError) as info:
        check_writable(tmp_path / "model.npz")
    assert str(info.value).endswith(f"cannot write {tmp_path / 'model.npz'}: Permission denied")


def test_a_full_disk_is_reported_as_such_and_the_old_file_stays(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    save({"w": np.arange(3.0)}, path)
    before = path.read_bytes()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(serialization.os, "fsync", no_space)
    with pytest.raises(OSError) as info:
        save({"w": np.arange(1000.0)}, path)
    message = str(info.value)
    assert f"cannot write {path}: the disk is full" in message
    assert "previous file there is unchanged" in message and ".tmp" not in message
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]  # the temporary file is gone


def test_a_write_error_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / ".x.tmp"))

    monkeypatch.setattr(serialization.tempfile, "mkstemp", refuse)
    with pytest.raises(PermissionError) as info:
        save({"w": np.zeros(2)}, tmp_path / "w.npz")
    assert f"cannot write {tmp_path / 'w.npz'}: Permission denied" in str(info.value)
    assert ".tmp" not in str(info.value)


# ---------------------------------------------------------------------------- metrics, NaN


def regression_data(n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)


def test_a_regression_loss_measures_no_accuracy_by_default():
    model = MLP((3, 8, 1), seed=0)
    lines = []
    history = fit(model, MSELoss(), optim.SGD(model.parameters(), lr=0.05), regression_data(),
                  regression_data(50), epochs=2, seed=0, progress=False, log=lines.append)
    assert history.train_acc == [None, None] and history.test_acc == [None, None]
    assert all(isinstance(loss, float) for loss in history.test_loss)
    assert "acc" not in lines[0] and "test loss" in lines[0]
    assert history.train_loss[1] < history.train_loss[0]


def test_classification_measures_accuracy_by_default_and_metrics_can_say_otherwise():
    model, loss_fn, opt = new_run()
    assert quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=1).test_acc[0] > 0.5
    silent = quiet_fit(model, loss_fn, opt, TRAIN, TEST, epochs=1, metrics=())
    assert silent.train_acc == [None] and silent.test_acc == [None]
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        quiet_fit(model, loss_fn, opt, TRAIN, epochs=1, metrics=["f1"])


def test_a_nan_loss_stops_with_the_epoch_and_batch_before_the_update():
    model, loss_fn, opt = new_run(adam=False, lr=0.1)
    x, t = TRAIN[0].copy(), TRAIN[1]
    calls = []
    real_forward = model.forward

    def poisoned(inputs):
        calls.append(1)
        out = real_forward(inputs)
        return out * np.float32("nan") if len(calls) == 9 else out  # batch 3 of epoch 2

    model.forward = poisoned
    with pytest.raises(FloatingPointError, match="loss is nan at epoch 2, batch 3") as info:
        quiet_fit(model, loss_fn, opt, (x, t), epochs=3, batch_size=50, metrics=())
    assert "check_finite=False" in str(info.value)
    assert all(np.isfinite(p.data).all() for p in model.parameters())


def test_check_finite_false_trains_on():
    model, loss_fn, opt = new_run(adam=False, lr=1e30)
    with np.errstate(all="ignore"):
        history = quiet_fit(model, loss_fn, opt, TRAIN, epochs=2, check_finite=False)
    assert history.epochs == 2 and not all(math.isfinite(v) for v in history.losses)


@pytest.mark.plot
def test_history_plot_of_a_regression_draws_the_losses_only(tmp_path):
    pytest.importorskip("matplotlib")
    model = MLP((3, 8, 1), seed=0)
    history = fit(model, MSELoss(), optim.SGD(model.parameters(), lr=0.05), regression_data(),
                  regression_data(50), epochs=2, seed=0, progress=False, log=None)
    history.plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
