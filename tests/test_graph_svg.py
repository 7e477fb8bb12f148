"""minigrad's own graph pictures: the layered layout, `mg.to_svg` without Graphviz, folding big
graphs, and the backward order the pictures and pages show."""

from __future__ import annotations

import itertools
import os
import stat
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import minigrad as mg
from minigrad.graph.fold import fold
from minigrad.graph.layout import _closest_spaced, assign_layers, layered_layout
from minigrad.graph.svg import lay_out, stored_grads
from minigrad.graph.walk import backward_order, collect, op_depths

SVG = "{http://www.w3.org/2000/svg}"


def apple_graph():
    apple = mg.Tensor(100.0, requires_grad=True, name="apple")
    apple_num = mg.Tensor(2.0, requires_grad=True, name="apple_num")
    tax = mg.Tensor(1.1, requires_grad=True, name="tax")
    price = apple * apple_num * tax
    price.name = "price"
    return price, (apple, apple_num, tax)


def two_layer_net_loss(batch=100, seed=0):
    from minigrad_nn.functional import cross_entropy

    rng = np.random.default_rng(seed)
    x = rng.random((batch, 784), dtype=np.float32)
    t = rng.integers(0, 10, batch)
    params = {
        "W1": mg.tensor(0.01 * rng.standard_normal((784, 50)), dtype=np.float32),
        "b1": mg.zeros(50),
        "W2": mg.tensor(0.01 * rng.standard_normal((50, 10)), dtype=np.float32),
        "b2": mg.zeros(10),
    }
    for name, p in params.items():
        p.requires_grad_()
        p.name = name
    p = params
    loss = cross_entropy((x @ p["W1"] + p["b1"]).relu() @ p["W2"] + p["b2"], t)
    loss.name = "loss"
    return loss, params


def sigmoid_graph():
    x = mg.tensor(0.5, requires_grad=True)
    x.name = "x"
    return 1 / (1 + mg.exp(-x)), x


def branchy_graph():
    """A tensor used several times, a constant, a reduction and shared intermediate results."""
    x = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = mg.tensor(np.ones((3, 2)), requires_grad=True)
    h = (x @ w).tanh()
    y = (h * h + h.exp() - x.sum()).mean() * 2.0
    return y, (x, w)


def random_graph(seed, n_ops=30):
    """A random DAG of binary and unary ops over a few leaves."""
    rng = np.random.default_rng(seed)
    pool = [mg.tensor(rng.standard_normal(3), requires_grad=True) for _ in range(4)]
    for _ in range(n_ops):
        a, b = (pool[i] for i in rng.integers(0, len(pool), 2))
        kind = rng.integers(0, 4)
        pool.append([a + b, a * b, a.tanh(), a - 0.5][kind])
    return sum(pool[-6:]).sum()


GRAPHS = {
    "apple": lambda: apple_graph()[0],
    "two_layer_net": lambda: two_layer_net_loss(batch=5)[0],
    "sigmoid": lambda: sigmoid_graph()[0],
    "branchy": lambda: branchy_graph()[0],
    **{f"random{s}": (lambda s=s: random_graph(s)) for s in range(4)},
}


def boxes(drawing):
    lay = drawing.layout
    return [(lay.x[i] - w / 2, lay.y[i] - h / 2, lay.x[i] + w / 2, lay.y[i] + h / 2)
            for i, (w, h) in enumerate(drawing.sizes)]


def overlapping(box_list):
    return [(a, b) for a, b in itertools.combinations(range(len(box_list)), 2)
            if box_list[a][0] < box_list[b][2] and box_list[b][0] < box_list[a][2]
            and box_list[a][1] < box_list[b][3] and box_list[b][1] < box_list[a][3]]


