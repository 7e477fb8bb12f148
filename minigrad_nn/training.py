"""The training loop: `fit` and `evaluate`, with checkpoints that resume exactly.

`fit` walks true epochs of a seeded `DataLoader`; after each epoch it measures the model, prints
one summary line, steps the scheduler, saves a checkpoint (when given a path) and calls the
callbacks. A checkpoint holds everything that decides what comes next (parameters, optimizer and
scheduler state, the shuffling generator, the generators of Dropout-like layers, the history)
and the run's settings, so training 2 epochs and resuming for a 3rd gives bit-identical
parameters to 3 epochs straight, and a resume with other settings is refused
(`minigrad_nn.checkpoint` has the rules that keep a checkpoint from being lost).
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor

from . import functional
from .checkpoint import FORMAT, VERSION, CheckpointError, CheckpointFile, run_settings
from .data import DataLoader, Dataset, TensorDataset
from .distributed import comm, fitting
from .distributed.ddp import DistributedDataParallel
from .history import PLOT_HINT, History
from .losses import CrossEntropyLoss
from .module import Module
from .optim import Optimizer
from .optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

__all__ = ["PLOT_HINT", "CheckpointError", "History", "evaluate", "fit"]

Data = tuple[np.ndarray, np.ndarray] | Dataset | DataLoader
Callback = Callable[[int, "History"], Any]
PathLike = str | os.PathLike

METRICS = ("accuracy",)
POSTFIX_EVERY = 20  # steps between updates of the progress bar's loss text


# ---------------------------------------------------------------------------- evaluate


def evaluate(model: Module, data: Data, batch_size: int = 1000) -> float:
    """Accuracy of `model` on `data` ((x, t), a dataset or a loader), in no_grad and eval mode.

    Labels may be ints or one-hot rows; every module's previous mode is restored.
    """
    accuracy = _measure(model, data, batch_size, accuracy=True)[1]
    assert accuracy is not None
    return accuracy


def _measure(
    model: Module,
    data: Data,
    batch_size: int = 1000,
    loss_fn: Callable | None = None,
    accuracy: bool = True,
    shard: bool = False,
) -> tuple[float | None, float | None]:
    """(mean loss or None, accuracy or None) of `model` on `data`, in order, without a graph.
    With `shard` (under mpirun), each rank measures its share and the sums are reduced."""
    dataset = _as_dataset(data, "data")
    if shard:
        dataset = fitting.rank_share(dataset)
    loader = DataLoader(dataset, batch_size, shuffle=False)
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    try:
        with mg.no_grad():
            for x, t in loader:
                output = model(Tensor(x))
                if accuracy:
                    labels = t.argmax(axis=1) if t.ndim == 2 else t
                    correct += int(np.count_nonzero(output.data.argmax(axis=1) == labels))
                if loss_fn is not None:
                    loss_sum += loss_fn(output, Tensor(t)).item() * len(t)
                total += len(t)
    finally:
        for module, mode in modes:
            module.training = mode
    if shard:
        correct, total, loss_sum = fitting.sum_over_ranks(correct, total, loss_sum)
    if total == 0:
        raise ValueError("cannot evaluate on empty data")
    return (
        loss_sum / total if loss_fn is not None else None,
        correct / total if accuracy else None,
    )


def _as_dataset(data: Data, what: str) -> Dataset:
    """The dataset behind `data`: an (x, t) pair of arrays, a Dataset, or a DataLoader's."""
    if isinstance(data, DataLoader):
        return data.dataset
    if isinstance(data, Dataset):
        return data
    if isinstance(data, tuple | list) and len(data) == 2:
        return TensorDataset(*data)
    raise TypeError(
        f"{what} must be an (x, t) pair of arrays, a Dataset or a DataLoader, "
        f"got {type(data).__name__}"
    )


# ---------------------------------------------------------------------------- fit


