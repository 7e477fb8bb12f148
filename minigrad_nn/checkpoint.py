"""Training checkpoints that never destroy work.

A checkpoint file holds the state after an epoch and the settings of the run that wrote it.
`fit` follows three rules (API.md, "Checkpoints"):

* an existing file is replaced only by the run that resumes from it, or when the caller says
  `overwrite=True` (`--overwrite`); otherwise `fit` stops before training;
* a state is never written over a newer one: the file is written at the end of each epoch, and
  a file that changed on disk since this run read it (another run writing to the same path) is
  left alone;
* resuming with different settings stops with one message that lists every difference. What may
  change on resume is the run's length (`epochs`, `iters`) and with it a schedule's length
  (`T_max` of `CosineAnnealingLR`, which is then stretched over the new length).
"""

from __future__ import annotations

import os
from typing import Any

from .module import Module
from .optim import Optimizer
from .serialization import check_writable, load, save

__all__ = ["CheckpointError", "CheckpointFile", "differences", "run_settings"]

FORMAT = "minigrad-checkpoint"
VERSION = 2  # 2: the run's settings are stored beside the state

#: Scheduler attributes that record progress, not configuration (never compared).
SCHEDULER_PROGRESS = frozenset(
    {"last_epoch", "_last_lr", "base_lrs", "best", "num_bad_epochs", "cooldown_counter"}
)
#: Scheduler attributes that follow the run's length: they may change on resume.
SCHEDULER_LENGTH = frozenset({"T_max"})

PathLike = str | os.PathLike


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, in the way, or does not fit this run."""


def run_settings(
    model: Module,
    loss_fn: Any,
    optimizer: Optimizer,
    scheduler: Any,
    loader: Any,
    seed: int | None,
) -> dict[str, Any]:
    """What decides a run besides its length, as plain data `nn.save` stores: the model (its
    repr, which shows sizes and options such as dropout), loss, optimizer and its
    hyper-parameters (the initial learning rate), scheduler and its configuration, batch size,
    shuffling seed and the number of training examples."""
    settings: dict[str, Any] = {
        "model": " ".join(repr(model).split()),
        "loss": " ".join(repr(loss_fn).split())
        if isinstance(loss_fn, Module)
        else getattr(loss_fn, "__qualname__", type(loss_fn).__name__),
        "optimizer": type(optimizer).__name__,
    }
    groups = optimizer.param_groups
    for i, group in enumerate(groups):
        prefix = f"param_groups[{i}]." if len(groups) > 1 else ""
        for key, value in group.items():
            if key not in ("params", "initial_lr"):
                settings[prefix + key] = group.get("initial_lr", value) if key == "lr" else value
    settings["scheduler"] = None if scheduler is None else type(scheduler).__name__
    if scheduler is not None:
        for key, value in scheduler.state_dict().items():
            if key not in SCHEDULER_PROGRESS | SCHEDULER_LENGTH:
                settings[f"scheduler.{key}"] = value
    settings.update(
        batch_size=loader.batch_size,
        shuffle=loader.shuffle,
        drop_last=loader.drop_last,
        seed=seed,
        examples=len(loader.dataset),
    )
    return settings


def differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """One line per setting that differs: `name: checkpoint A, now B`."""
    lines = []
    for key in [*saved, *(k for k in current if k not in saved)]:
        old, new = saved.get(key, "(not set)"), current.get(key, "(not set)")
        if _plain(old) != _plain(new):
            lines.append(f"{key}: checkpoint {_shown(old)}, now {_shown(new)}")
    return lines


def _plain(value: Any) -> Any:
    """Tuples as lists, so a value compares equal after a save and load."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_shown(v) for v in value)
    return str(value)


class CheckpointFile:
    """The checkpoint path of one run, with the rules above.

    Created before training: it refuses a path that cannot be written, an existing file the run
    may not replace, and a missing file to resume from.
    """

    def __init__(self, path: PathLike, resume: bool, overwrite: bool) -> None:
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other: resume continues the "
                             "checkpoint, overwrite starts a new run over it")
        self.path = os.fspath(path)
        self.seen = _signature(self.path)  # the file as this run last read or wrote it
        self.epoch_on_disk: int | None = None
        if resume and self.seen is None:
            raise CheckpointError(f"no checkpoint at {self.path} to resume from")
        if self.seen is not None and not (resume or overwrite):
            raise CheckpointError(
                f"{self.path} already exists ({self._describe()}); resume from it "
                "(resume=True, --resume), replace it (overwrite=True, --overwrite), "
                "or choose another checkpoint path"
            )
        try:
            check_writable(self.path)
        except OSError as err:
            raise CheckpointError(err.strerror or str(err)) from err

    def _describe(self) -> str:
        try:
            state = load(self.path)
        except (OSError, ValueError):
            return "not a minigrad training checkpoint"
        if isinstance(state, dict) and state.get("format") == FORMAT:
            return f"a training checkpoint after epoch {state.get('epoch')}"
        return "not a minigrad training checkpoint"

    def read(self) -> dict[str, Any]:
        """The checkpoint's content, checked for our format and version."""
        try:
            state = load(self.path)
        except (OSError, ValueError) as err:
            raise CheckpointError(f"cannot read checkpoint {self.path}: {err}") from err
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise CheckpointError(f"{self.path} is not a minigrad training checkpoint")
        if state.get("version") != VERSION:
            raise CheckpointError(
                f"{self.path}: checkpoint version {state.get('version')!r} cannot be resumed by "
                f"this minigrad (it reads version {VERSION}, which stores the run's settings); "
                "start a new run with overwrite=True (--overwrite)"
            )
        self.epoch_on_disk = int(state["epoch"])
        return state

    def check_settings(self, saved: dict[str, Any], current: dict[str, Any]) -> None:
        """Stop, listing every difference, when this run's settings are not the checkpoint's."""
        found = differences(saved, current)
        if found:
            raise CheckpointError(
                f"cannot resume from {self.path}: this run's settings differ from the "
                f"checkpoint's: {'; '.join(found)}. Resume with the checkpoint's settings "
                "(only the number of epochs or iterations may change), or start a new run "
                "with overwrite=True (--overwrite) or another checkpoint path"
            )

    def save(self, state: dict[str, Any]) -> None:
        """Write `state` unless the file changed on disk since this run last read or wrote it."""
        now = _signature(self.path)
        if now != self.seen:
            raise CheckpointError(
                f"{self.path} changed on disk while this run was training (another run writing "
                f"to the same path?); not replacing it with the state after epoch "
                f"{state['epoch']}"
            )
        save(state, self.path)
        self.seen = _signature(self.path)
        self.epoch_on_disk = int(state["epoch"])

    def save_if_empty(self, state: dict[str, Any]) -> bool:
        """Write `state` only where no file exists (used on Ctrl-C: never older over newer)."""
        if self.epoch_on_disk is not None or _signature(self.path) is not None:
            return False
        self.save(state)
        return True


def _signature(path: str) -> tuple[int, int, int] | None:
    """(inode, size, mtime in ns) of the file at `path`, or None if there is none."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)
