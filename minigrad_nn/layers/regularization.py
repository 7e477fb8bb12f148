"""Layers that behave differently in training and evaluation: `Dropout`, `BatchNorm1d` and
`BatchNorm2d`."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad import Tensor

from .. import functional, init
from ..module import Module, Parameter


class Dropout(Module):
    """Inverted dropout: in training, zero each element with probability p and scale the others
    by 1/(1 - p); in evaluation, the identity. `seed=`/`rng=` make the masks reproducible (each
    call draws the next mask from the layer's generator)."""

    def __init__(
        self, p: float = 0.5, seed: int | None = None, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        functional._check_probability(p)
        self.p = float(p)
        self._rng = init.make_rng(seed, rng)

    def forward(self, x: Any) -> Tensor:
        return functional.dropout(x, self.p, self.training, rng=self._rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) inputs, per channel C:
    y = (x - μ)/√(σ² + eps)·weight + bias.

    Training uses the batch mean and biased variance, and updates the buffers `running_mean` and
    `running_var` (with the unbiased variance) by r ← (1 - momentum)·r + momentum·s, as PyTorch;
    `momentum=None` gives a cumulative average over `num_batches_tracked`. Evaluation uses the
    running statistics (or the batch's when `track_running_stats=False`)."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = np.float32,
    ) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean.fill(0)
            self.running_var.fill(1)
            self.num_batches_tracked.fill(0)

    #: The input shapes accepted, as the number of axes and how the error message spells them.
    _input_ndims: tuple[int, ...] = (2, 3)
    _input_text = "(N, {c}) or (N, {c}, L)"

    def forward(self, x: Any) -> Tensor:
        shape = np.shape(x.data if isinstance(x, Tensor) else x)
        if len(shape) not in self._input_ndims or shape[1] != self.num_features:
            expected = self._input_text.format(c=self.num_features)
            raise ValueError(
                f"{type(self).__name__}({self.num_features}) expects input of shape {expected}, "
                f"got {shape}"
            )
        updating = self.training and self.track_running_stats
        momentum = self.momentum
        if updating and momentum is None:  # cumulative moving average
            momentum = 1.0 / float(self.num_batches_tracked + 1)
        y = functional.batch_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            training=self.training or not self.track_running_stats,
            momentum=0.0 if momentum is None else momentum,
            eps=self.eps,
        )
        if updating:
            self.num_batches_tracked += 1
        return y

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of images (N, C, H, W), per channel C: the statistics are taken over
    the batch and every position (N·H·W values per channel); otherwise as `BatchNorm1d`
    (running statistics in training, used in evaluation; PyTorch's names and defaults)."""

    _input_ndims = (4,)
    _input_text = "(N, {c}, H, W)"
