"""Weight initialisation, in place, as `torch.nn.init`: every function overwrites the values of a
Tensor (or ndarray) without changing its identity or dtype, and returns it.

Random initialisers take `seed=` or `rng=` (a `np.random.Generator`); with neither they draw from
minigrad's default generator, which `mg.manual_seed(n)` resets.

Fans follow PyTorch's layouts: a 2-D weight is `(out_features, in_features)` (`Linear`'s,
`y = x @ Wᵀ`), so fan_in = shape[1] and fan_out = shape[0]; a weight of 3 or more dimensions is
`(out_channels, in_channels, *kernel)`: fan_in = shape[1]·k, fan_out = shape[0]·k with k the
kernel size. The book's `Affine` stores `W` as `(in, out)`, the transpose: initialise it with
`mode="fan_out"` for the fan of its inputs, or through `W.T`'s shape.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import minigrad as mg

_LINEAR_FNS = (
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
)


def make_rng(
    seed: int | None = None, rng: np.random.Generator | None = None
) -> np.random.Generator:
    """The generator to draw from: `rng` itself, else a new one seeded with `seed`, else
    minigrad's default generator (reset by `mg.manual_seed`). Passing both is an error."""
    return mg.random.generator(seed, rng)


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table): 1 for linear/conv/sigmoid,
    5/3 for tanh, √2 for relu, √(2 / (1 + slope²)) for leaky_relu (slope 0.01 by default),
    3/4 for selu."""
    if nonlinearity in _LINEAR_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, int | float):
            raise ValueError(f"negative_slope {slope!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """(fan_in, fan_out) as PyTorch: (shape[1], shape[0]) for a 2-D (out, in) weight;
    (shape[1]·k, shape[0]·k) for an (out, in, *kernel) weight with k = prod(kernel)."""
    shape = np.shape(tensor)
    if len(shape) < 2:
        raise ValueError(
            f"fan_in and fan_out cannot be computed for a tensor of shape {shape}: it needs at "
            "least 2 dimensions"
        )
    kernel = math.prod(shape[2:])
    return shape[1] * kernel, shape[0] * kernel


def _fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _write(tensor: Any, values: Any) -> Any:
    """Overwrite `tensor`'s values in place (outside the graph), keeping its dtype and identity."""
    if isinstance(tensor, mg.Tensor):
        with mg.no_grad():
            tensor.copy_(values)
    elif isinstance(tensor, np.ndarray):
        np.copyto(tensor, values, casting="same_kind")
    else:
        raise TypeError(f"expected a Tensor or ndarray to initialise, got {type(tensor).__name__}")
    return tensor


# -- constants ---------------------------------------------------------------------------------


def constant_(tensor: Any, val: float) -> Any:
    """Fill with `val`."""
    return _write(tensor, val)


def zeros_(tensor: Any) -> Any:
    """Fill with 0."""
    return _write(tensor, 0)


def ones_(tensor: Any) -> Any:
    """Fill with 1."""
    return _write(tensor, 1)


# -- plain distributions -----------------------------------------------------------------------


def uniform_(
    tensor: Any,
    a: float = 0.0,
    b: float = 1.0,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Any:
    """Fill with samples of U(a, b)."""
    return _write(tensor, make_rng(seed, rng).uniform(a, b, np.shape(tensor)))


def normal_(
    tensor: Any,
    mean: float = 0.0,
    std: float = 1.0,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Any:
    """Fill with samples of N(mean, std²)."""
    return _write(tensor, make_rng(seed, rng).normal(mean, std, np.shape(tensor)))


# -- Xavier (Glorot) and Kaiming (He) ----------------------------------------------------------


def xavier_uniform_(
    tensor: Any,
    gain: float = 1.0,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Any:
    """Glorot: U(-a, a) with a = gain·√(6 / (fan_in + fan_out)), so that the variance is
    2·gain² / (fan_in + fan_out)."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return uniform_(tensor, -bound, bound, seed=seed, rng=rng)


def xavier_normal_(
    tensor: Any,
    gain: float = 1.0,
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Any:
    """Glorot: N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out)) if fan_in + fan_out else 0.0
    return normal_(tensor, 0.0, std, seed=seed, rng=rng)


def _kaiming_std(tensor: Any, a: float, mode: str, nonlinearity: str) -> float:
    """He: std = gain / √fan, with the gain of `nonlinearity` (slope `a` for leaky_relu)."""
    fan = _fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0


def kaiming_uniform_(
    tensor: Any,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Any:
    """He: U(-b, b) with b = √3·gain/√fan (gain from `nonlinearity`, slope `a` for leaky_relu)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, seed=seed, rng=rng)


def kaiming_normal_(
    tensor: Any,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    *,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> Any:
    """He: N(0, std²) with std = gain/√fan; for relu and fan_in, std = √(2 / fan_in)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    return normal_(tensor, 0.0, std, seed=seed, rng=rng)


__all__ = [
    "calculate_fan_in_and_fan_out",
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "make_rng",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]
