"""`minigrad bench grad`: the benchmark ships with the package (minigrad_nn.bench) and the
repository's benchmarks/ import it, never the reverse. Tiny sizes; no test asserts a time."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

import minigrad_nn as nn
from minigrad_nn.bench import grad
from minigrad_nn.bench.grad_report import plot, table
from minigrad_nn.cli import main

ROOT = Path(__file__).resolve().parents[1]


def tiny_data(n: int = 60, features: int = 12, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.random((n, features), dtype=np.float32), rng.integers(0, classes, n)


REAL_RUN = grad.run


def tiny_run(quick: bool = False) -> list[dict]:
    return REAL_RUN(quick=quick, batches=(2, 5), hidden_sizes=(3, 25), data=tiny_data(),
                    hidden=25, scaling_batch=5, repeats=3)


def test_numerical_gradient_helper_full_and_subset_agree_with_backprop():
    x, t = tiny_data()
    xb = x[:4].astype(np.float64)
    model = grad.TwoLayerNet((12, 6, 10))
    assert model.fc1.W.shape == (12, 6)  # the book's layout: W (in, out)
    loss_fn = nn.CrossEntropyLoss()

    def loss():
        return loss_fn(model(xb), t[:4])

    loss().backward()
    w = model.fc1.W
    before = w.numpy().copy()
    indices, values, seconds = grad.numerical_gradient_timed(loss, w)
    assert seconds > 0
    np.testing.assert_array_equal(indices, np.arange(w.size))
    np.testing.assert_allclose(values, w.grad.numpy().reshape(-1), atol=1e-7)
    indices, values, _ = grad.numerical_gradient_timed(
        loss, w, np.random.default_rng(0), blocks=2, block=5
    )
    assert len(indices) == len(values) == 10 and len(set(indices.tolist())) == 10
    np.testing.assert_allclose(values, w.grad.numpy().reshape(-1)[indices], atol=1e-7)
    np.testing.assert_array_equal(w.numpy(), before)  # every perturbation was undone


@pytest.mark.parametrize("quick", [True, False])
def test_run_is_well_formed(quick):
    rows = tiny_run(quick)
    assert [r["section"] for r in rows] == ["check", "check", "scaling", "scaling"]
    for r in rows:
        assert r["parameters"] == 12 * r["hidden"] + r["hidden"] + r["hidden"] * 10 + 10
        assert r["backprop_s"] > 0 and r["loss_eval_s"] > 0 and r["numerical_s"] > 0
        assert r["ratio"] == pytest.approx(r["numerical_s"] / r["backprop_s"])
        assert r["per_element_over_two_losses"] > 0
        assert {d["book_name"] for d in r["diffs"]} == {"W1", "b1", "W2", "b2"}
        for d in r["diffs"]:
            assert 0 <= d["mean_abs_diff"] <= d["max_abs_diff"] < 1e-5
    assert rows[0]["extrapolated"] == quick  # 12*25 = 300 weights > 20 blocks of 10 in quick
    text = table(rows)
    assert "| batch |" in text and "fc1.W (W1)" in text
    assert ("extrapolated" in text) == quick
    json.dumps(rows)  # JSON-able


@pytest.mark.plot
def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot(tiny_run(quick=True), tmp_path / "plot.png")
    assert Path(path).read_bytes()[:4] == b"\x89PNG"


def test_full_numerical_gradient_over_budget_is_extrapolated_and_says_so(monkeypatch):
    monkeypatch.setattr(grad, "BUDGET_BLOCKS", 5)
    x, t = tiny_data()
    row = grad.measure_case(25, 4, x, t, quick=False, repeats=2, budget_s=0)
    assert row["extrapolated"] and row["numerical_elements_timed"] < row["parameters"]
    assert "extrapolated" in table([{"section": "check", **row}])


def test_minigrad_bench_grad_prints_the_tables_and_writes_json(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(grad, "run", lambda quick: tiny_run(quick))
    out_json = tmp_path / "grad.json"
    assert main(["bench", "grad", "--quick", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Backprop vs numerical gradient")
    assert "Scaling, batch 5" in out and f"results written to {out_json}" in out
    assert [r["hidden"] for r in json.loads(out_json.read_text())][-2:] == [3, 25]
    assert main(["bench", "--quick"]) == 0  # grad is the default section


@pytest.mark.parametrize("section", ["train", "overhead", "optim"])
def test_the_clone_only_sections_say_where_they_are(section, capsys):
    assert main(["bench", section]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"python benchmarks/run_all.py {section}" in err


def test_bench_checks_its_output_paths_first(tmp_path, capsys):
    assert main(["bench", "grad", "--json", str(tmp_path / "no" / "g.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_package_never_imports_the_repository_benchmarks():
    """No module of minigrad or minigrad_nn imports `benchmarks` or edits sys.path."""
    offenders = []
    for package in ("minigrad", "minigrad_nn"):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    names = [node.module or ""]
                if any(name.split(".")[0] == "benchmarks" for name in names):
                    offenders.append(f"{path.relative_to(ROOT)} imports benchmarks")
            if "sys.path" in path.read_text(encoding="utf-8"):
                offenders.append(f"{path.relative_to(ROOT)} touches sys.path")
    assert not offenders, offenders


def test_the_repository_benchmark_runs_the_package_one():
    from benchmarks import bench_numerical_vs_backprop

    assert bench_numerical_vs_backprop.run is REAL_RUN