# -- the picture -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GRAPHS)
def test_svg_is_well_formed_and_draws_every_node_and_edge(name):
    root = GRAPHS[name]()
    graph = collect(root)
    svg = mg.to_svg(root)
    tree = ET.fromstring(svg)  # well-formed XML, or this raises
    assert tree.tag == f"{SVG}svg"
    nodes = [g for g in tree.iter(f"{SVG}g") if "node" in g.get("class", "").split()]
    edges = [p for p in tree.iter(f"{SVG}path") if p.get("class") == "edge"]
    assert len(nodes) == len(graph.nodes)
    assert len(edges) == len(graph.edges)
    kinds = sorted(g.get("class").split()[1] for g in nodes)
    assert kinds == sorted(n.kind for n in graph.nodes)
    width, height = float(tree.get("width")), float(tree.get("height"))
    for element in tree.iter():  # everything inside the picture
        for attr in ("x", "cx"):
            if element.get(attr) is not None:
                assert 0 <= float(element.get(attr)) <= width
        for attr in ("y", "cy"):
            if element.get(attr) is not None:
                assert 0 <= float(element.get(attr)) <= height


@pytest.mark.parametrize("name", GRAPHS)
def test_no_two_node_boxes_overlap_and_every_arrow_points_right(name):
    root = GRAPHS[name]()
    graph = collect(root)
    drawing = lay_out(graph, {})
    assert overlapping(boxes(drawing)) == []
    lay = drawing.layout
    for e, route in zip(graph.edges, lay.routes, strict=True):
        assert lay.layer[e.source] < lay.layer[e.target]
        xs = [x for x, _ in route]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)  # left to right, column by column


def test_the_apple_picture_is_the_books():
    price, _ = apple_graph()
    svg = mg.to_svg(price)
    tree = ET.fromstring(svg)
    values = [t.text for t in tree.iter(f"{SVG}text") if t.get("class") == "value"]
    assert sorted(values) == sorted(["100", "2", "200", "1.1", "220"])
    assert [t for t in tree.iter(f"{SVG}text") if t.get("class") == "grad"] == []  # no backward
    labels = [t.text for g in tree.iter(f"{SVG}g") if "node" in g.get("class", "").split()
              for t in g.iter(f"{SVG}text")]
    assert sorted(labels) == sorted(["apple", "apple_num", "tax", "×", "×", "price"])
    assert len(list(tree.iter(f"{SVG}circle"))) == 2  # the multiply nodes are circles

    price.backward()
    tree = ET.fromstring(mg.to_svg(price))
    grads = {t.text for t in tree.iter(f"{SVG}text") if t.get("class") == "grad"}
    assert grads == {"2.2", "110", "200"}  # the leaves' .grad, in red below their arrows
    assert all(t.get("fill") == "#d62728" for t in tree.iter(f"{SVG}text")
               if t.get("class") == "grad")


def test_gradients_below_values_and_retained_ones_shown():
    price, _ = apple_graph()
    apple_price = price.grad_fn.inputs[0]
    apple_price.retain_grad()
    price.backward()
    tree = ET.fromstring(mg.to_svg(price))
    texts = [t for t in tree.iter(f"{SVG}text") if t.get("class") in ("value", "grad")]
    by_position = {}
    for t in texts:
        by_position.setdefault(t.get("x"), {})[t.get("class")] = (t.text, float(t.get("y")))
    pairs = {v["value"][0]: v["grad"][0] for v in by_position.values() if "grad" in v}
    assert pairs == {"100": "2.2", "2": "110", "1.1": "200", "200": "1.1"}
    for v in by_position.values():
        if "grad" in v:
            assert v["grad"][1] > v["value"][1]  # below the arrow's value


def test_same_picture_with_and_without_graphviz_on_the_path(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    dot = fake / "dot"
    dot.write_text("#!/bin/sh\necho '<svg>from graphviz</svg>'\n")
    dot.chmod(dot.stat().st_mode | stat.S_IEXEC)
    root = two_layer_net_loss(batch=3)[0]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    without = mg.to_svg(root)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ.get('PATH', '')}")
    assert mg.to_svg(root) == without
    assert "graphviz" not in without


