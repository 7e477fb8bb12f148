"""Training throughput: minigrad (and PyTorch, if importable) against the hand-fused NumPy floor.

Every system trains the same MLP (ReLU hidden layers, softmax-cross-entropy, plain SGD) from the
same float32 weights, on the same MNIST images in the same batches (one shared permutation), with
the same learning rate. Passes are interleaved and the median of each system is taken; results
are ratios to the floor measured in the same run.

Before timing, one pass of each system starts from identical weights and its per-batch losses
must agree with the floor's to float32 tolerance, so a fast but wrong engine cannot pass.

Cases (targets as ratios to the floor):
  * epoch 784-50-10 at batch 100 over the 60,000 training images        <= 1.25x
  * epoch 784-1000-1000-10 at batch 1000 on a 10,000-image slice        <= 1.05x
  * one gradient 784-50-10 at batch 100 (forward + backward, no update) <= 1.3x
and the peak memory of one training step (tracemalloc)                  <= 1.5x the floor's.

    python benchmarks/bench_train.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

try:
    import minigrad_nn as nn
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import minigrad_nn as nn

from minigrad_nn import optim

try:
    from benchmarks.common import markdown_table, save_results, torch_available
    from benchmarks.numpy_floor import NumpyMLP, init_params
except ImportError:  # run as a script from the benchmarks folder
    from common import markdown_table, save_results, torch_available  # type: ignore
    from numpy_floor import NumpyMLP, init_params  # type: ignore

LR = 0.1
MEMORY_TARGET = 1.5
#: How closely the first pass's losses must agree with the floor's (see check_agreement).
FIRST_RTOL, MEAN_RTOL, LOSS_ATOL = 1e-5, 1e-4, 1e-6


class DisagreementError(AssertionError):
    """A system's losses differ from the floor's: it does not compute the same training."""


@dataclass
class TrainCase:
    """One benchmark case: layer widths, batch size, how many images, what is timed."""

    name: str
    sizes: tuple[int, ...]
    batch: int
    images: int | None  # the first `images` training images; None = all
    kind: str = "epoch"  # "epoch": full SGD passes; "gradient": forward + backward only
    target: float | None = None
    repeats: int = 11
    quick_repeats: int = 3
    gradients_per_sample: int = 100  # "gradient" cases: calls per timed sample
    extra: dict[str, Any] = field(default_factory=dict)


CASES = [
    TrainCase(
        "epoch 784-50-10, batch 100",
        (784, 50, 10),
        100,
        60_000,
        target=1.25,
        repeats=21,
        quick_repeats=3,
    ),
    TrainCase(
        "epoch 784-1000-1000-10, batch 1000",
        (784, 1000, 1000, 10),
        1000,
        10_000,
        target=1.05,
        repeats=11,
        quick_repeats=2,
    ),
    TrainCase(
        "one gradient 784-50-10, batch 100",
        (784, 50, 10),
        100,
        None,
        kind="gradient",
        target=1.3,
        repeats=31,
        quick_repeats=5,
    ),
]


# ---------------------------------------------------------------------------------- systems


class System:
    """What the benchmark drives: one training pass over `perm`, or one gradient of a batch."""

    name = ""

    def epoch(self) -> None:
        raise NotImplementedError

    def gradient(self) -> None:
        raise NotImplementedError

    def losses(self) -> np.ndarray:
        """Per-batch losses of the last pass (or the gradient's loss)."""
        return self._losses


class UserLoop(System):
    """The loop a PyTorch-style user writes, shared by minigrad and torch: the same code drives
    both (`model`, `loss_fn`, `opt`, data and permutation set by the subclass)."""

    def epoch(self) -> None:
        x, t, perm, n = self.x, self.t, self.perm, self.batch
        model, loss_fn, opt, losses = self.model, self.loss_fn, self.opt, self._losses
        for i in range(len(perm) // n):
            idx = perm[i * n : (i + 1) * n]
            loss = loss_fn(model(x[idx]), t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[i] = loss.item()

    def gradient(self) -> None:
        self.model.zero_grad()
        loss = self.loss_fn(self.model(self.xb), self.tb)
        loss.backward()
        self._losses[0] = loss.item()


class Floor(System):
    name = "numpy floor"

    def __init__(self, params, x, t, perm, batch, lr) -> None:
        self.net = NumpyMLP(params, lr, batch)
        self.x, self.t, self.perm = x, t, perm
        self._losses = np.zeros(len(perm) // batch)
        self.net.gather(x, t, perm[:batch])  # the "gradient" case's batch, gathered once

    def epoch(self) -> None:
        self.net.epoch(self.x, self.t, self.perm, self._losses)

    def gradient(self) -> None:
        self._losses[0] = self.net.forward_loss()
        self.net.backward(update=False)

    def grads(self) -> list[np.ndarray]:
        return [g for pair in zip(self.net.dW, self.net.db, strict=True) for g in pair]


def minigrad_model(params: Sequence[np.ndarray]) -> nn.Module:
    """nn.Sequential of nn.Linear/nn.ReLU holding copies of `params` ([W1, b1, ...], each W in
    the floor's (in, out) layout, stored as Linear's (out, in), as PyTorch)."""
    layers: list[nn.Module] = []
    for i in range(0, len(params), 2):
        w, b = params[i], params[i + 1]
        linear = nn.Linear(*w.shape)
        linear.weight = nn.Parameter(np.ascontiguousarray(w.T))
        linear.bias = nn.Parameter(b.copy())
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class Minigrad(UserLoop):
    """The user's code: model(x[idx]), CrossEntropyLoss, zero_grad, backward, SGD step."""

    name = "minigrad"

    def __init__(self, params, x, t, perm, batch, lr) -> None:
        self.model = minigrad_model(params)
        self.loss_fn = nn.CrossEntropyLoss()
        self.opt = optim.SGD(self.model.parameters(), lr=lr)
        self.x, self.t, self.perm, self.batch = x, t, perm, batch
        self._losses = np.zeros(len(perm) // batch)
        self.xb, self.tb = x[perm[:batch]], t[perm[:batch]]

    def step_once(self, idx: np.ndarray) -> None:
        loss = self.loss_fn(self.model(self.x[idx]), self.t[idx])
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()

    def grads(self) -> list[np.ndarray]:
        """In the floor's layout: weight gradients transposed back to (in, out)."""
        return [p.grad.numpy().T if p.ndim == 2 else p.grad.numpy()
                for p in self.model.parameters()]


class Torch(UserLoop):
    """The same training in PyTorch (only when it is importable; never a dependency)."""

    name = "torch"

    def __init__(self, params, x, t, perm, batch, lr) -> None:
        import torch

        self.torch = torch
        layers: list[Any] = []
        for i in range(0, len(params), 2):
            w, b = params[i], params[i + 1]
            linear = torch.nn.Linear(*w.shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T)))
                linear.bias.copy_(torch.from_numpy(b))
            layers += [linear, torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.opt = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.x, self.t = torch.from_numpy(x), torch.from_numpy(t)
        self.perm, self.batch = torch.from_numpy(perm), batch
        self._losses = np.zeros(len(perm) // batch)
        self.xb, self.tb = self.x[self.perm[:batch]], self.t[self.perm[:batch]]

    def grads(self) -> list[np.ndarray]:
        grads = [p.grad.numpy() for p in self.model.parameters()]
        return [g.T if g.ndim == 2 else g for g in grads]  # torch stores W as (out, in)


# ---------------------------------------------------------------------------------- timing


def rotating_samples(
    systems: dict[str, Callable[[], None]], repeats: int
) -> dict[str, list[float]]:
    """Wall times of each callable over `repeats` interleaved rounds. With three or more
    systems the order rotates by one each round: none runs twice in a row (it would find its
    weights still in cache) and, for three, each runs after each of the others (rather than
    always after the same one, inheriting its allocator and cache state); two alternate."""
    import time

    names = list(systems)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names) if len(names) > 2 else 0
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            systems[name]()
            samples[name].append(time.perf_counter() - start)
    return samples


def rotating_medians(systems: dict[str, Callable[[], None]], repeats: int) -> dict[str, float]:
    """Median wall time of each callable over `repeats` rotating rounds (`rotating_samples`)."""
    samples = rotating_samples(systems, repeats)
    return {name: statistics.median(values) for name, values in samples.items()}


def paired_ratio(times: Sequence[float], baseline: Sequence[float]) -> float:
    """Median over rounds of time / baseline time in the same round. On a machine whose speed
    drifts between rounds (a shared VM), each round's pair ran under the same conditions, so
    this is steadier than a ratio of two medians taken over different rounds."""
    return statistics.median(t / b for t, b in zip(times, baseline, strict=True))


# ---------------------------------------------------------------------------------- checks


def check_gradients(name: str, floor_grads: list[np.ndarray], grads: list[np.ndarray]) -> None:
    """Raise DisagreementError unless every gradient matches the floor's to float32 tolerance
    (relative to the largest element of each)."""
    for i, (expected, got) in enumerate(zip(floor_grads, grads, strict=True)):
        scale = float(np.max(np.abs(expected))) or 1.0
        if got.shape != expected.shape or not np.allclose(got, expected, rtol=0, atol=1e-4 * scale):
            raise DisagreementError(
                f"{name}: the gradient of parameter {i} differs from the NumPy floor's "
                f"(max |diff| {np.max(np.abs(got - expected)):.3g}, scale {scale:.3g})"
            )


def check_agreement(name: str, floor_losses: np.ndarray, losses: np.ndarray) -> float:
    """Raise DisagreementError unless a system's per-batch losses over one pass match the
    floor's to float32 tolerance; return the largest absolute difference.

    The first batch (identical weights: the forward pass alone) must agree to rtol 1e-5 and the
    mean loss over the pass to rtol 1e-4. Float32 rounding (another BLAS summing in another
    order) moves these by ~1e-7; a learning rate off by 1% already moves the mean by ~4e-3. A
    single batch may differ more where rounding tips a ReLU or the order of two logits, so
    batches are not checked one by one."""
    floor_losses, losses = np.asarray(floor_losses), np.asarray(losses)
    if losses.shape != floor_losses.shape or not losses.size:
        raise DisagreementError(
            f"{name} gave {losses.shape} losses for the floor's {floor_losses.shape}"
        )
    if not np.isfinite(losses).all():
        raise DisagreementError(f"{name} produced a non-finite loss")
    checks = [
        ("the first batch's loss", losses[0], floor_losses[0], FIRST_RTOL),
        ("the mean loss over the pass", losses.mean(), floor_losses.mean(), MEAN_RTOL),
    ]
    for what, got, expected, rtol in checks:
        if abs(got - expected) > rtol * abs(expected) + LOSS_ATOL:
            raise DisagreementError(
                f"{name} does not train like the NumPy floor: {what} is {got!r} against the "
                f"floor's {expected!r} (rtol={rtol}); its timings would mean nothing"
            )
    return float(np.max(np.abs(floor_losses - losses)))


# ---------------------------------------------------------------------------------- measuring


def load_data(images: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST training images (float32, flattened) and labels (int64)."""
    (x, t), _ = nn.load_mnist(normalize=True, flatten=True)
    if images is not None:
        x, t = x[:images], t[:images]
    return np.ascontiguousarray(x, dtype=np.float32), t


def measure_case(
    case: TrainCase,
    x: np.ndarray,
    t: np.ndarray,
    quick: bool,
    use_torch: bool,
    minigrad_system: type[System] = Minigrad,
) -> dict[str, Any]:
    """Check that every system agrees with the floor, then time them interleaved."""
    if case.images is not None:
        x, t = x[: case.images], t[: case.images]
    perm = np.random.default_rng(0).permutation(len(x))
    params = init_params(case.sizes, np.float32, seed=0)
    kinds: list[type[System]] = [Floor, minigrad_system] + ([Torch] if use_torch else [])
    systems = {
        kind.name: kind([p.copy() for p in params], x, t, perm, case.batch, LR) for kind in kinds
    }
    run = "epoch" if case.kind == "epoch" else "gradient"
    for system in systems.values():  # the first pass, from identical weights: also the warm-up
        getattr(system, run)()
    floor = systems[Floor.name]
    max_diff = {
        name: check_agreement(name, floor.losses(), system.losses())
        for name, system in systems.items()
        if system is not floor
    }
    if case.kind == "gradient":
        for name, system in systems.items():
            if system is not floor:
                check_gradients(name, floor.grads(), system.grads())
    if case.kind == "gradient":
        calls = case.gradients_per_sample

        def repeat(fn: Callable[[], None]) -> Callable[[], None]:
            def many() -> None:
                for _ in range(calls):
                    fn()

            return many

        timed = {name: repeat(system.gradient) for name, system in systems.items()}
    else:
        calls = 1
        timed = {name: system.epoch for name, system in systems.items()}
    repeats = case.quick_repeats if quick else case.repeats
    samples = rotating_samples(timed, repeats)
    per_call = {name: statistics.median(values) / calls for name, values in samples.items()}
    floor_times = samples[Floor.name]
    row: dict[str, Any] = {
        "kind": "time",
        "case": case.name,
        "sizes": list(case.sizes),
        "batch": case.batch,
        "images": len(x),
        "steps_per_pass": len(perm) // case.batch if case.kind == "epoch" else 1,
        "repeats": repeats,
        "floor_s": per_call[Floor.name],
        "minigrad_s": per_call[minigrad_system.name],
        "ratio": paired_ratio(samples[minigrad_system.name], floor_times),
        "ratio_of_medians": per_call[minigrad_system.name] / per_call[Floor.name],
        "target": case.target,
        "max_loss_diff": max_diff,
    }
    if use_torch:
        row["torch_s"] = per_call[Torch.name]
        row["torch_ratio"] = paired_ratio(samples[Torch.name], floor_times)
    row["met"] = None if case.target is None else row["ratio"] <= case.target
    return row


def _traced_peak(fn: Callable[[], None]) -> int:
    """Peak bytes allocated (and traced) while `fn` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_memory(case: TrainCase, x: np.ndarray, t: np.ndarray) -> dict[str, Any]:
    """Peak memory of one training step beyond the parameters and the data, from a cold start:
    the floor builds its work buffers and steps; minigrad builds its optimizer and steps (its
    gradients, graph and optimizer scratch all count). Median of 3."""
    if case.images is not None:
        x, t = x[: case.images], t[: case.images]
    params = init_params(case.sizes, np.float32, seed=0)
    idx = np.random.default_rng(0).permutation(len(x))[: case.batch]
    model = minigrad_model(params)
    loss_fn = nn.CrossEntropyLoss()

    def floor_step() -> None:
        NumpyMLP(params, LR, case.batch).step(x, t, idx)

    def minigrad_step() -> None:
        opt = optim.SGD(model.parameters(), lr=LR)
        loss = loss_fn(model(x[idx]), t[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()

    def cold(step: Callable[[], None]) -> int:
        for p in model.parameters():
            p.grad = None
        return _traced_peak(step)

    floor_step()  # warm-up: imports, caches
    minigrad_step()
    floor_peak = sorted(cold(floor_step) for _ in range(3))[1]
    minigrad_peak = sorted(cold(minigrad_step) for _ in range(3))[1]
    ratio = minigrad_peak / floor_peak
    return {
        "kind": "memory",
        "case": f"step {'-'.join(map(str, case.sizes))}, batch {case.batch}",
        "floor_bytes": floor_peak,
        "minigrad_bytes": minigrad_peak,
        "ratio": ratio,
        "target": MEMORY_TARGET,
        "met": ratio <= MEMORY_TARGET,
    }


def run(
    quick: bool = False,
    cases: Sequence[TrainCase] | None = None,
    data: tuple[np.ndarray, np.ndarray] | None = None,
    use_torch: bool | None = None,
) -> list[dict[str, Any]]:
    """Time every case and measure the memory of each epoch case's step. `cases` and `data`
    (images, labels) replace the MNIST cases, e.g. with tiny ones in tests."""
    cases = CASES if cases is None else cases
    x, t = load_data() if data is None else data
    use_torch = torch_available() if use_torch is None else use_torch
    results = [measure_case(case, x, t, quick, use_torch) for case in cases]
    results += [measure_memory(case, x, t) for case in cases if case.kind == "epoch"]
    return results


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}" if seconds < 1 else f"{seconds * 1e3:.0f}"


def _verdict(row: dict[str, Any]) -> str:
    if row.get("target") is None:
        return ""
    return f"<= {row['target']}x: " + ("met" if row["met"] else "NOT met")


def table(results: list[dict[str, Any]]) -> str:
    """Times (ms per pass or per gradient) and ratios; then peak memory per step."""
    timed = [r for r in results if r["kind"] == "time"]
    with_torch = any("torch_s" in r for r in timed)
    headers = ["case", "floor ms", "minigrad ms", "minigrad / floor", "target"]
    if with_torch:
        headers[3:3] = ["torch ms"]
        headers[5:5] = ["torch / floor"]
    rows = []
    for r in timed:
        row = [r["case"], _ms(r["floor_s"]), _ms(r["minigrad_s"]), f"{r['ratio']:.2f}x"]
        if with_torch:
            row[3:3] = [_ms(r["torch_s"]) if "torch_s" in r else "-"]
            row[5:5] = [f"{r['torch_ratio']:.2f}x" if "torch_ratio" in r else "-"]
        rows.append([*row, _verdict(r)])
    text = markdown_table(headers, rows)
    memory = [r for r in results if r["kind"] == "memory"]
    if memory:
        mem_rows = [
            (
                r["case"],
                f"{r['floor_bytes'] / 2**20:.2f}",
                f"{r['minigrad_bytes'] / 2**20:.2f}",
                f"{r['ratio']:.2f}x",
                _verdict(r),
            )
            for r in memory
        ]
        text += "\n\nPeak memory of one training step (tracemalloc, MiB, beyond parameters and "
        text += "data):\n\n" + markdown_table(
            ["step", "floor MiB", "minigrad MiB", "minigrad / floor", "target"], mem_rows
        )
    return text


# ---------------------------------------------------------------------------------- profiling


def _function_classes() -> list[type]:
    """Every minigrad Function subclass defined so far."""
    from minigrad.autograd import Function

    found, todo = [], [Function]
    while todo:
        for sub in todo.pop().__subclasses__():
            found.append(sub)
            todo.append(sub)
    return found


def step_budget(
    case: TrainCase, x: np.ndarray, t: np.ndarray, steps: int = 300, rounds: int = 5
) -> dict[str, float]:
    """Where one minigrad training step's time goes, in microseconds (medians over `rounds`):
    the NumPy work inside the ops' forward and backward, what the engine, modules and loss
    wrapper add around it ("overhead"), the gather and the optimizer; and the floor's step.

    Every Function's forward/backward is wrapped with a timer for the measurement (only the
    outermost call of a nested super() chain counts), and restored afterwards."""
    import statistics
    import time

    clock = time.perf_counter
    acc: dict[str, float] = {}
    depth = [0]

    def timed(method: Callable, key: str) -> Callable:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            start = clock()
            try:
                return method(self, *args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    acc[key] = acc.get(key, 0.0) + clock() - start

        return wrapper

    originals = []
    for cls in _function_classes():
        for name, key in (("forward", "ops forward"), ("backward", "ops backward")):
            if name in cls.__dict__:
                originals.append((cls, name, cls.__dict__[name]))
                setattr(cls, name, timed(cls.__dict__[name], key))
    try:
        x, t = (x, t) if case.images is None else (x[: case.images], t[: case.images])
        steps = min(steps, len(x) // case.batch)
        perm = np.random.default_rng(0).permutation(len(x))[: steps * case.batch]
        params = init_params(case.sizes, np.float32, seed=0)
        floor = Floor([p.copy() for p in params], x, t, perm, case.batch, LR)
        ours = Minigrad([p.copy() for p in params], x, t, perm, case.batch, LR)
        model, loss_fn, opt = ours.model, ours.loss_fn, ours.opt
        runs = []
        for _ in range(rounds + 1):  # the first round warms up
            acc.clear()
            for i in range(steps):
                idx = perm[i * case.batch : (i + 1) * case.batch]
                t0 = clock()
                xb, tb = x[idx], t[idx]
                t1 = clock()
                loss = loss_fn(model(xb), tb)
                t2 = clock()
                opt.zero_grad()
                loss.backward()
                t3 = clock()
                opt.step()
                loss.item()
                t4 = clock()
                for key, dt in (
                    ("gather", t1 - t0),
                    ("forward", t2 - t1),
                    ("backward", t3 - t2),
                    ("optimizer", t4 - t3),
                ):
                    acc[key] = acc.get(key, 0.0) + dt
            start = clock()
            floor.epoch()
            acc["floor step"] = clock() - start
            runs.append({key: value / steps * 1e6 for key, value in acc.items()})
        med = {key: statistics.median(r.get(key, 0.0) for r in runs[1:]) for key in runs[1]}
    finally:
        for cls, name, method in originals:
            setattr(cls, name, method)
    budget = {
        "gather": med["gather"],
        "forward: NumPy work in ops": med["ops forward"],
        "forward: overhead (engine, modules, loss wrapper)": med["forward"] - med["ops forward"],
        "backward: NumPy work in ops": med["ops backward"],
        "backward: overhead (engine)": med["backward"] - med["ops backward"],
        "optimizer step": med["optimizer"],
    }
    budget["minigrad step"] = sum(budget.values())
    budget["floor step"] = med["floor step"]
    return budget


def profile(case: TrainCase, x: np.ndarray, t: np.ndarray, top: int = 25) -> str:
    """The step budget and cProfile's `top` functions (by own time) over one minigrad pass."""
    import cProfile
    import io
    import pstats

    budget = step_budget(case, x, t)
    lines = [f"Step budget, {case.name} (us per step; timers add a little to the overhead):", ""]
    lines += [f"  {key:52s} {value:8.1f}" for key, value in budget.items()]
    lines.append(f"  {'ratio':52s} {budget['minigrad step'] / budget['floor step']:8.2f}")
    xs, ts = (x, t) if case.images is None else (x[: case.images], t[: case.images])
    perm = np.random.default_rng(0).permutation(len(xs))
    system = Minigrad(init_params(case.sizes), xs, ts, perm, case.batch, LR)
    system.epoch()
    profiler = cProfile.Profile()
    profiler.enable()
    system.epoch()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    calls = sum(entry[1] for entry in stats.stats.values())  # type: ignore[attr-defined]
    lines += ["", f"cProfile of one pass: {calls / (len(perm) // case.batch):.0f} calls per step"]
    stats.sort_stats("tottime").print_stats(top)
    lines.append(out.getvalue())
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if installed")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead, show where minigrad's step time goes (784-50-10, batch 100) and cProfile",
    )
    args = parser.parse_args(argv)
    if args.profile:
        print(profile(CASES[0], *load_data()))
        return 0
    results = run(args.quick, use_torch=False if args.no_torch else None)
    print("## Training throughput: ratio to the hand-fused NumPy floor\n")
    print(table(results))
    print(f"\nresults written to {save_results('train', results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
