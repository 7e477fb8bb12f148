"""Graph export as text: DOT and Mermaid (the SVG pictures are tested in test_graph_svg.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import minigrad as mg


def apple_graph():
    """The book's apple example with named leaves: 100 · 2 · 1.1 = 220."""
    apple = mg.Tensor(100.0, requires_grad=True, name="apple")
    apple_num = mg.Tensor(2.0, requires_grad=True, name="apple_num")
    tax = mg.Tensor(1.1, requires_grad=True, name="tax")
    price = apple * apple_num * tax
    return price, (apple, apple_num, tax)


def dot_nodes(dot: str) -> list[str]:
    return re.findall(r"^\s*(n[\dc]+) \[label=", dot, flags=re.MULTILINE)


def dot_edges(dot: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(n[\dc]+) -> (n[\dc]+);", dot, flags=re.MULTILINE)


def test_to_dot_of_the_apple_graph():
    price, _ = apple_graph()
    dot = mg.to_dot(price)
    assert dot.startswith("digraph")
    assert dot.rstrip().endswith("}")
    nodes, edges = dot_nodes(dot), dot_edges(dot)
    assert len(nodes) == 5  # three leaves, two Mul ops
    assert len(set(nodes)) == 5
    assert len(edges) == 4
    assert {a for a, _ in edges} | {b for _, b in edges} == set(nodes)
    assert dot.count("Mul") == 2
    assert "220" in dot and "200" in dot  # scalar values of the two products
    for name in ("apple", "apple_num", "tax"):
        assert f'label="{name}\\n' in dot
    assert "\\ngrad " not in dot  # before backward


def test_to_dot_shows_gradients_after_backward():
    price, (apple, apple_num, tax) = apple_graph()
    price.backward()
    dot = mg.to_dot(price)
    assert [apple.grad.item(), apple_num.grad.item(), tax.grad.item()] == pytest.approx(
        [2.2, 110, 200]
    )
    assert "grad 2.2" in dot
    assert "grad 110" in dot
    assert "grad 200" in dot
    assert dot.count("\\ngrad ") == 3  # the leaves'; non-leaf gradients are not kept


def test_to_dot_shapes_constants_and_reuse():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    y = (x * x).sum(axis=1) * 2  # x used twice, one constant
    dot = mg.to_dot(y)
    assert len(dot_nodes(dot)) == 5  # x, Mul, Sum, the constant 2, Mul
    assert len(dot_edges(dot)) == 5  # x -> Mul twice
    assert "shape (2, 3)" in dot and "shape (2,)" in dot
    assert "Sum" in dot
    assert "shape=plaintext" in dot  # the constant


def test_to_dot_of_a_leaf_and_a_deep_chain():
    leaf = mg.tensor([1.0, 2.0], requires_grad=True)
    assert len(dot_nodes(mg.to_dot(leaf))) == 1
    y = leaf
    for _ in range(5000):
        y = y + 1.0
    dot = mg.to_dot(y)  # no recursion
    assert len(dot_nodes(dot)) == 1 + 2 * 5000  # the leaf, and an Add and a constant per step


def test_to_mermaid_of_the_apple_graph():
    price, _ = apple_graph()
    price.backward()
    text = mg.to_mermaid(price)
    assert text.startswith("flowchart")
    nodes = re.findall(r"^\s+(n[\dc]+)[\[(>]", text, flags=re.MULTILINE)
    edges = re.findall(r"^\s+(n[\dc]+) --> (n[\dc]+)$", text, flags=re.MULTILINE)
    assert len(nodes) == 5 and len(edges) == 4
    assert text.count("Mul") == 2
    assert "220" in text and "grad 2.2" in text


def test_labels_are_escaped():
    x = mg.Tensor([1.0], requires_grad=True, name='say "hi"')
    dot, mermaid = mg.to_dot(x * 2), mg.to_mermaid(x * 2)
    assert 'say \\"hi\\"' in dot
    assert '"hi"' not in mermaid and "#quot;hi#quot;" in mermaid
