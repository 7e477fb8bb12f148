"""The computational graph as drawing code sees it: nodes, edges and the order of both passes.

`collect(t)` walks the graph that produced `t` (iteratively: a chain of 100,000 ops is fine) and
returns a `Graph`: one node per op, per leaf tensor and per constant operand, plus an "output"
node that the result's arrow points at; and one edge per use of a tensor, from the node that
made it to the op that took it. As in the book's figures, a tensor *is* an arrow: its value is
written above the arrow and its gradient below it.

`backward_order(t)` gives the ops in the order in which `t.backward()` calls them, derived from
the engine's documented rule (see `minigrad.autograd`): a tensor waits in a heap keyed by the
depth of the op that made it (1 + the largest depth among the ops that made its inputs, 0 for a
leaf) and the deepest is taken first, ties going to the one whose gradient arrived first.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..autograd import Function
from ..tensor import Tensor


@dataclass(slots=True)
class Value:
    """One value of the graph: a Tensor (a leaf or an op's result) or a constant operand."""

    index: int
    data: np.ndarray
    name: str | None
    kind: str  # "leaf", "result" (made by an op) or "constant"
    tensor: Tensor | None = None  # None for a constant
    requires_grad: bool = False


@dataclass(slots=True)
class Node:
    """A box or circle of the picture."""

    index: int
    kind: str  # "op", "leaf", "constant", "output" or "fold" (many ops drawn as one)
    label: str
    value: int | None = None  # the Value this node shows (an op's result, a leaf, a constant)
    fn: Function | None = None  # for an op
    ops: list[int] = field(default_factory=list)  # for a fold: the op nodes it stands for
    depth: int = 0  # for an op: 1 + the largest depth among the ops that made its inputs


@dataclass(slots=True)
class Edge:
    """An arrow: `value` made by node `source` and used by node `target`."""

    source: int
    target: int
    value: int


@dataclass
class Graph:
    nodes: list[Node]
    edges: list[Edge]
    values: list[Value]
    root: int  # index of the Value that is the graph's result
    folded_from: Graph | None = None  # the full graph, when this one is folded (fold.py)

    def op_nodes(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "op"]

    def op_depths(self) -> dict[int, int]:
        """Each op's depth, by id of its Function (as `op_depths(root)` finds them)."""
        return {id(n.fn): n.depth for n in self.nodes if n.kind == "op"}


def _ops_of(root: Tensor) -> list[Function]:
    """Every op of the graph that produced `root`, each after the ops that made its inputs."""
    if root.grad_fn is None:
        return []
    order: list[Function] = []
    done: set[int] = set()
    stack: list[tuple[Function, bool]] = [(root.grad_fn, False)]
    while stack:
        fn, inputs_done = stack.pop()
        if inputs_done:
            order.append(fn)
            continue
        if id(fn) in done:
            continue
        done.add(id(fn))
        stack.append((fn, True))
        for x in reversed(fn.inputs):  # reversed: the first input is visited first
            if isinstance(x, Tensor) and x.grad_fn is not None and id(x.grad_fn) not in done:
                stack.append((x.grad_fn, False))
    # A Function reached twice before its first visit completes is appended once (done set);
    # the post-order then lists each op after all the ops it depends on.
    return order


def op_depths(root: Tensor) -> dict[int, int]:
    """Depth of each op (by id): 1 + the largest depth of the ops that made its inputs."""
    depths: dict[int, int] = {}
    for fn in _ops_of(root):
        made = [depths[id(x.grad_fn)] for x in fn.inputs
                if isinstance(x, Tensor) and x.grad_fn is not None]
        depths[id(fn)] = 1 + max(made, default=0)
    return depths


def backward_order(root: Tensor, depths: dict[int, int] | None = None) -> list[Function]:
    """The ops in the order `root.backward()` calls their `backward` (see the module docstring).
    `depths` (from `op_depths` or `Graph.op_depths`) saves walking the graph again."""
    if root.grad_fn is None or not root.requires_grad:
        return []
    if depths is None:
        depths = op_depths(root)
    arrivals = 0
    waiting = [(-depths[id(root.grad_fn)], arrivals, root)]
    queued = {id(root)}
    order: list[Function] = []
    while waiting:
        tensor = heapq.heappop(waiting)[2]
        fn = tensor.grad_fn
        order.append(fn)
        for x in fn.inputs:  # gradients arrive in the order of the op's inputs
            waits = isinstance(x, Tensor) and x.requires_grad and x.grad_fn is not None
            if waits and id(x) not in queued:
                queued.add(id(x))
                arrivals += 1
                heapq.heappush(waiting, (-depths[id(x.grad_fn)], arrivals, x))
    return order


_SYMBOLS = {"Add": "+", "Sub": "−", "Mul": "×", "Div": "÷", "Neg": "−x", "Pow": "**",
            "MatMul": "@", "Exp": "exp", "Log": "log", "Sqrt": "√", "Sum": "Σ"}


def op_label(fn: Function) -> str:
    """What an op's circle shows: the book's symbol where it has one, else the op's name."""
    return _SYMBOLS.get(fn.name, fn.name)


def collect(root: Tensor) -> Graph:
    """The nodes, edges and values of the graph that produced `root`."""
    values: list[Value] = []
    nodes: list[Node] = []
    edges: list[Edge] = []
    tensor_value: dict[int, int] = {}  # id(Tensor) -> Value index
    tensor_node: dict[int, int] = {}  # id(Tensor) -> index of the node that makes it

    def add_value(data: Any, kind: str, tensor: Tensor | None) -> int:
        name = tensor.name if tensor is not None else None
        grad = tensor.requires_grad if tensor is not None else False
        values.append(Value(len(values), np.asarray(data), name, kind, tensor, grad))
        return len(values) - 1

    def add_node(kind: str, label: str, value: int | None, fn: Function | None = None) -> int:
        nodes.append(Node(len(nodes), kind, label, value, fn))
        return len(nodes) - 1

    def source_of(x: Tensor) -> int:
        """The node that makes tensor `x` (a leaf gets its node on first use)."""
        if id(x) not in tensor_node:
            v = add_value(x.data, "leaf", x)
            tensor_value[id(x)] = v
            tensor_node[id(x)] = add_node("leaf", x.name or "leaf", v)
        return tensor_node[id(x)]

    ops = _ops_of(root)
    outputs = _outputs_of(root, ops)
    for fn in ops:  # inputs before the ops that use them
        out = outputs[id(fn)]
        v = add_value(out.data, "result", out)
        tensor_value[id(out)] = v
        node = add_node("op", op_label(fn), v, fn)
        tensor_node[id(out)] = node
        nodes[node].depth = 1 + max((nodes[tensor_node[id(x)]].depth for x in fn.inputs
                                     if isinstance(x, Tensor) and x.grad_fn is not None),
                                    default=0)
    for fn in ops:
        target = tensor_node[id(outputs[id(fn)])]
        for x in fn.inputs:
            if isinstance(x, Tensor):
                source = source_of(x)
                edges.append(Edge(source, target, tensor_value[id(x)]))
            else:
                v = add_value(x, "constant", None)
                source = add_node("constant", short_text(np.asarray(x)), v)
                edges.append(Edge(source, target, v))
    if root.grad_fn is None:
        source_of(root)
    else:
        out = add_node("output", root.name or "output", tensor_value[id(root)])
        edges.append(Edge(tensor_node[id(root)], out, tensor_value[id(root)]))
    return Graph(nodes, edges, values, tensor_value[id(root)])


def _outputs_of(root: Tensor, ops: list[Function]) -> dict[int, Tensor]:
    """The Tensor each op made, by id of the op. A Function does not point at its output (that
    would be a reference cycle), so the outputs are found among the inputs of their consumers."""
    outputs = {id(root.grad_fn): root} if root.grad_fn is not None else {}
    for fn in ops:
        for x in fn.inputs:
            if isinstance(x, Tensor) and x.grad_fn is not None:
                outputs[id(x.grad_fn)] = x
    return outputs


def short_text(array: Any) -> str:
    """A value as an arrow's label: a one-element array as a number, anything else as a shape."""
    array = np.asarray(array)
    if array.size == 1:
        item = array.reshape(()).item()
        if isinstance(item, float):
            return f"{item:.4g}"
        return str(item)
    return str(tuple(array.shape))


def short(value: Value) -> str:
    return short_text(value.data)
