"""SVG pictures of computational graphs, drawn as the book draws them, with no external program.

Ops are circles (the book's ×, +, exp ...), leaves are labelled boxes, constants plain numbers.
Every tensor is an arrow from the node that made it to each op that uses it: its value is
written above the arrow and, once a backward pass has given it one, its gradient below it in red.
Large graphs are folded first (see `fold.py`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

from ..tensor import Tensor
from .files import write_atomically
from .fold import fold
from .layout import Layout, layered_layout
from .walk import Edge, Graph, Node, collect, short, short_text

FONT = 13.0  # px
LINE = 15.0  # px between a label's baseline and the arrow, below it
FONT_FAMILY = "Helvetica, Arial, sans-serif"
GRAD_COLOUR = "#d62728"

# Approximate advance widths in em for a Helvetica-like font: enough to size boxes and gaps.
_NARROW, _WIDE = set("ijlI.,:;'|!()[]1tf "), set("mwMW@%")


def text_width(text: str, size: float = FONT) -> float:
    em = 0.0
    for ch in text:
        if ch in _NARROW:
            em += 0.32
        elif ch in _WIDE:
            em += 0.86
        elif ch.isupper() or ord(ch) > 0x2000:
            em += 0.68
        else:
            em += 0.56
    return em * size


@dataclass
class Drawing:
    """A graph laid out: what `render` draws and the HTML page reuses."""

    graph: Graph
    layout: Layout
    sizes: list[tuple[float, float]]
    grads: dict[int, np.ndarray]  # Value index -> its gradient, where one is known


def node_size(node: Node) -> tuple[float, float]:
    label = text_width(node.label)
    if node.kind == "op":  # a circle for the book's short symbols, else a pill
        return (34.0, 34.0) if label <= 22 else (label + 22, 34.0)
    if node.kind == "leaf":
        return label + 18, 26.0
    if node.kind == "fold":
        return label + 22, 32.0
    return label + 6, 20.0  # a constant or the output's name: plain text


def value_text(data: np.ndarray | None) -> str:
    return "" if data is None else short_text(data)


def lay_out(graph: Graph, grads: dict[int, np.ndarray]) -> Drawing:
    sizes = [node_size(n) for n in graph.nodes]
    # The room each node's outgoing arrows need for their labels (value and gradient).
    gaps = [0.0] * len(graph.nodes)
    for e in graph.edges:
        gaps[e.source] = max(gaps[e.source], _label_width(graph, grads, e) + 24)
    # The chain of ops is drawn straight; leaves and constants hang off it.
    main = ("op", "fold")
    weights = [4.0 if graph.nodes[e.source].kind in main else 1.0 for e in graph.edges]
    layout = layered_layout(sizes, [(e.source, e.target) for e in graph.edges], gaps, weights)
    return Drawing(graph, layout, sizes, grads)


def _attr(text: str) -> str:
    return escape(text, {'"': "&quot;"})


def _boundary(node: Node, size: tuple[float, float], cx: float, cy: float,
              towards: tuple[float, float]) -> tuple[float, float]:
    """Where an arrow between the node's centre and `towards` meets the node's outline."""
    dx, dy = towards[0] - cx, towards[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    w, h = size
    if node.kind == "op" and w == h:  # a circle
        r = w / 2
        d = math.hypot(dx, dy)
        return cx + r * dx / d, cy + r * dy / d
    # A box: scale the direction until it leaves the box.
    sx = (w / 2) / abs(dx) if dx else math.inf
    sy = (h / 2) / abs(dy) if dy else math.inf
    s = min(sx, sy)
    return cx + dx * s, cy + dy * s


def _curve(points: list[tuple[float, float]]) -> str:
    """A smooth path through the points, horizontal at each one (like Graphviz's splines)."""
    (x0, y0), (x1, y1), rest = points[0], points[1], points[2:]
    parts = [f"M{x0:.1f},{y0:.1f} L{x1:.1f},{y1:.1f}"]  # the level start, under the labels
    x0, y0 = x1, y1
    for x1, y1 in rest:
        mid = (x1 - x0) / 2
        parts.append(f"C{x0 + mid:.1f},{y0:.1f} {x1 - mid:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)


def _label_width(graph: Graph, grads: dict[int, np.ndarray], edge: Edge) -> float:
    """Room for a tensor's labels: its value above the arrow and its gradient below (none for
    a constant, whose node shows its value)."""
    if graph.nodes[edge.source].kind == "constant":
        return 0.0
    return max(text_width(short(graph.values[edge.value])),
               text_width(value_text(grads.get(edge.value))))


def edge_paths(drawing: Drawing) -> list[list[tuple[float, float]]]:
    """Each edge's points. An arrow leaves its node on the right and runs level for as long as
    its labels are wide (so that they never touch it), then bends towards its target; parallel
    edges (`x * x`) are spread apart a little so that both arrows show."""
    g, lay = drawing.graph, drawing.layout
    twins: dict[tuple[int, int], int] = {}
    paths = []
    for e, route in zip(g.edges, lay.routes, strict=True):
        k = twins.get((e.source, e.target), 0)
        twins[(e.source, e.target)] = k + 1
        shift = 0.0 if k == 0 else (6.0 * ((k + 1) // 2) * (1 if k % 2 else -1))
        route = [(x, y + shift) for x, y in route]
        a, b = g.nodes[e.source], g.nodes[e.target]
        start = (lay.x[a.index] + drawing.sizes[a.index][0] / 2, route[0][1])
        run = min(_label_width(g, drawing.grads, e) + 12, (route[1][0] - start[0]) * 0.6)
        level = (start[0] + run, start[1])
        end = _boundary(b, drawing.sizes[b.index], lay.x[b.index], lay.y[b.index], route[-2])
        paths.append([start, level, *route[1:-1], end])
    return paths


def label_anchors(drawing: Drawing) -> dict[tuple[int, int], tuple[float, float]]:
    """Where each (source node, value) pair has its labels: on the level start of its arrows,
    just right of the source (a tensor used by several ops is labelled once)."""
    g, lay = drawing.graph, drawing.layout
    anchors: dict[tuple[int, int], tuple[float, float]] = {}
    for e in g.edges:
        if (e.source, e.value) not in anchors and g.nodes[e.source].kind != "constant":
            a = g.nodes[e.source]
            left = lay.x[a.index] + drawing.sizes[a.index][0] / 2
            anchors[(e.source, e.value)] = (left + 6 + _label_width(g, drawing.grads, e) / 2,
                                            lay.y[a.index])
    return anchors


def render(drawing: Drawing, interactive: bool = False) -> str:
    """The SVG text. `interactive` adds the ids and data attributes the HTML page uses."""
    g, lay = drawing.graph, drawing.layout
    width, height = math.ceil(lay.width), math.ceil(lay.height)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="minigrad-graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT_FAMILY}" '
        f'font-size="{FONT:g}">',
        "<defs><marker id=\"mg-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" "
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
        '<g class="edges" fill="none" stroke="#444" stroke-width="1.3">',
    ]
    for i, (e, points) in enumerate(zip(g.edges, edge_paths(drawing), strict=True)):
        data = f' id="e{i}" data-value="{e.value}"' if interactive else ""
        out.append(f'<path class="edge"{data} d="{_curve(points)}" marker-end="url(#mg-arrow)"/>')
    out.append("</g>")
    out.append('<g class="labels" text-anchor="middle" stroke="none">')
    for (_, v), (x, y) in label_anchors(drawing).items():
        data = f' data-value="{v}"' if interactive else ""
        text = short(g.values[v])
        out.append(f'<text class="value"{data} x="{x:.1f}" y="{y - 5:.1f}" fill="#222">'
                   f"{escape(text)}</text>")
        grad = drawing.grads.get(v)
        if grad is not None:
            out.append(f'<text class="grad"{data} x="{x:.1f}" y="{y + LINE:.1f}" '
                       f'fill="{GRAD_COLOUR}">{escape(value_text(grad))}</text>')
    out.append("</g>")
    out.append('<g class="nodes" text-anchor="middle">')
    for node in g.nodes:
        out.append(_node_svg(node, drawing, interactive))
    out.append("</g></svg>")
    return "\n".join(out) + "\n"


def _node_svg(node: Node, drawing: Drawing, interactive: bool) -> str:
    x, y = drawing.layout.x[node.index], drawing.layout.y[node.index]
    w, h = drawing.sizes[node.index]
    data = f' id="n{node.index}" data-node="{node.index}"' if interactive else ""
    title = escape(_title(node, drawing.graph))
    label = escape(node.label)
    base = y + FONT * 0.35  # a baseline that centres the text vertically
    if node.kind == "op" and w == h:
        shape = (f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{w / 2:.1f}" fill="white" '
                 'stroke="#333" stroke-width="1.5"/>')
    elif node.kind == "op":
        shape = (f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
                 f'rx="{h / 2:.1f}" fill="white" stroke="#333" stroke-width="1.5"/>')
    elif node.kind == "leaf":
        shape = (f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
                 'rx="4" fill="#eef4fb" stroke="#4a78a8" stroke-width="1.2"/>')
    elif node.kind == "fold":
        shape = (f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
                 'rx="10" fill="#f6f6f6" stroke="#333" stroke-width="1.3" '
                 'stroke-dasharray="5 3"/>')
    else:  # constant, output: text only, with an invisible box to click
        shape = (f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h:.1f}" '
                 'fill="white" fill-opacity="0"/>')
    colour = "#555" if node.kind == "constant" else "#111"
    return (f'<g class="node {node.kind}"{data}><title>{title}</title>{shape}'
            f'<text x="{x:.1f}" y="{base:.1f}" fill="{colour}">{label}</text></g>')


def _title(node: Node, graph: Graph) -> str:
    """The tooltip: what the node is and the value it holds."""
    if node.kind == "op":
        value = graph.values[node.value]
        name = f" → {value.name}" if value.name else ""
        return f"{node.fn.name}{name}: {short(value)}"
    if node.kind == "fold":
        return node.label
    if node.value is None:
        return node.label
    value = graph.values[node.value]
    return f"{node.label}: {short(value)} ({value.data.dtype})"


def stored_grads(graph: Graph) -> dict[int, Any]:
    """The gradients the tensors hold in `.grad` (leaves, and results that retain_grad)."""
    grads = {}
    for v in graph.values:
        if v.tensor is not None and v.tensor.grad is not None:
            grads[v.index] = np.asarray(v.tensor.grad.data)
    return grads


def to_svg(t: Tensor, path: str | os.PathLike[str] | None = None) -> str:
    """An SVG picture of the graph that produced `t`, as the book draws it; also written to
    `path` if given. Needs no Graphviz: minigrad lays the graph out itself.

    Values are written above the arrows; the gradients that tensors hold after a backward
    (`.grad` of the leaves, and of results that `retain_grad()`) below them in red. A graph of
    many ops folds its repeated chains of ops into one box each."""
    if not isinstance(t, Tensor):
        raise TypeError(f"to_svg draws the graph of a minigrad Tensor, not {type(t).__name__}")
    graph = fold(collect(t))
    svg = render(lay_out(graph, stored_grads(graph)))
    if path is not None:
        write_atomically(path, svg)
    return svg
