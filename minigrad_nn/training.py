"""The training loop: `fit`, `evaluate`, `History`, and checkpoints that resume exactly.

`fit` walks true epochs of a seeded `DataLoader`; after each epoch it measures the model, prints
one summary line, steps the scheduler, saves a checkpoint (when given a path) and calls the
callbacks. A checkpoint holds everything that decides what comes next (parameters, optimizer and
scheduler state, the shuffling generator, the generators of Dropout-like layers, the history), so
training 2 epochs and resuming for a 3rd gives bit-identical parameters to 3 epochs straight.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor

from .data import DataLoader, Dataset, TensorDataset
from .module import Module
from .optim import Optimizer
from .optim.lr_scheduler import ReduceLROnPlateau
from .serialization import load, save

__all__ = ["CheckpointError", "History", "evaluate", "fit"]

Data = tuple[np.ndarray, np.ndarray] | Dataset | DataLoader
Callback = Callable[[int, "History"], Any]
PathLike = str | os.PathLike

CHECKPOINT_FORMAT = "minigrad-checkpoint"
CHECKPOINT_VERSION = 1
PLOT_HINT = "pip install 'minigrad-numpy[plot]'"
POSTFIX_EVERY = 20  # steps between updates of the progress bar's loss text


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, or does not fit what is being trained."""


# ---------------------------------------------------------------------------- History


@dataclass
class History:
    """What `fit` measured, one entry per epoch (a last partial epoch included).

    `train_loss` is the mean of the epoch's mini-batch losses (as computed while training);
    `train_acc` is the accuracy on the whole training set at the epoch's end in eval mode (the
    book's measure); `test_loss`/`test_acc` are None without test data; `lr` is the rate used
    during the epoch; `seconds` its wall time, measurements included; `iterations` the count of
    steps done at its end. `losses` has every mini-batch loss.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float | None] = field(default_factory=list)
    test_acc: list[float | None] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """The number of epochs recorded."""
        return len(self.train_loss)

    def state_dict(self) -> dict[str, Any]:
        """The lists as saveable data (`losses` as one float64 array)."""
        state: dict[str, Any] = {f.name: list(getattr(self, f.name)) for f in fields(self)}
        state["losses"] = np.asarray(self.losses, dtype=np.float64)
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> History:
        """A History from `state_dict()` (also after `nn.save`/`nn.load`)."""
        names = {f.name for f in fields(cls)}
        if not isinstance(state, dict) or set(state) != names:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"a History state needs the keys {sorted(names)}, got {got}")
        return cls(**{name: _plain_list(value) for name, value in state.items()})

    def plot(self, path: PathLike) -> None:
        """Write a PNG of the loss (per batch and per epoch) and accuracy curves to `path`."""
        try:
            from matplotlib.figure import Figure
        except ImportError as err:
            raise ImportError(f"History.plot needs matplotlib: {PLOT_HINT}") from err
        figure = Figure(figsize=(11, 4.2), layout="constrained")
        loss_axes, acc_axes = figure.subplots(1, 2)
        self._plot_losses(loss_axes)
        self._plot_accuracies(acc_axes)
        figure.savefig(os.fspath(path), format="png", dpi=100)

    def _plot_losses(self, axes: Any) -> None:
        steps = np.arange(1, len(self.losses) + 1)
        axes.plot(steps, self.losses, color="tab:blue", alpha=0.25, lw=0.7, label="batch loss")
        axes.plot(
            self.iterations,
            self.train_loss,
            "o-",
            color="tab:blue",
            label="train loss (epoch mean)",
        )
        tested = [
            (i, v) for i, v in zip(self.iterations, self.test_loss, strict=True) if v is not None
        ]
        if tested:
            axes.plot(*zip(*tested, strict=True), "s-", color="tab:orange", label="test loss")
        axes.set(xlabel="iteration", ylabel="loss", title="Loss")
        axes.grid(alpha=0.3)
        axes.legend()

    def _plot_accuracies(self, axes: Any) -> None:
        epochs = np.arange(1, self.epochs + 1)
        axes.plot(epochs, self.train_acc, "o-", color="tab:blue", label="train")
        tested = [(e, v) for e, v in zip(epochs, self.test_acc, strict=True) if v is not None]
        if tested:
            axes.plot(*zip(*tested, strict=True), "s-", color="tab:orange", label="test")
        axes.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.grid(alpha=0.3)
        axes.legend()


def _plain_list(value: Any) -> list:
    return value.tolist() if isinstance(value, np.ndarray) else list(value)


# ---------------------------------------------------------------------------- evaluate


def evaluate(model: Module, data: Data, batch_size: int = 1000) -> float:
    """Accuracy of `model` on `data` ((x, t), a dataset or a loader), in no_grad and eval mode.

    Labels may be ints or one-hot rows; every module's previous mode is restored.
    """
    return _measure(model, data, batch_size)[1]


def _measure(
    model: Module, data: Data, batch_size: int = 1000, loss_fn: Callable | None = None
) -> tuple[float | None, float]:
    """(mean loss or None, accuracy) of `model` on `data`, in order, without a graph."""
    loader = DataLoader(_as_dataset(data, "data"), batch_size, shuffle=False)
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    try:
        with mg.no_grad():
            for x, t in loader:
                logits = model(Tensor(x))
                labels = t.argmax(axis=1) if t.ndim == 2 else t
                correct += int(np.count_nonzero(logits.data.argmax(axis=1) == labels))
                if loss_fn is not None:
                    loss_sum += loss_fn(logits, Tensor(t)).item() * len(t)
                total += len(t)
    finally:
        for module, mode in modes:
            module.training = mode
    if total == 0:
        raise ValueError("cannot evaluate on empty data")
    return (loss_sum / total if loss_fn is not None else None), correct / total


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
) -> History:
    """Train `model` by mini-batch gradient descent and return its `History`.

    `epochs` counts all epochs, those in a resumed checkpoint included; `iters` (the book's
    iteration count) overrides it. `batch_size` and `seed` build the shuffling DataLoader unless
    `train_data` is one. `progress` shows a tqdm bar on a terminal; `log` gets one summary line
    per epoch (None: silent). `callbacks` are called as `callback(epoch, history)` after each.
    """
    loader = _train_loader(train_data, batch_size, seed)
    total_steps = _total_steps(epochs, iters, len(loader))
    n_epochs = math.ceil(total_steps / len(loader))
    trainer = _Trainer(model, loss_fn, optimizer, loader, scheduler)
    history, done = History(), 0
    if resume:
        history, done = trainer.restore(_read_checkpoint(checkpoint))
    saved = trainer.state(done, history) if checkpoint is not None else None
    try:
        for epoch in range(done + 1, n_epochs + 1):
            steps = min(len(loader), total_steps - len(history.losses))
            if steps <= 0:
                break
            trainer.run_epoch(epoch, n_epochs, steps, history, test_data, progress)
            if log is not None:
                log(_epoch_line(history, epoch, n_epochs))
            if checkpoint is not None:
                saved = trainer.state(epoch, history)
                save(saved, checkpoint)
            for callback in callbacks:
                callback(epoch, history)
    except KeyboardInterrupt:
        if checkpoint is not None and saved is not None:
            _save_on_interrupt(saved, checkpoint)
        raise
    return history


def _train_loader(data: Data, batch_size: int, seed: int | None) -> DataLoader:
    if isinstance(data, DataLoader):
        loader = data
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
    """One epoch's summary: epoch, train loss, train acc, test acc, lr, seconds."""
    width = len(str(n_epochs))
    test_acc = history.test_acc[-1]
    test = "-" if test_acc is None else f"{test_acc:.4f}"
    return (
        f"epoch {epoch:>{width}}/{n_epochs}  train loss {history.train_loss[-1]:.4f}  "
        f"train acc {history.train_acc[-1]:.4f}  test acc {test}  "
        f"lr {history.lr[-1]:.3g}  {history.seconds[-1]:.1f} s"
    )


