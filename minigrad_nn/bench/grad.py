"""Backpropagation against the numerical gradient: the book's gradient check, timed.

The book's TwoLayerNet (784-50-10, ReLU, softmax-cross-entropy) on real MNIST images, in float64
as in the book. For a batch of 3 and of 100 images:
  * one backprop gradient (forward + backward) against the full numerical gradient (every
    parameter, central differences with eps=1e-4: `mg.numerical_gradient(lambda _: loss(), p)`
    under no_grad, as the book does), their ratio, and per parameter the mean and max absolute
    difference between the two;
  * the cost of the numerical gradient per element against two loss evaluations measured in the
    same run (target: at most 1.2x; anything above is overhead of the method, not of the model).
Then the scaling over hidden sizes 5 to 100: the numerical time grows with the parameter count,
backprop stays a forward and a backward pass (about two loss evaluations), whatever the
parameter count. `grad_report` prints the tables and draws the log-log plot.

`quick` times the numerical gradient on a random subset of each parameter's elements (blocks of
adjacent elements at random places) and extrapolates to all of them; the tables say so.

    minigrad bench grad [--quick] [--plot PATH] [--json PATH]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import minigrad as mg

from .. import datasets
from ..layers import Affine, ReLU
from ..losses import CrossEntropyLoss
from ..module import Module
from .timing import interleaved_samples

__all__ = ["TwoLayerNet", "measure_case", "numerical_gradient_timed", "run"]

EPS = 1e-4
DTYPE = np.float64  # the book's gradient check runs in float64
BATCHES = (3, 100)
HIDDEN = 50
SCALING_HIDDEN = (5, 10, 20, 50, 100)
SCALING_BATCH = 100
PER_ELEMENT_TARGET = 1.2  # numerical gradient per element <= 1.2x two loss evaluations
QUICK_BLOCKS, BLOCK = 20, 10  # --quick: per parameter, up to 20 random blocks of 10 elements
#: Full runs time every element unless that would take longer than this (estimated from the
#: loss evaluation): then 100 random blocks per parameter, extrapolated, and the output says so.
#: Keeps the full run bounded when a loaded machine makes every evaluation slow.
FULL_BUDGET_S = 60.0
BUDGET_BLOCKS = 100


class TwoLayerNet(Module):
    """The book's two-layer net: Affine, ReLU, Affine (softmax-cross-entropy is the loss), with
    the book's layout (W of shape (in, out)), weights uniform in ±1/√fan_in."""

    def __init__(self, sizes: Sequence[int], dtype: Any = DTYPE, seed: int = 0) -> None:
        super().__init__()
        n_in, n_hidden, n_out = sizes
        rng = np.random.default_rng(seed)
        self.fc1 = Affine(n_in, n_hidden, dtype=dtype, rng=rng)
        self.act = ReLU()
        self.fc2 = Affine(n_hidden, n_out, dtype=dtype, rng=rng)

    def forward(self, x: Any) -> mg.Tensor:
        return self.fc2(self.act(self.fc1(x)))


#: The book's names for the parameters, beside ours.
BOOK_NAMES = {"fc1.W": "W1", "fc1.b": "b1", "fc2.W": "W2", "fc2.b": "b2"}


