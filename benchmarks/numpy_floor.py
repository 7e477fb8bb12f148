"""The floor: an MLP training step written by hand in plain NumPy, as tight as we can make it.

No framework, no graph, no Python object per op: every array the step touches is allocated once,
when the network is built, and each op writes into its buffer with `out=` or in place. All
arithmetic stays in the parameters' dtype (float32 in the benchmarks: no Python float or float64
scalar promotes anything). One step is

    gather   x = X[idx], t = T[idx]                  (one fancy index each, into buffers)
    forward  h_l = relu(h_{l-1} @ W_l + b_l); z = h_{L-1} @ W_L + b_L
    loss     mean(log Σ e^(z - max z) - (z - max z)[t])        (softmax-cross-entropy)
    backward dz = (softmax(z) - onehot(t)) / N; dW_l = h_{l-1}ᵀ dz_l; db_l = Σ dz_l;
             dh_{l-1} = (dz_l @ W_lᵀ) * (h_{l-1} > 0)
    update   W_l -= lr·dW_l, b_l -= lr·db_l              (fused into the backward loop, once
                                                         W_l has been used for dh_{l-1})

A framework cannot beat this (it does the same BLAS calls and the same elementwise passes); the
benchmarks report every system as a ratio to it. Only full batches are used (`len(perm) // N`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np


class NumpyMLP:
    """A ReLU MLP with softmax-cross-entropy, trained by SGD on arrays it updates in place.

    `params` is `[W1, b1, W2, b2, ...]` with W_l of shape (n_{l-1}, n_l) (y = x @ W + b, the
    book's layout); the arrays are used and updated in place, not copied. `batch_size` fixes the
    shape of every work buffer."""

    def __init__(self, params: Sequence[np.ndarray], lr: float, batch_size: int) -> None:
        if len(params) % 2 or not params:
            raise ValueError("params must be [W1, b1, W2, b2, ...]")
        self.weights = list(params[0::2])
        self.biases = list(params[1::2])
        dtype = self.weights[0].dtype
        for p in params:
            if p.dtype != dtype or not p.flags.c_contiguous:
                raise ValueError("every parameter must be a C-contiguous array of one dtype")
        self.dtype = dtype
        self.batch_size = n = int(batch_size)
        self.lr = dtype.type(lr)  # a scalar of the parameters' dtype: nothing promotes
        self.inv_n = dtype.type(1.0 / n)
        widths = [w.shape[1] for w in self.weights]
        self.x = np.empty((n, self.weights[0].shape[0]), dtype)  # the gathered batch
        self.t = np.empty(n, np.intp)  # its labels
        self.h = [np.empty((n, k), dtype) for k in widths]  # layer outputs; h[-1] = logits
        self.dh = [np.empty((n, k), dtype) for k in widths[:-1]]  # dL/dh of hidden layers
        self.mask = [np.empty((n, k), bool) for k in widths[:-1]]  # ReLU masks h > 0
        self.dW = [np.empty_like(w) for w in self.weights]
        self.db = [np.empty_like(b) for b in self.biases]
        self.row_max = np.empty((n, 1), dtype)
        self.row_sum = np.empty((n, 1), dtype)
        self.rows = np.arange(n)

    def gather(self, x: np.ndarray, t: np.ndarray, idx: np.ndarray) -> None:
        """Copy the batch `x[idx], t[idx]` into the work buffers. (`mode="clip"` because
        `np.take` with the default `mode="raise"` copies through a temporary buffer; the indices
        are checked once per epoch instead.)"""
        np.take(x, idx, axis=0, out=self.x, mode="clip")
        np.take(t, idx, out=self.t, mode="clip")

    def forward_loss(self) -> float:
        """Forward pass on the gathered batch; leaves dL/dz in the logits buffer and returns
        the mean cross-entropy."""
        a = self.x
        last = len(self.weights) - 1
        for i, (w, b, h) in enumerate(zip(self.weights, self.biases, self.h, strict=True)):
            np.matmul(a, w, out=h)
            h += b
            if i < last:
                np.maximum(h, 0, out=h)
            a = h
        z, m, s = self.h[-1], self.row_max, self.row_sum
        np.max(z, axis=1, keepdims=True, out=m)
        z -= m  # shifted logits: exp never overflows
        target_logit_sum = z[self.rows, self.t].sum()
        np.exp(z, out=z)
        np.sum(z, axis=1, keepdims=True, out=s)
        z /= s  # softmax
        z[self.rows, self.t] -= 1
        z *= self.inv_n  # dL/dz = (softmax - onehot) / N
        np.log(s, out=s)
        return float((s.sum() - target_logit_sum) * self.inv_n)

    def backward(self, update: bool) -> None:
        """dL/dW, dL/db of every layer into `dW`, `db`; with `update`, apply SGD to each layer
        as soon as its weights are no longer needed."""
        g = self.h[-1]
        for i in range(len(self.weights) - 1, -1, -1):
            w, b, dw, db = self.weights[i], self.biases[i], self.dW[i], self.db[i]
            a = self.h[i - 1] if i else self.x
            np.matmul(a.T, g, out=dw)
            np.sum(g, axis=0, out=db)
            if i:  # the input needs no gradient
                dh, mask = self.dh[i - 1], self.mask[i - 1]
                np.matmul(g, w.T, out=dh)
                np.greater(a, 0, out=mask)  # relu'(pre) = (relu(pre) > 0)
                dh *= mask
                g = dh
            if update:
                dw *= self.lr
                w -= dw
                db *= self.lr
                b -= db

    def gradient(self, x: np.ndarray, t: np.ndarray, idx: np.ndarray) -> float:
        """Loss and gradients (in `dW`, `db`) of the batch `idx`, without updating."""
        self.gather(x, t, idx)
        loss = self.forward_loss()
        self.backward(update=False)
        return loss

    def step(self, x: np.ndarray, t: np.ndarray, idx: np.ndarray) -> float:
        """One SGD step on the batch `idx`; returns its loss (before the update)."""
        self.gather(x, t, idx)
        loss = self.forward_loss()
        self.backward(update=True)
        return loss

    def epoch(self, x: np.ndarray, t: np.ndarray, perm: np.ndarray, losses: np.ndarray) -> None:
        """One pass over the full batches of `perm`, each batch's loss written to `losses`."""
        n = self.batch_size
        if len(perm) and not 0 <= perm.min() <= perm.max() < len(x):
            raise IndexError(f"batch indices out of range for {len(x)} examples")
        for i in range(len(perm) // n):
            losses[i] = self.step(x, t, perm[i * n : (i + 1) * n])


def init_params(sizes: Sequence[int], dtype: type = np.float32, seed: int = 0) -> list[np.ndarray]:
    """`[W1, b1, ...]` for layer widths `sizes`, uniform in ±1/√fan_in like `nn.Linear`."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        bound = 1.0 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
        params.append(rng.uniform(-bound, bound, fan_out).astype(dtype))
    return params
