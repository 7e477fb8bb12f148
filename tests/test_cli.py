"""The `minigrad` command: help, train on the committed MNIST, outputs, errors, gradcheck."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minigrad_nn import datasets
from minigrad_nn.cli import build_parser, main
from minigrad_nn.models import MLP
from minigrad_nn.serialization import load

REPO = Path(__file__).resolve().parent.parent
QUICK = ["train", "--limit", "2000", "--epochs", "1", "--quiet"]


def subparser(name: str):
    actions = build_parser()._subparsers._group_actions[0]  # the COMMAND subparsers
    return actions.choices[name]


def one_line_error(err: str) -> str:
    """The stderr of a failed command: exactly one line, no traceback."""
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------------------- help


@pytest.mark.parametrize("command", ["train", "gradcheck"])
def test_help_lists_every_flag_with_its_default(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    for action in subparser(command)._actions:
        if action.option_strings and action.dest != "help":
            assert action.option_strings[-1] in out
            assert "default" in action.help, action.dest


def test_python_dash_m_runs_the_command():
    result = subprocess.run(
        [sys.executable, "-m", "minigrad_nn", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0
    assert "train" in result.stdout and "gradcheck" in result.stdout


# ---------------------------------------------------------------------------- train


def test_train_prints_epoch_lines_and_a_summary_and_saves_a_loadable_model(tmp_path, capsys):
    path = tmp_path / "model.npz"
    assert main([*QUICK, "--epochs", "2", "--save", str(path)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith("training 784-50-10 relu on mnist (2000 train, 10000 test")
    assert lines[1].startswith("epoch 1/2  train loss ") and "test acc 0." in lines[1]
    assert lines[2].startswith("epoch 2/2")
    assert lines[3].startswith("done: 2 epochs (40 iterations)")
    assert err == ""
    model = MLP((784, 50, 10))
    model.load_state_dict(load(path))
    assert np.array_equal(model.fc1.weight.data, load(path)["fc1.weight"])


def test_train_options_shape_the_model_and_the_run(capsys):
    argv = [*QUICK, "--hidden", "20", "10", "--activation", "tanh", "--dropout", "0.1"]
    argv += ["--optimizer", "adam", "--scheduler", "cosine", "--batch-size", "500"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "784-20-10-10 tanh, dropout 0.1" in out and "adam lr 0.001 (cosine), batch 500" in out
    assert "done: 1 epochs (4 iterations)" in out


def test_iters_gives_the_run_length_in_iterations(capsys):
    assert main(["train", "--limit", "1000", "--iters", "25", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "25 iterations = 3 epochs" in out and "done: 3 epochs (25 iterations)" in out


@pytest.mark.plot
def test_train_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curves.png"
    assert main([*QUICK, "--plot", str(path)]) == 0
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_then_resume_continues_where_it_stopped(tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    assert main([*QUICK, "--checkpoint", ckpt]) == 0
    capsys.readouterr()
    assert main([*QUICK[:-3], "--epochs", "2", "--quiet", "--checkpoint", ckpt, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" not in out and "epoch 2/2" in out
    assert load(ckpt)["epoch"] == 2


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--optimizer", "lbfgs"],
        ["train", "--lr", "-1"],
        ["train", "--hidden"],
        ["train", "--epochs", "0"],
        ["train", "--dropout", "1.5"],
        ["train", "--epochs", "2", "--iters", "10"],
        ["train", "--no-such-flag"],
        ["nonsense"],
    ],
)
def test_bad_options_exit_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in one_line_error(capsys.readouterr().err)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--resume"], "--resume needs --checkpoint"),
        (["--data-dir", "/no/such/folder"], "no such folder"),
        (["--save", "/no/such/folder/model.npz"], "does not exist"),
    ],
)
def test_unusable_paths_exit_2_with_one_line(extra, message, capsys):
    assert main([*QUICK, *extra]) == 2
    assert message in one_line_error(capsys.readouterr().err)


def test_resume_without_a_checkpoint_file_exits_1(tmp_path, capsys):
    argv = [*QUICK, "--checkpoint", str(tmp_path / "none.ckpt"), "--resume"]
    assert main(argv) == 1
    assert "no checkpoint at" in one_line_error(capsys.readouterr().err)


def test_missing_data_says_each_place_searched_on_its_own_line_and_what_to_do(
    tmp_path, monkeypatch, capsys
):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train-labels-idx1-ubyte.gz").write_bytes(b"")  # one file of four
    monkeypatch.setenv("MINIGRAD_DATA", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty))
    monkeypatch.setattr(datasets, "REPO_DATASETS", empty / "repo")
    monkeypatch.setattr(datasets, "MNIST", dataclasses.replace(datasets.MNIST, mirrors=()))
    assert main([*QUICK, "--data-dir", str(empty)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines[0].startswith("minigrad train: error: mnist: no folder holds the files")
    assert lines[1] == "Folders searched:"
    assert datasets._lacks(empty / "nowhere", datasets.MNIST) == "no such folder"
    assert any(line.startswith(f"  {empty}: lacks train-images-idx3-ubyte, t10k") for line in lines)
    assert lines[-1].startswith("To provide the files, put them") and "--data-dir" in lines[-1]


def test_an_empty_data_file_says_it_is_empty(tmp_path, capsys):
    source = Path(datasets.REPO_DATASETS) / "mnist"
    for path in source.glob("*.gz"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"")
    assert main([*QUICK, "--data-dir", str(tmp_path)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "t10k-labels-idx1-ubyte.gz: the file is empty (0 bytes)" in line
    assert "gzip" not in line


def test_plot_without_matplotlib_exits_1_before_training(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert main([*QUICK, "--plot", str(tmp_path / "c.png")]) == 1
    out, err = capsys.readouterr()
    assert "minigrad-numpy[plot]" in one_line_error(err) and out == ""


# ---------------------------------------------------------------------------- gradcheck


def test_gradcheck_prints_the_book_names_and_passes(capsys):
    assert main(["gradcheck", "--hidden", "4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["W1", "b1", "W2", "b2"]
    assert all(float(line.split(": ")[1]) < 1e-6 for line in lines)


def test_gradcheck_fails_above_the_threshold(capsys):
    assert main(["gradcheck", "--hidden", "2", "--samples", "1", "--threshold", "1e-300"]) == 1
    assert "above the threshold" in one_line_error(capsys.readouterr().err)


def test_bench_is_a_minigrad_command(capsys):
    from minigrad_nn.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    assert "minigrad bench grad: the book's 784-50-10 network" in capsys.readouterr().out


# ---------------------------------------------------------------------------- never lose work


def test_rerunning_without_resume_keeps_the_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "run.ckpt"
    assert main([*QUICK, "--checkpoint", str(ckpt)]) == 0
    before = ckpt.read_bytes()
    capsys.readouterr()
    assert main([*QUICK, "--checkpoint", str(ckpt)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert "already exists (a training checkpoint after epoch 1)" in line
    assert "--resume" in line and "--overwrite" in line
    assert ckpt.read_bytes() == before
    assert main([*QUICK, "--lr", "0.05", "--checkpoint", str(ckpt), "--overwrite"]) == 0
    assert load(ckpt)["settings"]["--lr"] == 0.05


def test_resume_with_other_options_lists_every_difference_in_one_line(tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    assert main([*QUICK, "--checkpoint", ckpt]) == 0
    capsys.readouterr()
    changed = ["--lr", "0.5", "--seed", "3", "--optimizer", "momentum", "--activation", "tanh",
               "--dropout", "0.1"]
    assert main([*QUICK, "--epochs", "2", *changed, "--checkpoint", ckpt, "--resume"]) == 1
    line = one_line_error(capsys.readouterr().err)
    for expected in ("--lr: checkpoint 0.1, now 0.5", "--seed: checkpoint 0, now 3",
                     "--optimizer: checkpoint sgd, now momentum",
                     "--activation: checkpoint relu, now tanh",
                     "--dropout: checkpoint 0.0, now 0.1"):
        assert expected in line, (expected, line)
    assert "momentum: checkpoint" not in line  # the flags alone, not fit's own names too
    assert load(ckpt)["epoch"] == 1


def test_more_epochs_on_a_finished_cosine_run_train_at_a_useful_rate(tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    cosine = ["--scheduler", "cosine", "--checkpoint", ckpt]
    assert main([*QUICK[:-3], "--epochs", "3", "--quiet", *cosine]) == 0
    capsys.readouterr()
    assert main([*QUICK[:-3], "--epochs", "5", "--quiet", *cosine, "--resume"]) == 0
    lines = capsys.readouterr().out.splitlines()
    epoch_lines = [line for line in lines if line.startswith("epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["4/5", "5/5"]
    rates = [float(line.split("lr ")[1].split()[0]) for line in epoch_lines]
    assert rates == pytest.approx([0.05 * (1 + np.cos(np.pi * e / 5)) for e in (3, 4)], rel=3e-3)
    assert "3 of them from the checkpoint" in lines[-1]


def test_resuming_a_finished_run_says_there_is_nothing_to_train(tmp_path, capsys):
    ckpt = str(tmp_path / "run.ckpt")
    argv = ["train", "--limit", "1000", "--epochs", "2", "--quiet", "--checkpoint", ckpt]
    assert main(argv) == 0
    capsys.readouterr()
    assert main([*argv, "--resume"]) == 0
    out = capsys.readouterr().out
    assert "nothing to train: the checkpoint already holds 2 epochs" in out
    assert "done:" not in out


def test_limit_keeps_the_books_epochs_so_a_quick_run_is_quick(capsys):
    assert main(["train", "--limit", "1200", "--quiet", "--hidden", "8"]) == 0
    out = capsys.readouterr().out
    assert "(1200 train, 10000 test images)" in out
    assert "200 iterations = 17 epochs" in out and "done: 17 epochs (200 iterations)" in out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "the run keeps the book's 16.7 epochs, so it takes N/60000 of the full" in help_text


def test_every_output_path_is_checked_before_training(tmp_path, capsys):
    missing = tmp_path / "no" / "curves.png"
    assert main([*QUICK, "--plot", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert f"--plot {missing}: cannot write {missing}: folder" in one_line_error(err)
    assert out == ""
    assert main([*QUICK, "--checkpoint", str(tmp_path)]) == 2
    assert "is a folder" in one_line_error(capsys.readouterr().err)
    model = tmp_path / "model.npz"
    model.write_bytes(b"weeks of work")
    assert main([*QUICK, "--save", str(model)]) == 2
    assert "the file exists; add --overwrite" in one_line_error(capsys.readouterr().err)
    assert model.read_bytes() == b"weeks of work"
    assert main([*QUICK, "--save", str(model), "--checkpoint", str(model)]) == 2
    assert "must be different files" in one_line_error(capsys.readouterr().err)


def test_overwrite_replaces_a_saved_model_without_a_checkpoint(tmp_path, capsys):
    model = tmp_path / "model.npz"
    model.write_bytes(b"an old model")
    assert main([*QUICK, "--save", str(model), "--overwrite"]) == 0
    capsys.readouterr()
    assert set(load(model)) >= {"fc1.weight", "fc1.bias"}


def test_a_full_disk_at_the_end_is_one_line_naming_the_users_file(tmp_path, monkeypatch, capsys):
    from minigrad_nn import serialization

    def no_space(fd: int) -> None:
        raise OSError(28, "No space left on device")

    path = tmp_path / "model.npz"
    monkeypatch.setattr(serialization.os, "fsync", no_space)
    assert main([*QUICK, "--save", str(path)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line == f"minigrad train: error: cannot write {path}: the disk is full (no space left " \
        "on the device)"
    assert not path.exists() and os.listdir(tmp_path) == []


def test_threads_default_to_one_for_small_nets_and_follow_the_flag(monkeypatch, capsys):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from minigrad_nn import cli_train

    seen = []
    real_fit = cli_train.fit

    def fit_and_look(*args, **kwargs):
        seen.append({pool["num_threads"] for pool in threadpoolctl.threadpool_info()})
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(cli_train, "fit", fit_and_look)
    assert main(QUICK) == 0
    assert "seed 0, 1 thread\n" in capsys.readouterr().out
    assert main([*QUICK, "--threads", "2"]) == 0
    assert "seed 0, 2 threads\n" in capsys.readouterr().out
    if threadpoolctl.threadpool_info():  # a BLAS that threadpoolctl can see
        assert seen == [{1}, {2}]
    assert cli_train.default_threads((784, 1024, 1024, 10), 100) == cli_train.available_cores()
    assert cli_train.default_threads((784, 300, 10), 100) == 1


def test_a_diverging_run_stops_with_one_line(capsys):
    assert main([*QUICK, "--lr", "1e30"]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith("minigrad train: error: the loss is ") and "at epoch 1, batch" in line
