"""CNN training step: minigrad against PyTorch and a hand-written NumPy floor, in one run.

The book's SimpleConvNet (chapter 7) and DeepConvNet (chapter 8) take one training step (forward,
backward, SGD update) on a batch of 100 MNIST images (N, 1, 28, 28), float32, BLAS and torch on
one thread (run_all.py sets that). All three systems start from the same weights; before timing,
each one's loss and gradients (dropout off) must agree with PyTorch's, so a fast but wrong
system cannot pass. Steps are interleaved; each ratio is the median of the per-round ratios.

Targets (issue 12): SimpleConvNet <= 1.5x PyTorch, DeepConvNet <= 2.0x PyTorch. The peak memory
of one step (tracemalloc: NumPy's and minigrad's allocations; torch's are not visible to it) is
reported for minigrad and for the floor.

    python benchmarks/bench_conv.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

try:
    import minigrad_nn as nn
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import minigrad_nn as nn

from minigrad_nn import optim
from minigrad_nn.models import DeepConvNet, SimpleConvNet

try:
    from benchmarks.common import (
        interleaved_samples,
        markdown_table,
        save_results,
        torch_available,
    )
    from benchmarks.numpy_cnn_floor import from_minigrad
except ImportError:  # run as a script from the benchmarks folder
    from common import (  # type: ignore
        interleaved_samples,
        markdown_table,
        save_results,
        torch_available,
    )
    from numpy_cnn_floor import from_minigrad  # type: ignore

BATCH, LR = 100, 0.01
#: name -> (model class, target as a ratio to PyTorch, repeats, quick repeats)
CASES: dict[str, tuple[type[nn.Module], float, int, int]] = {
    "SimpleConvNet": (SimpleConvNet, 1.5, 21, 5),
    "DeepConvNet": (DeepConvNet, 2.0, 11, 3),
}


def torch_copy(model: nn.Module) -> Any:
    """The same network in PyTorch, with a copy of the minigrad model's weights."""
    import torch

    layers = []
    for module in model.children():
        if isinstance(module, nn.Conv2d):
            conv = torch.nn.Conv2d(
                module.in_channels,
                module.out_channels,
                module.kernel_size,
                module.stride,
                module.padding,
            )
            conv.weight.data = torch.tensor(module.weight.numpy())
            conv.bias.data = torch.tensor(module.bias.numpy())
            layers.append(conv)
        elif isinstance(module, nn.ReLU):
            layers.append(torch.nn.ReLU())
        elif isinstance(module, nn.MaxPool2d):
            layers.append(torch.nn.MaxPool2d(module.kernel_size, module.stride))
        elif isinstance(module, nn.Flatten):
            layers.append(torch.nn.Flatten())
        elif isinstance(module, nn.Dropout):
            layers.append(torch.nn.Dropout(module.p))
        else:  # the book's Affine, W (in, out): PyTorch's Linear keeps W.T
            w = module.W.numpy()
            linear = torch.nn.Linear(w.shape[0], w.shape[1])
            linear.weight.data = torch.tensor(np.ascontiguousarray(w.T))
            linear.bias.data = torch.tensor(module.b.numpy())
            layers.append(linear)
    return torch.nn.Sequential(*layers)


def _set_dropout(model: nn.Module, floor: Any, reference: Any, training: bool) -> None:
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.train(training)
    for layer in floor.layers:
        if hasattr(layer, "training"):
            layer.training = training
    if reference is not None:
        for module in reference.modules():
            if type(module).__name__ == "Dropout":
                module.train(training)


def check_agreement(model: nn.Module, floor: Any, reference: Any, x: np.ndarray, t: np.ndarray):
    """Loss and gradients of one batch, dropout off: minigrad's and the floor's must be
    PyTorch's (or, without torch, each other's) to float32 tolerance."""
    _set_dropout(model, floor, reference, False)
    loss = nn.CrossEntropyLoss()(model(x), t)
    model.zero_grad()
    loss.backward()
    mine = [p.grad.numpy() for p in model.parameters()]
    floor_loss = floor.loss(x, t)
    floor.backward()
    systems = {"floor": (floor_loss, floor.grads())}
    if reference is not None:
        import torch

        reference.zero_grad()
        out = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(t))
        out.backward()
        grads = [p.grad.numpy() for p in reference.parameters()]
        grads = [g.T if g.ndim == 2 else g for g in grads]  # Linear keeps W.T
        systems = {"torch": (out.item(), grads), **systems}
    # The first system is the reference: torch where installed, else the floor. Messages name
    # both sides, since without torch a disagreement cannot say which of the two is wrong.
    reference_name, (expected_loss, expected) = next(iter(systems.items()))
    for name, (value, grads) in [("minigrad", (loss.item(), mine)), *systems.items()]:
        if not np.isclose(value, expected_loss, rtol=1e-4):
            raise AssertionError(f"{name}: loss {value} != {reference_name}'s {expected_loss}")
        for g, e in zip(grads, expected, strict=True):
            scale = np.abs(e).max() + 1e-12
            if np.abs(g - e).max() > 2e-3 * scale:
                difference = np.abs(g - e).max()
                raise AssertionError(
                    f"{name}: a gradient differs from {reference_name}'s by {difference:.3g}"
                )
    _set_dropout(model, floor, reference, True)