def test_to_svg_writes_the_file_atomically_and_returns_the_text(tmp_path):
    price, _ = apple_graph()
    path = tmp_path / "apple.svg"
    path.write_text("old picture")
    svg = mg.to_svg(price, path)
    assert path.read_text(encoding="utf-8") == svg
    assert [p.name for p in tmp_path.iterdir()] == ["apple.svg"]  # no temporary file left
    umask = os.umask(0o022)
    os.umask(umask)
    fresh = tmp_path / "fresh.svg"
    mg.to_svg(price, fresh)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask  # the usual permissions
    path.chmod(0o600)
    mg.to_svg(price, path)
    assert path.stat().st_mode & 0o777 == 0o600  # a replaced file keeps its own
    with pytest.raises(FileNotFoundError, match="no_such_folder"):
        mg.to_svg(price, tmp_path / "no_such_folder" / "apple.svg")
    with pytest.raises(TypeError, match="Tensor"):
        mg.to_svg(np.ones(3))


def test_a_leaf_alone_and_a_graph_with_a_constant():
    leaf = mg.tensor([1.0, 2.0], requires_grad=True)
    tree = ET.fromstring(mg.to_svg(leaf))
    assert len([g for g in tree.iter(f"{SVG}g") if "node" in g.get("class", "").split()]) == 1
    x = mg.tensor(3.0, requires_grad=True)
    tree = ET.fromstring(mg.to_svg(x * 2))
    constants = [g for g in tree.iter(f"{SVG}g") if g.get("class") == "node constant"]
    assert [t.text for g in constants for t in g.iter(f"{SVG}text")] == ["2"]


# -- the layout --------------------------------------------------------------------------------


def test_layers_put_sources_next_to_their_first_user():
    # 0 -> 2 -> 3 -> 4, and 1 -> 3 (a leaf used late): 1 sits in the column before 3.
    layers = assign_layers(5, [(0, 2), (2, 3), (1, 3), (3, 4)])
    assert layers == [0, 1, 1, 2, 3]
    with pytest.raises(ValueError, match="cycle"):
        assign_layers(2, [(0, 1), (1, 0)])


def test_barycentre_ordering_removes_the_crossings_of_a_crossed_start():
    # Two chains whose sources start crossed: 0 -> 3, 1 -> 2, and 2, 3 -> 4 in argument order.
    layout = layered_layout([(20, 20)] * 5, [(0, 3), (1, 2), (3, 4), (2, 4)])
    ys = layout.y
    assert (ys[0] < ys[1]) == (ys[3] < ys[2])  # the arrows 0->3 and 1->2 do not cross


def test_closest_spaced_is_the_least_squares_solution():
    rng = np.random.default_rng(1)
    for _ in range(50):
        n = int(rng.integers(1, 7))
        wanted = list(rng.normal(0, 30, n))
        gaps = [0.0, *rng.uniform(5, 20, n - 1)]
        mass = list(rng.uniform(0.5, 4, n))
        ys = _closest_spaced(wanted, gaps, mass)
        assert all(ys[i] >= ys[i - 1] + gaps[i] - 1e-9 for i in range(1, n))
        cost = sum(m * (y - w) ** 2 for y, w, m in zip(ys, wanted, mass, strict=True))
        for _ in range(20):  # no feasible nudge does better
            other = [y + d for y, d in zip(ys, rng.normal(0, 1, n), strict=True)]
            if all(other[i] >= other[i - 1] + gaps[i] for i in range(1, n)):
                assert cost <= sum(m * (y - w) ** 2
                                   for y, w, m in zip(other, wanted, mass, strict=True)) + 1e-9


def test_the_main_chain_is_drawn_level():
    root, _ = sigmoid_graph()  # x -> neg -> exp -> + -> ÷ -> output, constants hanging off
    graph = collect(root)
    drawing = lay_out(graph, {})
    chain = [n.index for n in graph.nodes if n.kind in ("op", "output") or n.label == "x"]
    ys = [drawing.layout.y[i] for i in chain]
    assert max(ys) - min(ys) < 1.5, ys


