"""`mg.to_html`: the page's content, its steps and its data, without a browser (the browser tests
are in test_graph_browser.py)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_graph_svg import GRAPHS, apple_graph, chain, engine_order, two_layer_net_loss

import minigrad as mg
import minigrad_nn.functional  # noqa: F401  -- defines the softmax and cross-entropy ops
from minigrad.autograd import Function
from minigrad.graph.html import summary
from minigrad.graph.rules import RULES, rule_of
from minigrad.graph.walk import backward_order, collect


def page_data(page: str) -> dict:
    return json.loads(re.search(r'id="mg-data">(.*?)</script>', page, re.DOTALL).group(1))


def test_the_page_is_self_contained():
    price, _ = apple_graph()
    page = mg.to_html(price)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script src" not in page and "<link rel=\"stylesheet\"" not in page
    assert "@import" not in page
    # The only URL is the SVG namespace, which names the XML vocabulary and is never fetched.
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.\w+[^\s\"'<>)]*", page))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert "</script>" not in page.split('id="mg-data">')[1].split("</script>")[0]


def test_steps_of_the_apple_example():
    price, (apple, apple_num, tax) = apple_graph()
    data = page_data(mg.to_html(price))
    steps = data["steps"]
    assert [s["pass"] for s in steps] == ["start", "forward", "forward", "backward", "backward",
                                          "backward"]
    assert "apple = 100" in steps[0]["text"]
    assert steps[1]["text"].endswith("Mul(100, 2) = 200")
    assert steps[2]["text"].endswith("price = Mul(200, 1.1) = 220")
    assert "∂price/∂price = 1" in steps[3]["text"]
    assert "dx = dout * y, dy = dout * x" in steps[4]["text"]
    assert "tax: 200" in steps[4]["text"] and "apple: 2.2" in steps[5]["text"]
    values = {v["name"] or v["short"]: v for v in data["values"].values()}
    # leaves are given at the start; each product appears at its forward step
    assert [values[k]["fwd"] for k in ("apple", "apple_num", "tax", "200", "price")] == [
        0, 0, 0, 1, 2]
    # gradients appear when the op that completes them has run backward
    assert values["price"]["bwd"] == 3
    assert [values[k]["bwd"] for k in ("200", "tax", "apple", "apple_num")] == [4, 4, 5, 5]
    assert [values[k]["gradShort"] for k in ("price", "200", "tax", "apple", "apple_num")] == [
        "1", "1.1", "200", "2.2", "110"]
    assert values["price"]["data"] == {"kind": "scalar", "text": "220.0"}
    assert data["computed"] is True
    # to_html ran its own backward pass: the tensors' .grad are untouched
    assert apple.grad is None and apple_num.grad is None and tax.grad is None
    price.backward()  # and the graph was kept for the user's own backward
    assert apple.grad.item() == pytest.approx(2.2)


@pytest.mark.parametrize("name", GRAPHS)
def test_backward_steps_follow_the_engine(name):
    root = GRAPHS[name]()
    data = page_data(mg.to_html(root))
    graph = collect(root)
    node_of = {id(n.fn): n.index for n in graph.nodes if n.kind == "op"}
    shown = [s["node"] for s in data["steps"] if s["pass"] == "backward"][1:]  # after the seed
    assert shown == [node_of[id(fn)] for fn in engine_order(root)]
    assert shown == [node_of[id(fn)] for fn in backward_order(root)]
    forward = [s["node"] for s in data["steps"] if s["pass"] == "forward"]
    assert sorted(forward) == sorted(node_of.values())  # every op once
    made_before = set()
    for node in forward:  # each op after the ops that made its inputs
        for e in graph.edges:
            if e.target == node and graph.nodes[e.source].kind == "op":
                assert e.source in made_before
        made_before.add(node)


def test_a_freed_graph_shows_the_gradients_kept_in_grad():
    price, (apple, _, _) = apple_graph()
    price.backward()
    data = page_data(mg.to_html(price))
    assert data["computed"] is False
    grads = {v["name"]: v["gradShort"] for v in data["values"].values() if v["name"]}
    assert grads == {"apple": "2.2", "apple_num": "110", "tax": "200", "price": None}
    seed = [s for s in data["steps"] if s["pass"] == "backward"]
    assert len(seed) == 2  # no seed step: its gradient was not kept; the two ops still step
    assert apple.grad.item() == pytest.approx(2.2)  # untouched


def test_a_non_scalar_output_starts_backward_from_ones():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    x.name = "x"
    y = x * x
    data = page_data(mg.to_html(y))
    values = {v["name"]: v for v in data["values"].values() if v["name"]}
    assert values["x"]["grad"] == {"kind": "table", "rows": [["2", "4"], ["6", "8"]]}
    assert x.grad is None


def test_two_layer_net_is_a_dozen_nodes_with_shapes():
    loss, params = two_layer_net_loss(batch=100)
    page = mg.to_html(loss)
    data = page_data(page)
    assert 10 <= len(data["nodes"]) <= 14
    assert sorted(n["op"] for n in data["nodes"].values() if n["kind"] == "op") == [
        "Add", "Add", "CrossEntropy", "MatMul", "MatMul", "ReLU"]
    assert "(100, 784)" in page and "(100, 50)" in page and "(784, 50)" in page
    w1 = next(v for v in data["values"].values() if v["name"] == "W1")
    assert w1["data"]["kind"] == "large" and w1["grad"]["kind"] == "large"
    heat = w1["grad"]["heat"]
    assert (heat["rows"], heat["cols"]) == (48, 50)
    assert len(heat["cells"]) == 2 * 48 * 50
    assert all(p.grad is None for p in params.values())


def test_a_ten_thousand_op_chain_folds():
    y, _ = chain(10_000)
    page = mg.to_html(y)
    data = page_data(page)
    assert data["folded"] is True and data["opCount"] == 10_000
    folds = [n for n in data["nodes"].values() if n["kind"] == "fold"]
    assert len(folds) == 1 and folds[0]["count"] == 9_996 and folds[0]["ops"] == [["Add", 9996]]
    assert len(data["nodes"]) < 20
    assert len(page) < 200_000
    backward = [s["node"] for s in data["steps"] if s["pass"] == "backward"]
    assert len(backward) == 1 + 5  # the seed, two ops, the fold (once), two ops


def test_summaries():
    assert summary(np.float32(2.2)) == {"kind": "scalar", "text": "2.2"}
    assert summary(np.array([[1, 2]])) == {"kind": "table", "rows": [["1", "2"]]}
    assert summary(np.zeros((0, 3))) == {"kind": "empty"}
    big = np.arange(1000.0).reshape(10, 100)
    s = summary(big)
    assert (s["min"], s["mean"], s["max"]) == ("0", "499.5", "999")
    assert (s["heat"]["rows"], s["heat"]["cols"]) == (10, 64)
    cells = bytes.fromhex(s["heat"]["cells"])
    assert cells[0] == 0 and cells[-1] == 255
    with_nan = summary(np.array([1.0, np.nan, np.inf] * 30))
    assert with_nan["nonfinite"] == 60 and with_nan["min"] == with_nan["max"] == "1"


def _functions(cls=Function):
    for sub in cls.__subclasses__():
        yield sub
        yield from _functions(sub)


def test_every_op_has_a_one_line_rule():
    ops = [f for f in _functions() if f.__module__.startswith(("minigrad.", "minigrad_nn."))]
    assert len(ops) > 30
    for op in ops:
        rule = rule_of(op)
        assert rule and "\n" not in rule, op
    assert rule_of(mg.Tensor(1.0, requires_grad=True).__mul__(2).grad_fn) == RULES["Mul"]


def test_a_new_op_without_a_rule_shows_its_docstring():
    class Twice(Function):
        """z = 2x.
        dz/dx = 2.

        More text that the page does not show."""

        def forward(self, x):
            return 2 * x

        def backward(self, grad):
            return (2 * grad,)

    class Bare(Function):
        def forward(self, x):
            return x

        def backward(self, grad):
            return (grad,)

    assert rule_of(Twice) == "z = 2x. dz/dx = 2."
    assert rule_of(Bare) == "Bare has no documented derivative"
    x = mg.tensor(1.0, requires_grad=True)
    data = page_data(mg.to_html(Twice.apply(x)))
    op = next(n for n in data["nodes"].values() if n["kind"] == "op")
    assert op["rule"] == "z = 2x. dz/dx = 2."


def test_to_html_writes_its_file_and_checks_its_input(tmp_path):
    price, _ = apple_graph()
    path = tmp_path / "apple.html"
    page = mg.to_html(price, path, title="The apple example")
    assert path.read_text(encoding="utf-8") == page
    assert "<title>The apple example</title>" in page
    with pytest.raises(TypeError, match="Tensor"):
        mg.to_html([1, 2])
    with pytest.raises(FileNotFoundError, match="missing"):
        mg.to_html(price, tmp_path / "missing" / "apple.html")


def test_the_tutorials_one_command_writes_the_apple_page(tmp_path):
    root = Path(__file__).resolve().parent.parent
    for doc in ("tutorial.md", "ko/tutorial.md"):
        text = (root / "docs" / doc).read_text(encoding="utf-8")
        command = re.search(r"^python -c \"(import minigrad as mg;.*)\"$", text, re.MULTILINE)
        assert command, f"docs/{doc} lost its one-command page"
        env = {**os.environ, "PYTHONPATH": str(root)}
        subprocess.run([sys.executable, "-c", command.group(1)], cwd=tmp_path, env=env,
                       check=True, timeout=120)
        data = page_data((tmp_path / "apple.html").read_text(encoding="utf-8"))
        grads = {v["name"]: v["gradShort"] for v in data["values"].values() if v["name"]}
        assert grads == {"apple": "2.2", "apple_num": "110", "tax": "200"}
        (tmp_path / "apple.html").unlink()


def test_minigrad_nn_two_layer_net_step_is_a_dozen_nodes():
    import minigrad_nn as nn
    from minigrad_nn.models import TwoLayerNet

    model = TwoLayerNet()
    for name, p in model.named_parameters():
        p.name = name
    x = np.random.default_rng(0).random((100, 784), dtype=np.float32)
    loss = nn.CrossEntropyLoss()(model(x), np.arange(100) % 10)
    data = page_data(mg.to_html(loss))
    assert 10 <= len(data["nodes"]) <= 14
    names = {v["name"] for v in data["values"].values()}
    assert {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"} <= names
    assert all(v["gradShort"] == v["short"] for v in data["values"].values()
               if v["name"] and v["name"].startswith("fc"))  # a gradient of each one's shape
    assert all(p.grad is None for p in model.parameters())
