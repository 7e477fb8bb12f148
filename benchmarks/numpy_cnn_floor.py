"""The NumPy floor for the CNN benchmark: the book's SimpleConvNet / DeepConvNet training step
written straight in NumPy, with no graph and no framework: what minigrad's conv ops cost when
all of the bookkeeping is taken away.

The layers are the book's (chapter 7), done the fast NumPy way: im2col as one copy of a
`sliding_window_view` laid out channel-major, one matrix product per convolution over the whole
batch, the input gradient by col2im (one strided add per kernel position), 2x2 max pooling by
reshape. Weights use the book's layouts: conv (FN, C, FH, FW), affine W (in, out).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Conv:
    def __init__(self, w: np.ndarray, b: np.ndarray, pad: int, needs_input_grad: bool) -> None:
        self.params, self.pad, self.needs_input_grad = [w, b], pad, needs_input_grad

    def forward(self, x: np.ndarray) -> np.ndarray:
        w, b = self.params
        o, c, kh, kw = w.shape
        n, _, h, wd = x.shape
        p = self.pad
        xp = np.zeros((c, n, h + 2 * p, wd + 2 * p), dtype=x.dtype)  # channel-major, padded
        xp[:, :, p : p + h, p : p + wd] = x.transpose(1, 0, 2, 3)
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))  # (C, N, OH, OW, kh, kw)
        self.oh, self.ow = windows.shape[2:4]
        self.x_shape = x.shape
        self.cols = windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, -1)
        out = w.reshape(o, -1) @ self.cols + b[:, None]
        return out.reshape(o, n, self.oh, self.ow).transpose(1, 0, 2, 3)

    def backward(self, dout: np.ndarray) -> np.ndarray | None:
        w, _ = self.params
        o, c, kh, kw = w.shape
        n, _, h, wd = self.x_shape
        g = dout.transpose(1, 0, 2, 3).reshape(o, -1)
        self.grads = [(g @ self.cols.T).reshape(w.shape), g.sum(axis=1)]
        if not self.needs_input_grad:
            return None
        dcols = (w.reshape(o, -1).T @ g).reshape(c, kh, kw, n, self.oh, self.ow)
        p = self.pad
        dx = np.zeros((c, n, h + 2 * p, wd + 2 * p), dtype=dout.dtype)
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i : i + self.oh, j : j + self.ow] += dcols[:, i, j]
        return dx[:, :, p : p + h, p : p + wd].transpose(1, 0, 2, 3)


class Relu:
    params: tuple[np.ndarray, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.mask


class Pool:
    """2x2 max pooling, stride 2, by reshape. The gradient goes to the first maximum of each
    window (as PyTorch's): MNIST's saturated strokes make equal windows, so ties are common."""

    params: tuple[np.ndarray, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        self.shape = x.shape
        windows = x[:, :, : h // 2 * 2, : w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2)
        out = windows.max(axis=(3, 5))
        self.mask = np.empty(windows.shape, dtype=bool)
        taken = np.zeros(out.shape, dtype=bool)
        for i in range(2):
            for j in range(2):
                first = (windows[:, :, :, i, :, j] == out) & ~taken
                self.mask[:, :, :, i, :, j] = first
                taken |= first
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        n, c, h, w = self.shape
        dx = np.zeros(self.shape, dtype=dout.dtype)
        patches = self.mask * dout[:, :, :, None, :, None]
        dx[:, :, : h // 2 * 2, : w // 2 * 2] = patches.reshape(n, c, h // 2 * 2, w // 2 * 2)
        return dx


class Affine:
    def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
        self.params = [w, b]

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x_shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.params[0] + self.params[1]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.grads = [self.x.T @ dout, dout.sum(axis=0)]
        return (dout @ self.params[0].T).reshape(self.x_shape)


class Dropout:
    params: tuple[np.ndarray, ...] = ()

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        self.p, self.rng, self.training = p, rng, True

    def forward(self, x: np.ndarray) -> np.ndarray:
        if not self.training:
            self.mask = None
            return x
        self.mask = (self.rng.random(x.shape, dtype=x.dtype) >= self.p) / x.dtype.type(1 - self.p)
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout if self.mask is None else dout * self.mask


class NumpyCNN:
    """A sequence of the layers above, softmax cross-entropy, and plain SGD."""

    def __init__(self, layers: list[Any]) -> None:
        self.layers = layers

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        for layer in self.layers:
            x = layer.forward(x)
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        self.probs = e / e.sum(axis=1, keepdims=True)
        self.t = t
        return float(-np.log(self.probs[np.arange(len(t)), t]).mean())

    def backward(self) -> None:
        dout = self.probs.copy()
        dout[np.arange(len(self.t)), self.t] -= 1
        dout /= len(self.t)
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
            if dout is None:
                break

    def grads(self) -> list[np.ndarray]:
        return [g for layer in self.layers if layer.params for g in layer.grads]

    def step(self, x: np.ndarray, t: np.ndarray, lr: float) -> float:
        loss = self.loss(x, t)
        self.backward()
        for layer in self.layers:
            for p, g in zip(layer.params, getattr(layer, "grads", ()), strict=False):
                p -= lr * g
        return loss


def from_minigrad(model: Any, rng: np.random.Generator) -> NumpyCNN:
    """The floor network with a copy of a minigrad SimpleConvNet's or DeepConvNet's weights."""
    import minigrad_nn as nn

    layers: list[Any] = []
    first = True
    for module in model.children():
        if isinstance(module, nn.Conv2d):
            w, b = module.weight.numpy().copy(), module.bias.numpy().copy()
            layers.append(Conv(w, b, module.padding[0], needs_input_grad=not first))
            first = False
        elif isinstance(module, nn.ReLU):
            layers.append(Relu())
        elif isinstance(module, nn.MaxPool2d):
            layers.append(Pool())
        elif isinstance(module, nn.Dropout):
            layers.append(Dropout(module.p, rng))
        elif isinstance(module, nn.Flatten):
            continue  # Affine flattens, as the book's
        else:  # the book's Affine: W (in, out)
            layers.append(Affine(module.W.numpy().copy(), module.b.numpy().copy()))
    return NumpyCNN(layers)
