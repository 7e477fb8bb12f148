"""Smoke tests of the benchmarks: the NumPy floor computes the right gradients, each benchmark runs
on tiny sizes and returns well-formed rows, and the correctness checks catch a wrong engine.
No test asserts a wall time."""

from __future__ import annotations

import itertools
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import minigrad as mg  # noqa: E402
import minigrad_nn as nn  # noqa: E402
from benchmarks import (  # noqa: E402
    bench_conv,
    bench_numerical_vs_backprop,
    bench_optim,
    bench_overhead,
    bench_train,
    common,
    run_all,
)
from benchmarks.numpy_floor import NumpyMLP, init_params  # noqa: E402


def tiny_data(n: int = 60, features: int = 12, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features), dtype=np.float32)
    t = rng.integers(0, classes, n)
    return x, t


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    """Benchmarks write their JSON to a temporary folder, not benchmarks/results/."""
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(run_all, "RESULTS_DIR", tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------- the floor


@pytest.mark.parametrize("sizes", [(12, 7, 5), (12, 9, 6, 4)])
def test_floor_gradients_match_minigrad_in_float64(sizes):
    x, t = tiny_data(classes=sizes[-1])
    params = init_params(sizes, np.float64, seed=3)
    idx = np.arange(8)[::-1].copy()
    floor = NumpyMLP([p.copy() for p in params], lr=0.1, batch_size=8)
    floor_loss = floor.gradient(x.astype(np.float64), t, idx)

    model = bench_train.minigrad_model(params)
    loss = nn.CrossEntropyLoss()(model(x[idx].astype(np.float64)), t[idx])
    loss.backward()
    assert floor_loss == pytest.approx(loss.item(), rel=1e-12)
    floor_grads = [g for pair in zip(floor.dW, floor.db, strict=True) for g in pair]
    for p, g in zip(model.parameters(), floor_grads, strict=True):
        assert p.grad.dtype == g.dtype == np.float64
        ours = p.grad.numpy().T if p.ndim == 2 else p.grad.numpy()  # Linear's (out, in)
        np.testing.assert_allclose(g, ours, rtol=1e-10, atol=1e-13)


def test_floor_step_is_sgd_in_place_and_stays_float32():
    x, t = tiny_data()
    params = init_params((12, 7, 10), np.float32, seed=1)
    before = [p.copy() for p in params]
    floor = NumpyMLP(params, lr=0.5, batch_size=10)
    idx = np.arange(10)
    reference = NumpyMLP([p.copy() for p in before], lr=0.5, batch_size=10)
    reference.gradient(x, t, idx)
    loss = floor.step(x, t, idx)
    assert isinstance(loss, float) and np.isfinite(loss)
    grads = [g for pair in zip(reference.dW, reference.db, strict=True) for g in pair]
    for p, b, g in zip(params, before, grads, strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, b - np.float32(0.5) * g, rtol=1e-6, atol=1e-7)
    buffers = [floor.x, *floor.h, *floor.dh, *floor.dW, *floor.db, floor.row_max, floor.row_sum]
    assert all(b.dtype == np.float32 for b in buffers)


def test_floor_epoch_rejects_out_of_range_indices():
    x, t = tiny_data()
    floor = NumpyMLP(init_params((12, 4, 10)), lr=0.1, batch_size=10)
    with pytest.raises(IndexError):
        floor.epoch(x, t, np.arange(10, 70), np.zeros(6))


# ---------------------------------------------------------------------------- training


TINY_CASES = [
    bench_train.TrainCase("tiny epoch", (12, 8, 10), 10, None, target=100.0, quick_repeats=2),
    bench_train.TrainCase("tiny deeper epoch", (12, 8, 8, 10), 20, 40, quick_repeats=1),
    bench_train.TrainCase(
        "tiny gradient",
        (12, 8, 10),
        10,
        None,
        kind="gradient",
        quick_repeats=2,
        gradients_per_sample=3,
    ),
]


def test_train_run_is_well_formed(results_dir):
    rows = bench_train.run(quick=True, cases=TINY_CASES, data=tiny_data(), use_torch=False)
    timed = [r for r in rows if r["kind"] == "time"]
    memory = [r for r in rows if r["kind"] == "memory"]
    assert [r["case"] for r in timed] == [c.name for c in TINY_CASES]
    assert len(memory) == 2  # one per epoch case
    for r in timed:
        assert r["floor_s"] > 0 and r["minigrad_s"] > 0
        assert r["ratio_of_medians"] == pytest.approx(r["minigrad_s"] / r["floor_s"])
        assert r["ratio"] > 0  # the median of each round's ratio (see paired_ratio)
        assert r["max_loss_diff"]["minigrad"] <= 1e-3
    assert timed[0]["steps_per_pass"] == 6 and timed[1]["images"] == 40
    assert timed[0]["met"] is True and timed[1]["met"] is None
    for r in memory:
        assert r["floor_bytes"] > 0 and r["minigrad_bytes"] > 0 and isinstance(r["met"], bool)
    text = bench_train.table(rows)
    assert "tiny gradient" in text and "Peak memory" in text and "met" in text
    json.dumps(rows)


def test_train_run_with_torch_as_third_system(results_dir):
    pytest.importorskip("torch")
    rows = bench_train.run(quick=True, cases=TINY_CASES[::2], data=tiny_data(), use_torch=True)
    for r in rows:
        if r["kind"] == "time":
            assert r["torch_s"] > 0 and r["max_loss_diff"]["torch"] <= 1e-3
    assert "torch / floor" in bench_train.table(rows)


class WrongLearningRate(bench_train.Minigrad):
    """A 'fast engine' that trains differently: its SGD step is 10% too long."""

    def __init__(self, params, x, t, perm, batch, lr):
        super().__init__(params, x, t, perm, batch, lr * 1.1)


class WrongGradient(bench_train.Minigrad):
    """Right loss, wrong gradient (the bias gradient is dropped)."""

    def gradient(self):
        super().gradient()
        for p in self.model.parameters():
            if p.ndim == 1:
                p.grad = mg.zeros_like(p)


@pytest.mark.parametrize(
    ("case", "system"), [(TINY_CASES[0], WrongLearningRate), (TINY_CASES[2], WrongGradient)]
)
def test_train_check_rejects_an_engine_that_disagrees_with_the_floor(case, system):
    x, t = tiny_data()
    with pytest.raises(bench_train.DisagreementError):
        bench_train.measure_case(case, x, t, quick=True, use_torch=False, minigrad_system=system)


def test_check_agreement_tolerates_float32_rounding_only():
    losses = np.linspace(2.3, 0.3, 50).astype(np.float32)
    assert bench_train.check_agreement("x", losses, losses * (1 + 2e-7)) < 1e-5
    spike = losses.copy()
    spike[-1] *= 1 + 5e-4  # one batch tipped by rounding (a ReLU, two close logits)
    bench_train.check_agreement("x", losses, spike)
    with pytest.raises(bench_train.DisagreementError, match="first batch"):
        bench_train.check_agreement("x", losses, losses + np.float32(1e-3) * (np.arange(50) == 0))
    with pytest.raises(bench_train.DisagreementError, match="mean loss"):
        bench_train.check_agreement("x", losses, losses * np.linspace(1, 1.004, 50))
    with pytest.raises(bench_train.DisagreementError):
        bench_train.check_agreement("x", losses, losses[:2])
    with pytest.raises(bench_train.DisagreementError, match="non-finite"):
        bench_train.check_agreement("x", losses, losses * np.nan)


# ---------------------------------------------------------------------------- run_all and CLI


@pytest.fixture
def tiny_sections(monkeypatch):
    """Every section of run_all on tiny sizes."""
    data = tiny_data()
    monkeypatch.setattr(bench_overhead, "SHAPES", [(1, 1), (10,)])
    monkeypatch.setattr(bench_optim, "SHAPES", [(20, 10), (10,)])
    sections = {
        "grad": lambda quick: bench_numerical_vs_backprop.run(
            quick,
            batches=(2,),
            hidden_sizes=(3,),
            data=data,
            hidden=3,
            scaling_batch=2,
            repeats=3,
        ),
        "train": lambda quick: bench_train.run(quick, TINY_CASES[:1], data, use_torch=False),
        "conv": lambda quick: bench_conv.run(quick, cases=("SimpleConvNet",), repeats=1),
    }
    original = run_all._section

    def section(name):
        run, table = original(name)
        return sections.get(name, run), table

    monkeypatch.setattr(run_all, "_section", section)


def test_run_all_prints_every_section_and_the_targets(tiny_sections, results_dir, capsys):
    assert run_all.main(["--quick", "--threads", "0"]) == 0  # 0: leave the BLAS threads alone
    out = capsys.readouterr().out
    for title in run_all.TITLES.values():
        assert f"## {title}" in out
    assert "## Targets" in out and "CPU:" in out and "NumPy" in out
    assert "per-op chain of adds fwd+bwd, 1x1" in out and "optimizer step, SGD" in out
    for name in ("numerical_vs_backprop", "train", "overhead", "optim", "conv", "run_all"):
        record = json.loads((results_dir / f"{name}.json").read_text())
        assert record["machine"]["numpy"] == np.__version__


def test_run_all_runs_only_the_sections_asked(tiny_sections, results_dir, capsys):
    assert run_all.main(["train", "--quick", "--threads", "0"]) == 0
    out = capsys.readouterr().out
    assert f"## {run_all.TITLES['train']}" in out and run_all.TITLES["grad"] not in out
    with pytest.raises(SystemExit):
        run_all.main(["nonsense"])
    with pytest.raises(SystemExit):
        run_all.main(["--threads", "-1"])


def test_overhead_times_every_system_against_numpy(monkeypatch):
    """bench_overhead: minigrad, the reference autodiff and (when asked) PyTorch, each with its
    ratio to raw NumPy; without PyTorch its column says so rather than showing a number."""
    monkeypatch.setattr(bench_overhead, "SHAPES", [(1, 1), (3,)])
    results = bench_overhead.run(quick=True, use_torch=False)
    assert [r["shape"] for r in results] == [(1, 1), (3,)]
    for r in results:
        assert r["ratio"] > 0 and r["reference_ratio"] > 0 and r["torch_ratio"] is None
        assert r["minigrad_us_per_op"] > 0 and r["numpy_us_per_op"] > 0
    table = bench_overhead.table(results)
    assert "reference autodiff / NumPy" in table and "| - |" in table


def test_overhead_refuses_a_system_with_a_wrong_gradient(monkeypatch):
    def wrong_chain(x0, a, n):
        return 2 * bench_overhead.reference_chain(x0, a, n)

    monkeypatch.setattr(bench_overhead, "CHAINS", {"minigrad": wrong_chain})
    with pytest.raises(AssertionError):
        bench_overhead.measure((1, 1), 5, 1, use_torch=False)


def test_overhead_torch_chain_gives_numpys_gradient():
    pytest.importorskip("torch")
    x, a = np.full((2, 2), 0.5, np.float32), np.ones((2, 2), np.float32)
    np.testing.assert_array_equal(
        bench_overhead.torch_chain(x, a, 7), bench_overhead.raw_numpy_chain(x, a, 7)
    )


def test_reference_autodiff_sums_the_gradient_of_every_path():
    """benchmarks/reference_autodiff.py: y = x + c, z = y + y, w = z + x gives dw/dx = 3, and a
    chain longer than Python's recursion limit works."""
    from benchmarks.reference_autodiff import Value

    x = Value(np.array([1.0, 2.0]))
    y = x + np.array([5.0, 5.0])
    z = y + y
    w = z + x
    w.backward(np.ones(2))
    np.testing.assert_array_equal(w.data, [13.0, 16.0])
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    np.testing.assert_array_equal(y.grad, [2.0, 2.0])
    long = Value(np.zeros(1))
    out = long
    for _ in range(3000):
        out = out + np.ones(1)
    out.backward(np.ones(1))
    np.testing.assert_array_equal(long.grad, [1.0])


def test_targets_summary_says_met_or_not_met():
    results = {
        "train": [
            {"kind": "time", "case": "a", "ratio": 1.2, "target": 1.25},
            {"kind": "memory", "case": "b", "ratio": 1.6, "target": 1.5},
            {"kind": "time", "case": "c", "ratio": 3.0, "target": None},
        ],
        "overhead": [{"shape": (1, 1), "ratio": 3.0}, {"shape": (100, 100), "ratio": 9.0}],
    }
    rows = run_all.targets(results)
    assert [(r[0], r[3]) for r in rows] == [
        ("a", "met"),
        ("peak memory, b", "NOT met"),
        ("per-op chain of adds fwd+bwd, 1x1", "met"),
    ]


def test_threads_option_sets_the_blas_thread_count():
    before = run_all.blas_threads()
    if before is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS this helper can reach")
    try:
        run_all.set_threads(1)
        assert run_all.blas_threads() == 1
    finally:
        run_all.set_threads(before)
    assert run_all.blas_threads() == before


def test_step_budget_and_profile_restore_the_ops(capsys):
    from minigrad.ops.linalg import MatMul

    forward, backward = MatMul.forward, MatMul.backward
    x, t = tiny_data()
    budget = bench_train.step_budget(TINY_CASES[0], x, t, steps=3, rounds=1)
    assert budget["minigrad step"] > 0 and budget["floor step"] > 0
    assert budget["forward: NumPy work in ops"] > 0 and budget["backward: NumPy work in ops"] > 0
    assert (MatMul.forward, MatMul.backward) == (forward, backward)
    text = bench_train.profile(TINY_CASES[0], x, t, top=5)
    assert "calls per step" in text and "ratio" in text


@pytest.mark.parametrize("n", [2, 3, 4])
def test_rotating_medians_never_runs_a_system_twice_in_a_row(n):
    calls = []
    systems = {str(i): (lambda i=i: calls.append(i)) for i in range(n)}
    medians = bench_train.rotating_medians(systems, repeats=6)
    assert set(medians) == set(systems) and len(calls) == 6 * n
    pairs = list(itertools.pairwise(calls))
    assert all(a != b for a, b in pairs)
    if n == 3:  # floor, minigrad, torch: each follows each of the others
        assert set(pairs) == {(a, b) for a in range(n) for b in range(n) if a != b}


def test_paired_ratio_is_the_median_of_each_rounds_ratio():
    # Round by round the system takes 3x, 1x and 2x the baseline's time: the paired ratio is 2,
    # while the ratio of the two medians (10 / 10) would hide the rounds' pairing.
    assert bench_train.paired_ratio([3.0, 10.0, 20.0], [1.0, 10.0, 10.0]) == 2.0
    with pytest.raises(ValueError):
        bench_train.paired_ratio([1.0, 2.0], [1.0])


def test_conv_bench_systems_agree_and_a_wrong_one_is_caught():
    """The CNN benchmark's three systems compute the same step; a floor with a wrong gradient
    (or a model with other weights) stops the benchmark before anything is timed."""
    (x_all, t_all), _ = nn.load_mnist(flatten=False)
    x, t = x_all[:8], t_all[:8]
    model = bench_conv.SimpleConvNet(seed=0)
    reference = bench_conv.torch_copy(model) if bench_conv.torch_available() else None
    floor = bench_conv.from_minigrad(model, np.random.default_rng(0))
    bench_conv.check_agreement(model, floor, reference, x, t)
    floor.layers[0].params[0] *= 1.5  # the floor's first filters differ: its loss does too
    with pytest.raises(AssertionError, match="floor"):
        bench_conv.check_agreement(model, floor, reference, x, t)


def test_instructions_per_link_is_the_slope_between_two_runs(monkeypatch):
    """benchmarks/instructions.py: imports and warm-up cancel between the FEW and MANY runs."""
    from benchmarks import instructions

    def fake(name: str, chains: int) -> int:  # 1e6 of start-up, then 5000 per link
        return 1_000_000 + chains * instructions.LINKS * 5_000

    monkeypatch.setattr(instructions, "instructions", fake)
    assert instructions.per_link("minigrad_chain") == 5_000


def test_instruction_parts_add_up_to_the_link(monkeypatch):
    """`instructions.py --parts`: the forward, recording and backward parts of each system sum
    to its whole link, and recording is minigrad's alone."""
    from benchmarks import instructions

    per_link = {"minigrad_no_grad_forward": 15_000, "minigrad_forward": 17_000,
                "minigrad_chain": 28_000, "numpy_forward": 3_600, "numpy_backward": 3_700}
    monkeypatch.setattr(instructions, "per_link", per_link.__getitem__)
    rows = {part: (numpy_count, minigrad_count)
            for part, numpy_count, minigrad_count in instructions.parts()}
    *pieces, (_, whole) = rows.items()
    assert whole == (7_300, 28_000)
    assert sum(n for _, (n, _) in pieces) == 7_300 and sum(m for _, (_, m) in pieces) == 28_000
    assert rows["forward: recording the op in the graph"] == (0.0, 2_000)


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")
def test_instruction_count_runs_the_chain_under_valgrind(monkeypatch):
    from benchmarks import instructions

    monkeypatch.setattr(instructions, "LINKS", 5)
    assert instructions.instructions("minigrad_chain", 1) > 1e6  # and the count was found
    assert instructions.instructions("minigrad_no_grad_forward", 1) > 1e6
    assert instructions.instructions("reference_chain", 1) > 1e6
