"""Tensor hooks during backward: `register_hook` (see or replace a gradient on its way) and
`register_post_accumulate_grad_hook` (act on a leaf once its `.grad` is complete).

A leaf's gradient is complete when every op of the graph that uses it has delivered. The
backward pass takes ops deepest first and a leaf has depth 0, so that moment cannot be read from
the order alone: when post-accumulate hooks exist, one walk of the graph before the backward
counts each hooked leaf's uses, and the hooks run as the count reaches zero, while the rest of
the backward goes on (what lets DistributedDataParallel reduce early buckets during backward).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .tensor import Tensor

#: How many post-accumulate hooks are registered in the process (kept by `Tensor`'s
#: register/remove): a backward counts uses only when some exist, so others pay nothing.
post_accumulate_registered = 0


def run_tensor_hooks(tensor: Tensor, grad: Any, create_graph: bool) -> Any:
    """Let each hook see (and optionally replace) the gradient flowing into `tensor`."""
    for hook in tensor._hooks:
        replaced = hook(grad if create_graph else Tensor(grad))
        if replaced is None:
            continue
        if create_graph:
            replaced = replaced if isinstance(replaced, Tensor) else Tensor(replaced)
        else:
            replaced = np.asarray(replaced._data if isinstance(replaced, Tensor) else replaced)
        if replaced.shape != tensor.shape:
            raise RuntimeError(
                f"a hook returned a gradient of shape {replaced.shape} for a tensor of shape "
                f"{tensor.shape}"
            )
        grad = replaced if replaced.dtype == tensor.dtype else replaced.astype(tensor.dtype)
    return grad


class PostAccumulateHooks:
    """Runs each leaf's post-accumulate hooks once per backward, as soon as its `.grad` is final.

    `uses[leaf]` counts the deliveries still due to a leaf that receives its gradients directly
    into `.grad`. A leaf whose count never reaches zero (an op upstream gave no gradient, so
    some user of the leaf never ran) has its hooks run by `finish`, if it received anything."""

    def __init__(self, roots: Sequence[Tensor]) -> None:
        self.uses = _count_uses(roots)
        self.received: dict[Tensor, None] = {}  # leaves with a gradient whose hooks wait
        self.done: set[int] = set()  # ids of the leaves whose hooks ran in this backward

    def delivered(self, leaf: Tensor, got_gradient: bool = True) -> None:
        """One of the leaf's uses has delivered (a gradient, or None when `got_gradient` is
        False); run its hooks if that was the last one. (A leaf the walk did not count, such as
        one with `register_hook`, which backward sums before it reaches .grad, waits for the
        end.)"""
        if got_gradient:
            self.received[leaf] = None
        if leaf not in self.uses:
            return
        self.uses[leaf] -= 1
        if self.uses[leaf] == 0 and leaf in self.received:
            self.run(leaf)

    def run(self, leaf: Tensor) -> None:
        """Run the leaf's hooks (once per backward)."""
        if id(leaf) in self.done:
            return
        self.done.add(id(leaf))
        self.received.pop(leaf, None)
        for hook in list(leaf._post_accumulate_hooks):
            if hook(leaf) is not None:
                raise RuntimeError(
                    "a post-accumulate-grad hook must return None; to change the gradient, "
                    "modify tensor.grad in place or assign a new one"
                )

    def finish(self) -> None:
        """At the end of backward: run the hooks of every leaf that received a gradient."""
        for leaf in list(self.received):
            self.run(leaf)


def _count_uses(roots: Sequence[Tensor]) -> dict[Tensor, int]:
    """For each leaf with post-accumulate hooks that receives its gradients straight into
    `.grad` (no `register_hook`), how many deliveries are due: how many inputs of the graph's
    ops it is (one walk), plus one if it is itself a root."""
    uses: dict[Tensor, int] = {}
    for root in roots:  # a leaf given to backward as an output: its gradient is one delivery
        if root._creator is None and root._post_accumulate_hooks and not root._hooks:
            uses[root] = uses.get(root, 0) + 1
    seen: set[int] = set()
    stack = [root._creator for root in roots if root._creator is not None]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for x, needed in zip(fn.inputs, fn.needs_input_grad, strict=True):
            if not needed:
                continue
            if x._creator is not None:
                stack.append(x._creator)
            elif x._post_accumulate_hooks and not x._hooks:
                uses[x] = uses.get(x, 0) + 1
    return uses
