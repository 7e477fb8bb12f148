"""`to_html`: one self-contained page that shows backpropagation happen, step by step.

The page (`page.html` beside this file) holds everything inline: the SVG picture from `svg.py`,
the data as JSON, the script and style from `page.js` and `page.css`. No network, no CDN: it
works opened straight from disk. Its steps:

* step 0: the inputs are given (leaves and constants show their values);
* the forward pass: one op per step, column by column, each revealing its result;
* the backward pass: the output's gradient (ones, the book's ∂L/∂L = 1), then one op per step
  in the order the engine runs them (`walk.backward_order`), each revealing the gradients that
  are complete once it has run.

The gradients come from a backward pass that `to_html` runs itself with `mg.grad` on the intact
graph (it leaves every `.grad` as it was). When the graph was freed by an earlier `backward()`,
the page shows the gradients that the tensors kept in `.grad` instead, and says so.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter
from importlib import resources
from typing import Any

import numpy as np

from ..tensor import Tensor
from .files import write_atomically
from .fold import fold
from .rules import rule_of
from .svg import lay_out, render, stored_grads
from .walk import Graph, Node, backward_order, collect, short_text

TABLE_MAX = 64  # arrays with at most this many elements (and 2 axes) are shown in full
HEAT_ROWS, HEAT_COLS = 48, 64  # the largest heat map, in cells


def to_html(t: Tensor, path: str | os.PathLike[str] | None = None, title: str | None = None) -> str:
    """A self-contained HTML page that steps through the forward and backward passes of the
    graph that produced `t`; also written to `path` (atomically) if given.

    Buttons and keys step the forward pass, then the backward pass in the engine's order, or
    play them; clicking a node or a value shows its shape, dtype, values, gradient and, for an
    op, its local derivative. The gradients are those of a backward pass from a gradient of
    ones, computed now without touching `.grad`; if the graph was already freed by
    `backward()`, those kept in `.grad` are shown."""
    if not isinstance(t, Tensor):
        raise TypeError(f"to_html draws the graph of a minigrad Tensor, not {type(t).__name__}")
    full = collect(t)
    grads, computed = _gradients(t, full)
    graph = fold(full)
    drawing = lay_out(graph, grads)
    data = _page_data(t, full, graph, drawing.layout, grads, computed)
    parts = {
        "title": html.escape(title or _default_title(t)),
        "css": _asset("page.css"),
        "js": _asset("page.js"),
        "svg": render(drawing, interactive=True),
        "data": json.dumps(data, separators=(",", ":")).replace("</", "<\\/"),  # stays in <script>
    }
    page = re.sub(r"@@(\w+)@@", lambda m: parts[m.group(1)], _asset("page.html").split("\n", 1)[1])
    if path is not None:
        write_atomically(path, page)
    return page


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _default_title(t: Tensor) -> str:
    return f"minigrad: the graph of {t.name}" if t.name else "minigrad: a computational graph"


def _gradients(root: Tensor, graph: Graph) -> tuple[dict[int, np.ndarray], bool]:
    """Every tensor's gradient from a backward pass run now, or (if the graph was freed) the
    gradients kept in `.grad`; and whether they were computed."""
    wanted = [v for v in graph.values if v.tensor is not None and v.requires_grad]
    if root.grad_fn is None or not root.requires_grad:
        return stored_grads(graph), False
    from ..autograd import grad  # the engine's public mg.grad

    seed = None if root.size == 1 else np.ones(root.shape, root.dtype)
    try:
        results = grad(root, [v.tensor for v in wanted], grad_outputs=seed, retain_graph=True,
                       allow_unused=True)
    except RuntimeError:  # freed by an earlier backward, or an array modified in place
        return stored_grads(graph), False
    return {v.index: np.asarray(g.data) for v, g in zip(wanted, results, strict=True)
            if g is not None}, True


def summary(array: Any) -> dict[str, Any]:
    """How the panel shows an array: a scalar in full, a small array as a table, a large one
    as its statistics and a heat map (cells scaled 0-255 between its min and max)."""
    a = np.asarray(array)
    if a.size == 1:
        return {"kind": "scalar", "text": str(a.reshape(())[()])}
    if a.size == 0:
        return {"kind": "empty"}
    if a.size <= TABLE_MAX and a.ndim <= 2:
        rows = a.reshape(1, -1) if a.ndim == 1 else a
        return {"kind": "table", "rows": [[_cell(x) for x in row] for row in rows]}
    numbers = a.astype(np.float64)
    finite = numbers[np.isfinite(numbers)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    grid = _downsample(np.nan_to_num(numbers, nan=low, posinf=high, neginf=low)
                       .reshape(-1, a.shape[-1]))
    scaled = np.zeros(grid.shape) if high == low else (grid - low) / (high - low)
    cells = np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)
    return {
        "kind": "large",
        "min": f"{low:.4g}", "max": f"{high:.4g}",
        "mean": f"{float(finite.mean()):.4g}" if finite.size else "nan",
        "nonfinite": int(a.size - finite.size),
        "heat": {"rows": grid.shape[0], "cols": grid.shape[1], "cells": cells.tobytes().hex()},
    }


def _cell(x: Any) -> str:
    return f"{x:.6g}" if isinstance(x, (float, np.floating)) else str(x)


def _downsample(grid: np.ndarray) -> np.ndarray:
    """Block means down to at most HEAT_ROWS x HEAT_COLS cells."""
    for axis, most in ((0, HEAT_ROWS), (1, HEAT_COLS)):
        if grid.shape[axis] > most:
            edges = np.linspace(0, grid.shape[axis], most + 1).astype(int)[:-1]
            sums = np.add.reduceat(grid, edges, axis=axis)
            counts = np.diff(np.append(edges, grid.shape[axis]))
            grid = sums / (counts[:, None] if axis == 0 else counts[None, :])
    return grid


def _page_data(root: Tensor, full: Graph, graph: Graph, layout: Any,
               grads: dict[int, np.ndarray], computed: bool) -> dict[str, Any]:
    """The steps of both passes and what the panel shows for each node and value."""
    # Which drawn node stands for each op of the full graph (itself, or the fold it is in).
    drawn_of: dict[int, int] = {}
    for node in graph.nodes:
        if node.kind == "op":
            drawn_of[id(node.fn)] = node.index
        elif node.kind == "fold":
            for i in node.ops:
                drawn_of[id(full.nodes[i].fn)] = node.index

    steps: list[dict[str, Any]] = [{"pass": "start", "node": None, "text": _start_text(graph)}]
    forward_step: dict[int, int] = {}  # Value -> the step revealing it
    computing = sorted((n for n in graph.nodes if n.kind in ("op", "fold")),
                       key=lambda n: (layout.layer[n.index], layout.y[n.index]))
    for node in computing:
        steps.append({"pass": "forward", "node": node.index,
                      "text": _forward_text(node, graph, len(steps), len(computing))})
        for e in graph.edges:
            if e.source == node.index:
                forward_step.setdefault(e.value, len(steps) - 1)
    for v in graph.values:
        if v.kind != "result":
            forward_step.setdefault(v.index, 0)

    backward_step: dict[int, int] = {}
    if root.grad_fn is not None and graph.root in grads:
        output = next(n.index for n in graph.nodes if n.kind == "output")
        steps.append({"pass": "backward", "node": output, "text": _seed_text(root, grads,
                                                                             graph, computed)})
        backward_step[graph.root] = len(steps) - 1
    order = backward_order(root, full.op_depths()) if root.grad_fn is not None else []
    step_of_op: dict[int, int] = {}
    for fn in order:
        node = drawn_of[id(fn)]
        if steps[-1]["node"] != node or steps[-1]["pass"] != "backward":
            steps.append({"pass": "backward", "node": node, "text": ""})
        step_of_op[id(fn)] = len(steps) - 1
    # A tensor's gradient is complete (and shown) once every op that used it has run backward.
    for e in full.edges:
        target = full.nodes[e.target]
        if target.kind == "op" and e.value in grads:
            step = step_of_op[id(target.fn)]
            backward_step[e.value] = max(backward_step.get(e.value, 0), step)
    numbered = [k for k, s in enumerate(steps) if s["pass"] == "backward" and not s["text"]]
    for n, k in enumerate(numbered, 1):
        steps[k]["text"] = _backward_text(steps[k]["node"], k, n, len(numbered), graph, grads,
                                          backward_step)

    shown = {e.value for e in graph.edges} | {n.value for n in graph.nodes if n.value is not None}
    values = {}
    for i in sorted(shown):
        v = graph.values[i]
        values[i] = {
            "name": v.name, "kind": v.kind, "shape": list(v.data.shape), "dtype": str(v.data.dtype),
            "data": summary(v.data), "short": short_text(v.data),
            "grad": summary(grads[i]) if i in grads else None,
            "gradShort": short_text(grads[i]) if i in grads else None,
            "requiresGrad": v.requires_grad,
            "fwd": forward_step.get(i, 0), "bwd": backward_step.get(i),
        }
    nodes = {n.index: _node_data(n, graph, full) for n in graph.nodes}
    return {"steps": steps, "values": values, "nodes": nodes, "computed": computed,
            "root": graph.root, "folded": graph.folded_from is not None,
            "opCount": len(full.op_nodes())}


def _name(graph: Graph, value: int) -> str:
    """How the step texts call a value: its name, else what made it."""
    v = graph.values[value]
    if v.name:
        return v.name
    if v.tensor is not None and v.tensor.grad_fn is not None:
        return f"{v.tensor.grad_fn.name}'s output"
    return {"leaf": "a leaf", "constant": "a constant"}.get(v.kind, "a value")


def _start_text(graph: Graph) -> str:
    leaves = [v for v in graph.values if v.kind == "leaf" and v.name]
    given = ", ".join(f"{v.name} = {short_text(v.data)}" for v in leaves[:6])
    return "The inputs are given" + (f": {given}" if given else "") + ". Step forward to compute."


def _inputs(node: Node, graph: Graph) -> list[int]:
    return [e.value for e in graph.edges if e.target == node.index]


def _forward_text(node: Node, graph: Graph, k: int, total: int) -> str:
    head = f"Forward {k}/{total}: "
    if node.kind == "fold":
        return head + f"{len(node.ops):,} ops folded into one box ({node.label})."
    args = ", ".join(short_text(graph.values[v].data) for v in _inputs(node, graph))
    out = graph.values[node.value]
    named = f"{out.name} = " if out.name else ""
    return head + f"{named}{node.fn.name}({args}) = {short_text(out.data)}"


def _seed_text(root: Tensor, grads: dict[int, np.ndarray], graph: Graph, computed: bool) -> str:
    name = root.name or "the output"
    if computed:
        return (f"Backward starts at {name} with its gradient "
                f"{short_text(grads[graph.root])} (∂{name}/∂{name} = 1).")
    return f"Backward starts at {name} with the gradient given to backward()."


def _backward_text(node_index: int, step: int, n: int, total: int, graph: Graph,
                   grads: dict[int, np.ndarray], backward_step: dict[int, int]) -> str:
    """What backward step `step` (the n-th of `total`) does, and which gradients it completes."""
    node = graph.nodes[node_index]
    head = f"Backward {n}/{total}: "
    if node.kind == "fold":
        return head + f"{len(node.ops):,} folded ops run their backward ({node.label})."
    dout = grads.get(node.value)
    incoming = f" with dout = {short_text(dout)}" if dout is not None else ""
    done = [f"{_name(graph, v)}: {short_text(grads[v])}"
            for v in dict.fromkeys(_inputs(node, graph))
            if v in grads and backward_step.get(v) == step]
    sent = (" → gradients complete: " + ", ".join(done)) if done else ""
    return head + f"{node.fn.name}{incoming}: {rule_of(node.fn)}{sent}"


def _node_data(node: Node, graph: Graph, full: Graph) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": node.kind, "label": node.label, "value": node.value}
    if node.kind == "op":
        doc = (type(node.fn).__doc__ or "").strip().splitlines()
        data.update(op=node.fn.name, rule=rule_of(node.fn), doc=doc[0] if doc else "",
                    inputs=_inputs(node, graph))
    elif node.kind == "fold":
        names = Counter(full.nodes[i].fn.name for i in node.ops)
        data.update(count=len(node.ops),
                    ops=[[name, k] for name, k in names.most_common()],
                    inputs=_inputs(node, graph),
                    outputs=sorted({e.value for e in graph.edges if e.source == node.index}))
    return data