def fit(
    model: Module,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Optimizer,
    train_data: Data,
    test_data: Data | None = None,
    epochs: int = 10,
    batch_size: int = 100,
    seed: int | None = None,
    progress: bool = True,
    scheduler: Any = None,
    checkpoint: PathLike | None = None,
    resume: bool = False,
    callbacks: Iterable[Callback] = (),
    iters: int | None = None,
    log: Callable[[str], Any] | None = print,
    overwrite: bool = False,
    settings: dict[str, Any] | None = None,
    metrics: Iterable[str] | None = None,
    check_finite: bool = True,
) -> History:
    """Train `model` by mini-batch gradient descent and return its `History`.

    `epochs` counts all epochs, those in a resumed checkpoint included; `iters` (the book's
    iteration count) overrides it. `batch_size` and `seed` build the shuffling DataLoader unless
    `train_data` is one. `progress` shows a tqdm bar on a terminal; `log` gets one summary line
    per epoch (None: silent). `callbacks` are called as `callback(epoch, history)` after each.

    `metrics` names what is measured besides the loss: `("accuracy",)` or `()`; by default
    accuracy for a classification loss (cross-entropy), nothing otherwise (e.g. `MSELoss`).
    With `check_finite` (default), a NaN or infinite loss stops training with a
    `FloatingPointError` naming the epoch and batch, before that batch's update.

    `checkpoint` is saved after every epoch. An existing file there is never replaced unless
    `resume=True` continues it or `overwrite=True` starts over; the run's settings (the model's
    repr, loss, optimizer and hyper-parameters, scheduler, batch size, seed, number of
    examples, and the caller's own `settings`) are stored in it, and resuming with other
    settings raises a `CheckpointError` that lists every difference. Only the run's length may
    change on resume: a longer `epochs` (or `iters`) continues the run, and a cosine schedule's
    `T_max` is stretched to the new length rather than run at its final rate.
    """
    loader = _train_loader(train_data, batch_size, seed)
    total_steps = _total_steps(epochs, iters, len(loader))
    n_epochs = math.ceil(total_steps / len(loader))
    measure_accuracy = _wants_accuracy(loss_fn, metrics)
    if checkpoint is None and (resume or overwrite):
        raise ValueError(f"{'resume' if resume else 'overwrite'}=True needs a checkpoint path")
    # Under mpirun only rank 0 holds the file (and prints); its errors stop every rank.
    file = None if checkpoint is None else comm.run_on_rank0(
        lambda: CheckpointFile(checkpoint, resume, overwrite)
    )
    current = run_settings(model, loss_fn, optimizer, scheduler, loader, seed)
    if settings:
        current.update(settings)
    parallel = fitting.is_parallel()
    if parallel:
        world, rank = comm.get_world_size(), comm.get_rank()
        current.update(batch_size=loader.batch_size * world, ranks=world)
        progress, log = progress and rank == 0, log if rank == 0 else None
    trainer = _Trainer(model, loss_fn, optimizer, loader, scheduler, measure_accuracy, parallel)
    history, done = History(), 0
    if checkpoint is not None and resume:
        saved = comm.run_on_rank0(lambda: _read_to_resume(file, current, settings), share=True)
        history, done = trainer.restore(saved, os.fspath(checkpoint))
        current = saved["settings"]  # the settings stay the run's first ones
    state = trainer.state(done, history, current)
    try:
        for epoch in range(done + 1, n_epochs + 1):
            steps = min(len(loader), total_steps - len(history.losses))
            if steps <= 0:
                break
            trainer.run_epoch(epoch, n_epochs, steps, history, test_data, progress, check_finite)
            if log is not None:
                log(_epoch_line(history, epoch, n_epochs))
            state = trainer.state(epoch, history, current)
            if file is not None:
                file.save(state)
            for callback in callbacks:
                callback(epoch, history)
    except KeyboardInterrupt:
        if file is not None:
            _report_interrupt(file, state)
        raise
    finally:
        trainer.close()
    return history


def _read_to_resume(
    file: CheckpointFile, current: dict[str, Any], settings: dict[str, Any] | None
) -> dict[str, Any]:
    """The checkpoint's state, once it is known to fit this run (on rank 0 under mpirun)."""
    saved = file.read()
    fitting.check_ranks(file.path, saved.get("settings") or {})
    _check_settings(file, saved.get("settings"), current, settings)
    return saved


def _wants_accuracy(loss_fn: Any, metrics: Iterable[str] | None) -> bool:
    """Whether to measure accuracy: as asked, else for a classification loss only."""
    if metrics is None:
        return isinstance(loss_fn, CrossEntropyLoss) or loss_fn is functional.cross_entropy
    if isinstance(metrics, str):
        metrics = (metrics,)
    names = list(metrics)
    unknown = [name for name in names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}: fit measures {', '.join(METRICS)}")
    return "accuracy" in names


def _check_settings(
    file: CheckpointFile, saved: Any, current: dict[str, Any], given: dict[str, Any] | None
) -> None:
    """The caller's `settings` are compared first and, if one differs, alone (they name the
    options in the caller's words, e.g. `--lr`); the settings fit derives itself are the
    safety net."""
    if not isinstance(saved, dict):
        raise CheckpointError(f"{file.path} holds no run settings")
    if given:
        file.check_settings({k: saved.get(k) for k in given}, dict(given))
    file.check_settings(saved, current)


