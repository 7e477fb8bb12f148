"""A reference for the per-op benchmark: the smallest reverse-mode autodiff on NumPy arrays.

micrograd's shape: a `Value` holds an array, its parents and a closure that gives each parent's
share of the gradient; `backward` orders the graph by a depth-first walk and runs the closures
in reverse. It supports only `+` (all the chain of adds needs) and has none of minigrad's
contract: no Function objects, no dtype or shape checks, no version counters, no hooks, no grad
modes, no freeing of the graph, no second order. Timed beside minigrad, it tells what the
interpreter costs per op from what minigrad's design and checks add (`bench_overhead.py`,
`instructions.py`). Not a library: nothing outside `benchmarks/` imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class Value:
    """An array in a graph: `data`, `grad` (after backward), the `parents` it was made from."""

    def __init__(self, data: np.ndarray, parents: tuple[Value, ...] = ()) -> None:
        self.data = data
        self.grad: np.ndarray | None = None
        self.parents = parents
        self.grads_for_parents: Callable[[np.ndarray], tuple[np.ndarray, ...]] | None = None

    def __add__(self, other: Any) -> Value:
        if isinstance(other, Value):
            out = Value(self.data + other.data, (self, other))
            out.grads_for_parents = lambda grad: (grad, grad)
        else:  # a constant array
            out = Value(self.data + other, (self,))
            out.grads_for_parents = lambda grad: (grad,)
        return out

    def backward(self, grad: np.ndarray) -> None:
        """Sum the gradient of `self` into the `grad` of every Value it was computed from."""
        order: list[Value] = []
        seen: set[int] = set()
        stack: list[tuple[Value, bool]] = [(self, False)]
        while stack:  # depth-first, iterative: a long chain must not hit the recursion limit
            value, parents_done = stack.pop()
            if parents_done:
                order.append(value)
            elif id(value) not in seen:
                seen.add(id(value))
                stack.append((value, True))
                stack.extend((parent, False) for parent in value.parents)
        self.grad = grad
        for value in reversed(order):  # every consumer of a value runs before the value itself
            if value.grads_for_parents is None or value.grad is None:
                continue
            for parent, g in zip(value.parents, value.grads_for_parents(value.grad), strict=True):
                parent.grad = g if parent.grad is None else parent.grad + g
