"""Pictures of the computational graph: Graphviz DOT and Mermaid text, and SVG via `dot`.

Leaves are boxes, ops are ellipses, constants are plain text; arrows run forward (inputs to op).
Labels carry the op name, the shape (the value for one-element tensors) and, after a backward,
the gradient that a tensor holds."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .tensor import Tensor


@dataclass
class _Node:
    key: str
    kind: str  # "leaf", "op" or "constant"
    lines: list[str] = field(default_factory=list)


def _describe(value: Any) -> str:
    array = np.asarray(value)
    if array.size == 1:
        return f"{array.item():.6g}"
    return f"shape {array.shape}"


def _tensor_lines(t: Tensor) -> list[str]:
    lines = [_describe(t.data) if t.size == 1 else f"shape {t.shape}"]
    if t.grad is not None:
        lines.append(f"grad {_describe(t.grad.data)}")
    return lines


def _collect(root: Tensor) -> tuple[list[_Node], list[tuple[str, str]]]:
    """Nodes and forward edges of the graph that produced `root` (iterative, no recursion)."""
    nodes: dict[int, _Node] = {}
    edges: list[tuple[str, str]] = []
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in nodes:
            continue
        key = f"n{len(nodes)}"
        fn = t._creator
        if fn is None:
            nodes[id(t)] = _Node(key, "leaf", [t.name or "leaf", *_tensor_lines(t)])
            continue
        title = fn.name if t.name is None else f"{t.name} = {fn.name}"
        nodes[id(t)] = _Node(key, "op", [title, *_tensor_lines(t)])
        for position, x in enumerate(fn.inputs):
            if isinstance(x, Tensor):
                stack.append(x)
                edges.append((f"@{id(x)}", key))
            else:
                const = _Node(f"{key}c{position}", "constant", [_describe(x)])
                nodes[id(const)] = const
                edges.append((const.key, key))
    keys = {f"@{i}": n.key for i, n in nodes.items()}
    edges = [(keys.get(a, a), b) for a, b in reversed(edges)]
    return list(nodes.values())[::-1], edges


def to_dot(t: Tensor) -> str:
    """Graphviz DOT text of the graph that produced `t` (render with `dot -Tsvg`)."""
    nodes, edges = _collect(t)
    shapes = {"leaf": "box", "op": "ellipse", "constant": "plaintext"}
    out = ["digraph minigrad {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for node in nodes:
        label = "\\n".join(line.replace('"', '\\"') for line in node.lines)
        out.append(f'  {node.key} [label="{label}", shape={shapes[node.kind]}];')
    out += [f"  {a} -> {b};" for a, b in edges]
    out.append("}")
    return "\n".join(out) + "\n"


def to_mermaid(t: Tensor) -> str:
    """The same graph as Mermaid flowchart text (renders in GitHub Markdown)."""
    nodes, edges = _collect(t)
    brackets = {"leaf": ('["', '"]'), "op": ('(["', '"])'), "constant": ('>"', '"]')}
    out = ["flowchart LR"]
    for node in nodes:
        opening, closing = brackets[node.kind]
        label = "<br/>".join(line.replace('"', "#quot;") for line in node.lines)
        out.append(f"    {node.key}{opening}{label}{closing}")
    out += [f"    {a} --> {b}" for a, b in edges]
    return "\n".join(out) + "\n"


def to_svg(t: Tensor, path: str | Path) -> Path:
    """Render the graph of `t` to an SVG file with Graphviz's `dot` program."""
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            "to_svg needs the Graphviz `dot` program, which was not found on PATH: install "
            "Graphviz (apt-get install graphviz, brew install graphviz or conda install "
            "graphviz), or use mg.to_dot(t) / mg.to_mermaid(t) for text"
        )
    path = Path(path)
    svg = subprocess.run(
        [dot, "-Tsvg"], input=to_dot(t), capture_output=True, text=True, check=True
    ).stdout
    path.write_text(svg, encoding="utf-8")
    return path
