"""Convolution and pooling layers (the book's chapter 7): `Conv2d`, `ConvTranspose2d`,
`MaxPool2d`, `AvgPool2d`, as PyTorch's: NCHW, the same arguments, parameter names, shapes and
default initialisation, so a PyTorch model's `state_dict` (as arrays) loads into them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import minigrad as mg
from minigrad import Tensor

from .. import init
from ..module import Module, Parameter


def _pair(value: Any) -> tuple[int, int]:
    return (int(value), int(value)) if isinstance(value, int | np.integer) else tuple(value)


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: sizes, parameters and their initialisation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int],
        padding: int | tuple[int, int],
        dilation: int | tuple[int, int],
        groups: int,
        bias: bool,
        weight_shape: tuple[int, ...],
        dtype: Any,
        seed: int | None,
        rng: np.random.Generator | None,
    ) -> None:
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{type(self).__name__}: groups={groups} must divide in_channels={in_channels} "
                f"and out_channels={out_channels}"
            )
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride = _pair(kernel_size), _pair(stride)
        self.padding, self.dilation, self.groups = _pair(padding), _pair(dilation), int(groups)
        self.weight = Parameter(np.zeros(weight_shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(rng=init.make_rng(seed, rng))

    def reset_parameters(
        self, seed: int | None = None, rng: np.random.Generator | None = None
    ) -> None:
        """PyTorch's default: weight and bias uniform in ±1/√fan_in, fan_in = weight.shape[1]·kh·kw
        (what `kaiming_uniform_(a=√5)` gives)."""
        rng = init.make_rng(seed, rng)
        fan_in = init.calculate_fan_in_and_fan_out(self.weight)[0]
        bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
        init.uniform_(self.weight, -bound, bound, rng=rng)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound, rng=rng)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        for name, default in (("padding", (0, 0)), ("dilation", (1, 1)), ("groups", 1)):
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """The book's Convolution layer: y = conv2d(x, weight) + bias, x of shape (N, C_in, H, W),
    weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        dtype: Any = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        shape = (out_channels, in_channels // max(groups, 1), *_pair(kernel_size))
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            shape,
            dtype,
            seed,
            rng,
        )

    def forward(self, x: Any) -> Tensor:
        return mg.conv2d(
            _as_input(x, self.weight),
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            self.groups,
        )


class ConvTranspose2d(_ConvNd):
    """Transposed convolution (conv2d's input gradient as a layer, used to upsample):
    weight (in_channels, out_channels/groups, kh, kw), bias (out_channels,)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        dtype: Any = np.float32,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        shape = (in_channels, out_channels // max(groups, 1), *_pair(kernel_size))
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            shape,
            dtype,
            seed,
            rng,
        )
        self.output_padding = _pair(output_padding)

    def forward(self, x: Any) -> Tensor:
        return mg.conv_transpose2d(
            _as_input(x, self.weight),
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.output_padding,
            self.groups,
            self.dilation,
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        return text


def _as_input(x: Any, weight: Parameter) -> Any:
    """An ndarray or list input in the weight's dtype (a float64 batch must not make a float32
    model compute in float64)."""
    return x if isinstance(x, Tensor) else np.asarray(x, dtype=weight.dtype)


class MaxPool2d(Module):
    """The book's Pooling layer: the maximum of each kernel_size window, windows `stride` apart
    (the kernel size by default)."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation

    def forward(self, x: Any) -> Tensor:
        return mg.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}"
        )


class AvgPool2d(Module):
    """The mean of each kernel_size window, windows `stride` apart (the kernel size by
    default); see `mg.avg_pool2d` for count_include_pad."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.count_include_pad = padding, count_include_pad

    def forward(self, x: Any) -> Tensor:
        return mg.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