def _train_loader(data: Data, batch_size: int, seed: int | None) -> DataLoader:
    """The shuffling loader of `data`; under mpirun, of this rank's share of each batch."""
    if isinstance(data, DataLoader):
        loader = data
        if fitting.is_parallel():
            fitting.check_loader(loader)
    elif fitting.is_parallel():
        loader = fitting.sharded_loader(_as_dataset(data, "train_data"), batch_size, seed)
    else:
        loader = DataLoader(_as_dataset(data, "train_data"), batch_size, shuffle=True, seed=seed)
    if len(loader) == 0:
        raise ValueError("train_data gives no batch (is it empty?)")
    return loader


def _total_steps(epochs: int, iters: int | None, steps_per_epoch: int) -> int:
    """How many optimizer steps the whole run takes."""
    if iters is not None:
        _check_positive("iters", iters)
        return int(iters)
    _check_positive("epochs", epochs)
    return int(epochs) * steps_per_epoch


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _epoch_line(history: History, epoch: int, n_epochs: int) -> str:
    """One epoch's summary: epoch, train loss, accuracies (or test loss), lr, seconds."""
    width = len(str(n_epochs))
    parts = [f"epoch {epoch:>{width}}/{n_epochs}", f"train loss {history.train_loss[-1]:.4f}"]
    test_acc, test_loss = history.test_acc[-1], history.test_loss[-1]
    if history.train_acc[-1] is not None:
        parts.append(f"train acc {history.train_acc[-1]:.4f}")
        parts.append(f"test acc {'-' if test_acc is None else f'{test_acc:.4f}'}")
    else:
        parts.append(f"test loss {'-' if test_loss is None else f'{test_loss:.4f}'}")
    parts += [f"lr {history.lr[-1]:.3g}", f"{history.seconds[-1]:.1f} s"]
    return "  ".join(parts)


def _report_interrupt(file: CheckpointFile, state: dict[str, Any]) -> None:
    """On Ctrl-C: say which epoch the checkpoint holds. Every finished epoch is already saved;
    the starting state is written only where no file exists (never over newer work)."""
    file.save_if_empty(state)
    if file.epoch_on_disk is None:
        where = f"{file.path} is unchanged"
    else:
        where = f"{file.path} holds the state after epoch {file.epoch_on_disk}"
    print(
        f"\ninterrupted: {where}; resume with fit(..., checkpoint=..., resume=True) or "
        "`minigrad train ... --resume`",
        file=sys.stderr,
    )


