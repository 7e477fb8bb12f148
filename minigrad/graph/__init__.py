"""Pictures of the computational graph, with no external program.

* `to_svg(t)`: the book's figures: ops as circles, leaves as boxes, each tensor an arrow with its
  value above and its gradient (after a backward) below in red, laid out by `layout.py`.
* `to_html(t)`: one self-contained page that steps through the forward and backward passes.
* `to_dot(t)`, `to_mermaid(t)`: the graph as Graphviz or Mermaid text.

Modules: `walk` (the graph and the order of the passes), `fold` (big graphs drawn small),
`layout` (the layered layout), `svg`, `html`, `text`, `rules` (each op's derivative in a line).
"""

from __future__ import annotations

from .html import to_html
from .svg import to_svg
from .text import to_dot, to_mermaid

__all__ = ["to_dot", "to_html", "to_mermaid", "to_svg"]
