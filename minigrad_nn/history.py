"""`History`: what `fit` measured, per epoch and per mini-batch, with a plot of the curves."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["PLOT_HINT", "History"]

PLOT_HINT = "pip install 'minigrad-numpy[plot]'"
PathLike = str | os.PathLike


@dataclass
class History:
    """What `fit` measured, one entry per epoch (a last partial epoch included).

    `train_loss` is the mean of the epoch's mini-batch losses (as computed while training);
    `train_acc` is the accuracy on the whole training set at the epoch's end in eval mode (the
    book's measure); `test_loss`/`test_acc` are None without test data, and the accuracies are
    None when `fit` measured no accuracy (`metrics=()`, the default for a regression loss);
    `lr` is the rate used during the epoch; `seconds` its wall time, measurements included;
    `iterations` the count of steps done at its end. `losses` has every mini-batch loss.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float | None] = field(default_factory=list)
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
        has_accuracy = any(acc is not None for acc in self.train_acc)
        figure = Figure(figsize=(11 if has_accuracy else 6, 4.2), layout="constrained")
        if has_accuracy:
            loss_axes, acc_axes = figure.subplots(1, 2)
            self._plot_accuracies(acc_axes)
        else:
            loss_axes = figure.subplots(1, 1)
        self._plot_losses(loss_axes)
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
