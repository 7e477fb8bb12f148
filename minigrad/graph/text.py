"""The graph as text: Graphviz DOT and Mermaid.

Leaves are boxes, ops are ellipses, constants are plain text; arrows run forward (inputs to op).
Labels carry the op name, the shape (the value for one-element tensors) and, after a backward,
the gradient that a tensor holds."""

from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .walk import Graph, Node, collect, short_text


def _describe(array: np.ndarray) -> str:
    return short_text(array) if array.size == 1 else f"shape {array.shape}"


def _lines(node: Node, graph: Graph) -> list[str]:
    value = graph.values[node.value]
    if node.kind == "constant":
        return [_describe(value.data)]
    if node.kind == "op":
        title = node.fn.name if value.name is None else f"{value.name} = {node.fn.name}"
    else:
        title = value.name or "leaf"
    lines = [title, _describe(value.data)]
    if value.tensor is not None and value.tensor.grad is not None:
        lines.append(f"grad {_describe(np.asarray(value.tensor.grad.data))}")
    return lines


def _text_graph(t: Tensor) -> tuple[list[tuple[str, str, list[str]]], list[tuple[str, str]]]:
    """(key, kind, label lines) per node and (key, key) per edge, the output node left out."""
    graph = collect(t)
    shown = [n for n in graph.nodes if n.kind != "output"]
    nodes = [(f"n{n.index}", n.kind, _lines(n, graph)) for n in shown]
    edges = [(f"n{e.source}", f"n{e.target}") for e in graph.edges
             if graph.nodes[e.target].kind != "output"]
    return nodes, edges


def to_dot(t: Tensor) -> str:
    """Graphviz DOT text of the graph that produced `t` (render with `dot -Tsvg`)."""
    nodes, edges = _text_graph(t)
    shapes = {"leaf": "box", "op": "ellipse", "constant": "plaintext"}
    out = ["digraph minigrad {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for key, kind, lines in nodes:
        label = "\\n".join(line.replace('"', '\\"') for line in lines)
        out.append(f'  {key} [label="{label}", shape={shapes[kind]}];')
    out += [f"  {a} -> {b};" for a, b in edges]
    out.append("}")
    return "\n".join(out) + "\n"


def to_mermaid(t: Tensor) -> str:
    """The same graph as Mermaid flowchart text (renders in GitHub Markdown)."""
    nodes, edges = _text_graph(t)
    brackets = {"leaf": ('["', '"]'), "op": ('(["', '"])'), "constant": ('>"', '"]')}
    out = ["flowchart LR"]
    for key, kind, lines in nodes:
        opening, closing = brackets[kind]
        label = "<br/>".join(line.replace('"', "#quot;") for line in lines)
        out.append(f"    {key}{opening}{label}{closing}")
    out += [f"    {a} --> {b}" for a, b in edges]
    return "\n".join(out) + "\n"