def _traced_peak(step: Callable[[], Any]) -> int:
    step()  # warm: optimizer state, caches
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        step()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(name: str, quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    model_class, target, full_repeats, quick_repeats = CASES[name]
    repeats = repeats or (quick_repeats if quick else full_repeats)
    (x_all, t_all), _ = nn.load_mnist(flatten=False)
    x, t = np.ascontiguousarray(x_all[:BATCH]), t_all[:BATCH]
    model = model_class(seed=0)
    floor = from_minigrad(model, np.random.default_rng(0))
    reference = torch_copy(model) if torch_available() else None
    check_agreement(model, floor, reference, x, t)

    loss_fn, opt = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=LR)

    def minigrad_step() -> None:
        loss = loss_fn(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()

    systems: dict[str, Callable[[], Any]] = {
        "floor": lambda: floor.step(x, t, LR),
        "minigrad": minigrad_step,
    }
    if reference is not None:
        import torch

        tx, tt = torch.tensor(x), torch.tensor(t)
        torch_opt = torch.optim.SGD(reference.parameters(), lr=LR)

        def torch_step() -> None:
            loss = torch.nn.functional.cross_entropy(reference(tx), tt)
            torch_opt.zero_grad()
            loss.backward()
            torch_opt.step()

        systems["torch"] = torch_step
    load = os.getloadavg()[0]
    times = interleaved_samples(systems, repeats)
    row: dict[str, Any] = {
        "case": f"{name} training step, batch {BATCH}",
        "ms": {k: round(statistics.median(v) * 1e3, 2) for k, v in times.items()},
        "over_floor": _paired(times["minigrad"], times["floor"]),
        "target": target,
        "load_average": round((load + os.getloadavg()[0]) / 2, 2),
        "peak_memory_mb": {
            "floor": round(_traced_peak(systems["floor"]) / 2**20, 1),
            "minigrad": round(_traced_peak(minigrad_step) / 2**20, 1),
        },
    }
    if "torch" in times:
        row["ratio"] = _paired(times["minigrad"], times["torch"])
        row["floor_over_torch"] = _paired(times["floor"], times["torch"])
    return row


def _paired(times: list[float], baseline: list[float]) -> float:
    """The median of each round's ratio: steadier than a ratio of medians on a drifting VM."""
    return round(statistics.median(a / b for a, b in zip(times, baseline, strict=True)), 3)


def run(
    quick: bool = False, cases: tuple[str, ...] = tuple(CASES), repeats: int | None = None
) -> list[dict[str, Any]]:
    return [measure(name, quick, repeats) for name in cases]


def table(results: list[dict[str, Any]]) -> str:
    rows = []
    for r in results:
        ms = r["ms"]
        torch_ms = f"{ms['torch']:.1f}" if "torch" in ms else "-"
        ratio = f"{r['ratio']:.2f}x (<= {r['target']}x)" if "ratio" in r else "no torch"
        memory = r["peak_memory_mb"]
        rows.append(
            [
                r["case"],
                f"{ms['minigrad']:.1f}",
                torch_ms,
                f"{ms['floor']:.1f}",
                ratio,
                f"{r['over_floor']:.2f}x",
                f"{memory['minigrad']} / {memory['floor']}",
                r["load_average"],
            ]
        )
    headers = [
        "case",
        "minigrad ms",
        "torch ms",
        "NumPy floor ms",
        "minigrad / torch",
        "minigrad / floor",
        "peak MB minigrad / floor",
        "load",
    ]
    return markdown_table(headers, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("cases", nargs="*", help=f"some of {', '.join(CASES)} (default: all)")
    args = parser.parse_args(argv)
    results = [measure(name, args.quick) for name in args.cases or CASES]
    print(table(results))
    print(f"results: {save_results('conv', results)}")
    return 0 if all(r.get("ratio", 0) <= r["target"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