def _save_on_interrupt(state: dict[str, Any], path: PathLike) -> None:
    """Save the last finished epoch's state and tell how to resume."""
    save(state, path)
    print(
        f"\ninterrupted: saved the state after epoch {state['epoch']} to {os.fspath(path)}; "
        "resume with fit(..., checkpoint=..., resume=True) or `minigrad train ... --resume`",
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
    ) -> None:
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.loader, self.scheduler = loader, scheduler

    def run_epoch(
        self,
        epoch: int,
        n_epochs: int,
        steps: int,
        history: History,
        test_data: Data | None,
        progress: bool,
    ) -> None:
        """Train `steps` batches, measure, record the epoch in `history`, step the scheduler."""
        start = time.perf_counter()
        lr = float(self.optimizer.param_groups[0]["lr"])
        bar = _progress_bar(progress, steps, f"epoch {epoch}/{n_epochs}")
        try:
            losses = self.train_steps(steps, bar)
        finally:
            if bar is not None:
                bar.close()
        _, train_acc = _measure(self.model, self.loader)
        test_loss, test_acc = (
            (None, None)
            if test_data is None
            else _measure(self.model, test_data, loss_fn=self.loss_fn)
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

    def train_steps(self, steps: int, bar: Any) -> list[float]:
        """The hot loop: forward, loss, zero_grad, backward, step, for `steps` batches."""
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        model.train()
        losses: list[float] = []
        for step, (x, t) in enumerate(self.loader, start=1):
            loss = loss_fn(model(Tensor(x)), Tensor(t))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
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

    def state(self, epoch: int, history: History) -> dict[str, Any]:
        """Everything needed to continue after `epoch` exactly as if never stopped."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "epoch": epoch,
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "loader": self.loader.state_dict(),
            "generators": {name: g.bit_generator.state for name, g in _generators(self.model)},
            "history": history.state_dict(),
        }

    def restore(self, state: dict[str, Any]) -> tuple[History, int]:
        """Load a checkpoint's state; returns its history and epoch count."""
        path = state["path"]
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
        if (state is None) != (self.scheduler is None):
            has = "has no" if state is None else "has a"
            raise ValueError(f"the checkpoint {has} scheduler state, unlike this run")
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state)


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


def _read_checkpoint(path: PathLike | None) -> dict[str, Any]:
    """A checkpoint's content, with its path under "path", or a CheckpointError."""
    if path is None:
        raise ValueError("resume=True needs a checkpoint path")
    if not os.path.isfile(path):
        raise CheckpointError(f"no checkpoint at {os.fspath(path)} to resume from")
    try:
        state = load(path)
    except (OSError, ValueError) as err:
        raise CheckpointError(f"cannot read checkpoint {os.fspath(path)}: {err}") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{os.fspath(path)} is not a minigrad training checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{os.fspath(path)}: unsupported checkpoint version {state.get('version')!r}"
        )
    return {**state, "path": os.fspath(path)}
