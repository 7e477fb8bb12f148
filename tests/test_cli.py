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


def test_missing_data_without_network_exits_1_with_one_line(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("MINIGRAD_DATA", str(empty))
    monkeypatch.setenv("XDG_CACHE_HOME", str(empty))
    monkeypatch.setattr(datasets, "REPO_DATASETS", empty / "repo")
    monkeypatch.setattr(datasets, "MNIST", dataclasses.replace(datasets.MNIST, mirrors=()))
    assert main([*QUICK, "--data-dir", str(empty)]) == 1
    line = one_line_error(capsys.readouterr().err)
    assert line.startswith("minigrad train: error: mnist: no folder holds the files")


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
    assert "benchmarks of a minigrad clone" in capsys.readouterr().out