def numerical_gradient_timed(
    loss: Callable[[], Any],
    param: mg.Tensor,
    rng: np.random.Generator | None = None,
    blocks: int | None = None,
    block: int = BLOCK,
) -> tuple[np.ndarray, np.ndarray, float]:
    """The numerical gradient of `loss()` with respect to `param`, and the seconds it took.

    With `blocks=None` every element is done (one `mg.numerical_gradient` call, the book's way).
    Otherwise only up to `blocks` random runs of `block` adjacent elements (views into the
    parameter, perturbed in place): returns the flat indices done, their gradient values and the
    time, so that the caller can extrapolate."""
    flat = param.data.reshape(-1)  # a view: parameters are contiguous
    if blocks is None or blocks * block >= flat.size:
        start = time.perf_counter()
        grad = mg.numerical_gradient(lambda _: loss(), param, eps=EPS)
        return np.arange(flat.size), grad.reshape(-1), time.perf_counter() - start
    rng = rng or np.random.default_rng(0)
    starts = np.sort(rng.choice(flat.size // block, size=blocks, replace=False)) * block
    values, elapsed = [], 0.0
    for s in starts:
        view = flat[s : s + block]
        begin = time.perf_counter()
        values.append(mg.numerical_gradient(lambda _: loss(), view, eps=EPS))
        elapsed += time.perf_counter() - begin
    indices = (starts[:, None] + np.arange(block)).reshape(-1)
    return indices, np.concatenate(values), elapsed


def measure_case(
    hidden: int,
    batch: int,
    x: np.ndarray,
    t: np.ndarray,
    quick: bool,
    repeats: int = 15,
    calls: int = 40,
    budget_s: float = FULL_BUDGET_S,
) -> dict[str, Any]:
    """Time backprop, one loss evaluation and the numerical gradient of a 784-hidden-10 net on
    the first `batch` images; compare the two gradients per parameter. The numerical gradient
    covers every element unless `quick`, or its estimated time exceeds `budget_s`."""
    xb, tb = np.ascontiguousarray(x[:batch], dtype=DTYPE), t[:batch]
    model = TwoLayerNet((x.shape[1], hidden, 10))
    loss_fn = CrossEntropyLoss()

    def loss() -> mg.Tensor:
        return loss_fn(model(xb), tb)

    def backprop() -> None:
        for _ in range(calls):
            model.zero_grad()
            loss().backward()

    def loss_evaluation() -> None:  # what numerical_gradient does per evaluation
        with mg.no_grad():
            for _ in range(calls):
                float(loss())

    # The numerical gradient of calls/2 elements (a random run of the largest parameter) makes
    # as many loss evaluations as `loss_evaluation`. Timed in the same rounds, the ratio of the
    # two is the method's cost per element over two loss evaluations; it is taken between the
    # fastest rounds of each (the cost without the load of other processes, which only adds).
    weights = model.fc1.W.data.reshape(-1)
    block_rng = np.random.default_rng(2)

    def numerical_block() -> None:
        start = int(block_rng.integers(0, weights.size - calls // 2 + 1))
        mg.numerical_gradient(lambda _: loss(), weights[start : start + calls // 2], eps=EPS)

    samples = interleaved_samples(
        {"backprop": backprop, "loss": loss_evaluation, "numerical": numerical_block}, repeats
    )
    backprop_s = statistics.median(samples["backprop"]) / calls
    loss_s = statistics.median(samples["loss"]) / calls
    per_element = min(samples["numerical"]) / min(samples["loss"])
    model.zero_grad()
    loss().backward()
    analytic = {name: p.grad.numpy().reshape(-1).copy() for name, p in model.named_parameters()}

    # Hidden pre-activations so close to 0 that a step of eps in a weight can cross ReLU's kink:
    # there the central difference straddles the kink and differs from the (one-sided) gradient.
    pre = xb @ model.fc1.W.data + model.fc1.b.data
    near_kink = int(np.count_nonzero(np.abs(pre) < EPS * max(1.0, float(np.abs(xb).max()))))

    total = sum(p.size for p in model.parameters())
    if quick:
        blocks: int | None = QUICK_BLOCKS
    elif 2 * total * loss_s * per_element > budget_s:
        blocks = BUDGET_BLOCKS
    else:
        blocks = None
    rng = np.random.default_rng(1)
    numerical_s, elements, timed_elements, diffs = 0.0, 0, 0, []
    for name, p in model.named_parameters():
        indices, numeric, seconds = numerical_gradient_timed(loss, p, rng, blocks)
        numerical_s += seconds * p.size / len(indices)  # extrapolated when only a subset
        elements += p.size
        timed_elements += len(indices)
        error = np.abs(numeric - analytic[name][indices])
        diffs.append(
            {
                "parameter": name,
                "book_name": BOOK_NAMES.get(name, name),
                "elements": p.size,
                "compared": len(indices),
                "mean_abs_diff": float(error.mean()),
                "max_abs_diff": float(error.max()),
            }
        )
    return {
        "hidden": hidden,
        "batch": batch,
        "parameters": elements,
        "numerical_elements_timed": timed_elements,
        "extrapolated": timed_elements < elements,
        "backprop_s": backprop_s,
        "loss_eval_s": loss_s,
        "numerical_s": numerical_s,
        "ratio": numerical_s / backprop_s,
        "backprop_over_forward": backprop_s / loss_s,
        "per_element_over_two_losses": per_element,
        "per_element_met": per_element <= PER_ELEMENT_TARGET,
        "relu_inputs_near_kink": near_kink,
        # the same ratio from the whole numerical run against the loss evaluations timed before
        # it (exposed to the machine's load changing in between)
        "per_element_whole_run": numerical_s / elements / (2 * loss_s),
        "diffs": diffs,
    }


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training images and labels (downloaded once when not found)."""
    (x, t), _ = datasets.load_mnist(normalize=True, flatten=True)
    return x, t


def run(
    quick: bool = False,
    batches: Sequence[int] = BATCHES,
    hidden_sizes: Sequence[int] = SCALING_HIDDEN,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    hidden: int = HIDDEN,
    scaling_batch: int = SCALING_BATCH,
    repeats: int | None = None,
) -> list[dict[str, Any]]:
    """The gradient check for each batch size, then the scaling over hidden sizes (rows with
    `section` "check" and "scaling"). Sizes are injectable for tests."""
    x, t = load_data() if data is None else data
    if repeats is None:
        repeats = 21 if quick else 31
    results = []
    measured: dict[tuple[int, int], dict[str, Any]] = {}
    for batch in batches:
        row = measure_case(hidden, batch, x, t, quick, repeats)
        measured[(hidden, batch)] = row
        results.append({"section": "check", **row})
    for h in hidden_sizes:
        row = measured.get((h, scaling_batch)) or measure_case(
            h, scaling_batch, x, t, quick, repeats
        )
        results.append({"section": "scaling", **row})
    return results