class _Trainer:
    """The pieces of one training run, with an epoch, its measurements and its state."""

    def __init__(
        self,
        model: Module,
        loss_fn: Callable,
        optimizer: Optimizer,
        loader: DataLoader,
        scheduler: Any,
        accuracy: bool,
        parallel: bool = False,
    ) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.loader, self.scheduler, self.accuracy = loader, scheduler, accuracy
        # Under mpirun the ranks train through DistributedDataParallel (gradients averaged) and
        # measure their shares of the data; `model` is still what is measured and saved.
        self.parallel = parallel
        wrap = parallel and not isinstance(model, DistributedDataParallel)
        self.train_model = DistributedDataParallel(model) if wrap else model
        self._wrapped = wrap

    def close(self) -> None:
        """Unhook the wrapper fit made: the model trains alone again after fit."""
        if self._wrapped:
            self.train_model.close()

    def run_epoch(
        self,
        epoch: int,
        n_epochs: int,
        steps: int,
        history: History,
        test_data: Data | None,
        progress: bool,
        check_finite: bool,
    ) -> None:
        """Train `steps` batches, measure, record the epoch in `history`, step the scheduler."""
        start = time.perf_counter()
        lr = float(self.optimizer.param_groups[0]["lr"])
        bar = _progress_bar(progress, steps, f"epoch {epoch}/{n_epochs}")
        try:
            losses = self.train_steps(epoch, steps, bar, check_finite)
        finally:
            if bar is not None:
                bar.close()
        if self.parallel:  # one process's batch losses; every rank measures rank 0's model
            losses = fitting.mean_over_ranks(losses)
            self.train_model.sync_buffers()
        shard = self.parallel
        train_acc = _measure(self.model, self.loader, shard=shard)[1] if self.accuracy else None
        test_loss, test_acc = (
            (None, None)
            if test_data is None
            else _measure(self.model, test_data, loss_fn=self.loss_fn, accuracy=self.accuracy,
                          shard=shard)
        )
        history.losses.extend(losses)
        history.train_loss.append(math.fsum(losses) / len(losses))
        history.train_acc.append(train_acc)
        history.test_loss.append(test_loss)
        history.test_acc.append(test_acc)
        history.lr.append(lr)
        history.iterations.append(len(history.losses))
        self.step_scheduler(history)
        history.seconds.append(time.perf_counter() - start)

    def train_steps(self, epoch: int, steps: int, bar: Any, check_finite: bool) -> list[float]:
        """The hot loop: forward, loss, zero_grad, backward, step, for `steps` batches."""
        model, loss_fn, optimizer = self.train_model, self.loss_fn, self.optimizer
        model.train()
        losses: list[float] = []
        for step, (x, t) in enumerate(self.loader, start=1):
            loss = loss_fn(model(Tensor(x)), Tensor(t))
            value = loss.item()
            if check_finite and not math.isfinite(value):
                raise FloatingPointError(
                    f"the loss is {value} at epoch {epoch}, batch {step}: training diverged "
                    "(try a lower learning rate); stopped before this batch's update "
                    "(fit(..., check_finite=False) trains on regardless)"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(value)
            if bar is not None:
                _tick(bar, losses)
            if step == steps:
                break
        return losses

    def step_scheduler(self, history: History) -> None:
        """One scheduler step per epoch; ReduceLROnPlateau watches the test (else train) loss."""
        if self.scheduler is None:
            return
        if isinstance(self.scheduler, ReduceLROnPlateau):
            test_loss = history.test_loss[-1]
            self.scheduler.step(history.train_loss[-1] if test_loss is None else test_loss)
        else:
            self.scheduler.step()

    def state(self, epoch: int, history: History, settings: dict[str, Any]) -> dict[str, Any]:
        """Everything needed to continue after `epoch` exactly as if never stopped."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "epoch": epoch,
            "settings": settings,
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "loader": self.loader.state_dict(),
            "generators": {name: g.bit_generator.state for name, g in _generators(self.model)},
            "history": history.state_dict(),
        }

    def restore(self, state: dict[str, Any], path: str) -> tuple[History, int]:
        """Load a checkpoint's state; returns its history and epoch count."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self._restore_scheduler(state["scheduler"])
            self.loader.load_state_dict(state["loader"])
            _restore_generators(self.model, state["generators"])
            history = History.from_dict(state["history"])
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise CheckpointError(f"{path}: cannot resume from this checkpoint: {err}") from err
        return history, int(state["epoch"])

    def _restore_scheduler(self, state: dict[str, Any] | None) -> None:
        """The saved progress, with this run's length: a schedule over a longer run is
        stretched (its rate recomputed for the epochs still to come)."""
        if (state is None) != (self.scheduler is None):
            has = "has no" if state is None else "has a"
            raise ValueError(f"the checkpoint {has} scheduler state, unlike this run")
        if self.scheduler is None:
            return
        length = {k: getattr(self.scheduler, k) for k in ("T_max",) if hasattr(self.scheduler, k)}
        self.scheduler.load_state_dict({**state, **length})
        if isinstance(self.scheduler, LRScheduler):
            self.scheduler._set_lrs(self.scheduler.get_lr())


def _progress_bar(progress: bool, steps: int, description: str) -> Any:
    """A tqdm bar on stderr when asked for and stderr is a terminal, else None."""
    if not progress or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=steps, desc=description, unit="batch", leave=False, file=sys.stderr)


def _tick(bar: Any, losses: list[float]) -> None:
    """Advance the bar; every few steps, show the epoch's running mean loss."""
    bar.update()
    if len(losses) % POSTFIX_EVERY == 0:
        bar.set_postfix_str(f"loss {math.fsum(losses) / len(losses):.4f}", refresh=False)


def _generators(model: Module) -> list[tuple[str, np.random.Generator]]:
    """Every NumPy generator held as an attribute by the model's modules (e.g. Dropout's)."""
    found = []
    for module_name, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, np.random.Generator):
                found.append((f"{module_name}.{attr}" if module_name else attr, value))
    return found


def _restore_generators(model: Module, states: dict[str, Any]) -> None:
    generators = dict(_generators(model))
    if set(generators) != set(states):
        raise ValueError(
            f"the checkpoint has random generators {sorted(states)}, the model {sorted(generators)}"
        )
    for name, generator in generators.items():
        generator.bit_generator.state = states[name]