# -- big graphs --------------------------------------------------------------------------------


def chain(n, block=lambda y: y + 1.0):
    y = x = mg.tensor([1.0, 2.0], requires_grad=True)
    for _ in range(n):
        y = block(y)
    return y, x


def test_a_chain_of_ten_thousand_ops_folds_into_a_few_nodes():
    y, _ = chain(10_000)
    graph = collect(y)
    assert len(graph.op_nodes()) == 10_000
    folded = fold(graph)
    folds = [n for n in folded.nodes if n.kind == "fold"]
    assert len(folds) == 1 and folds[0].label == "Add ×9,996"
    assert len(folds[0].ops) == 9_996
    assert len(folded.op_nodes()) == 4  # two drawn at either end of the fold
    tree = ET.fromstring(mg.to_svg(y))
    assert len([g for g in tree.iter(f"{SVG}g") if "node" in g.get("class", "").split()]) == len(
        folded.nodes)
    assert overlapping(boxes(lay_out(folded, {}))) == []


def test_a_repeated_block_folds_with_its_pattern():
    weight = mg.tensor([0.5, 0.5], requires_grad=True)
    y, _ = chain(600, lambda y: (y * weight).tanh())  # a block of two ops, 600 times
    folded = fold(collect(y))
    folds = [n for n in folded.nodes if n.kind == "fold"]
    assert [f.label for f in folds] == ["(Mul → Tanh) ×598"]
    leaves = [n for n in folded.nodes if n.kind == "leaf"]
    assert len(leaves) == 2  # the weight, shared by every block, stays drawn
    assert len(folded.op_nodes()) + len(folds[0].ops) == 1200


def test_an_irregular_big_graph_folds_into_boxes_of_even_size():
    root = random_graph(0, n_ops=400)
    graph = collect(root)
    folded = fold(graph, limit=40)
    assert len(folded.op_nodes()) + sum(len(n.ops) for n in folded.nodes) == len(
        graph.op_nodes())
    assert len(folded.op_nodes()) + sum(n.kind == "fold" for n in folded.nodes) <= 80
    assert overlapping(boxes(lay_out(folded, {}))) == []
    small = collect(apple_graph()[0])
    assert fold(small) is small  # small graphs are drawn whole


# -- the backward order ------------------------------------------------------------------------


def engine_order(root):
    """The ops in the order a real backward runs them, seen by hooks on their outputs (a hook
    on a tensor runs as the engine takes it, just before its op's backward)."""
    seen, order, stack = set(), [], [root]
    while stack:
        t = stack.pop()
        if id(t) in seen or t.grad_fn is None:
            continue
        seen.add(id(t))
        t.register_hook(lambda g, fn=t.grad_fn: order.append(fn))
        stack.extend(x for x in t.grad_fn.inputs if isinstance(x, mg.Tensor))
    root.backward(mg.ones_like(root) if root.size != 1 else None)
    return order


@pytest.mark.parametrize("name", GRAPHS)
def test_backward_order_is_the_order_the_engine_calls_the_ops(name):
    root = GRAPHS[name]()
    predicted = backward_order(root)
    graph = collect(root)
    assert len(predicted) == len(graph.op_nodes())
    assert graph.op_depths() == op_depths(root)
    assert backward_order(root, graph.op_depths()) == predicted
    assert [id(f) for f in engine_order(root)] == [id(f) for f in predicted]


def test_backward_order_of_the_apple_example():
    price, _ = apple_graph()
    first, second = backward_order(price)
    assert first is price.grad_fn and second is price.grad_fn.inputs[0].grad_fn


def test_stored_gradients_are_the_tensors_own():
    price, _ = apple_graph()
    price.backward()
    graph = collect(price)
    grads = stored_grads(graph)
    by_name = {graph.values[v].name: g.item() for v, g in grads.items()}
    assert by_name == pytest.approx({"apple": 2.2, "apple_num": 110, "tax": 200})
