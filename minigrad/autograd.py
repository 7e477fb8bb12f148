"""The backward pass: order, gradient accumulation, checks, and freeing the graph.

`backward` walks the graph from the output to the leaves in reverse topological order (ops by
decreasing depth, taken from a heap: no recursion), calling each Function's `backward` once with
the sum of the gradients that reached its output.

Accumulation belongs to the engine alone. A rule returns gradients and may keep them (a cached
constant), or hand the same array to two inputs (Add): so the engine never writes into a
gradient a rule returned. It sums gradients into new arrays, and a leaf's `.grad` is an array
the engine allocated (a copy of the first gradient, then summed into in place).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy import ndarray

from . import anomaly, hooks
from .anomaly import check_finite
from .function import Function, run_op
from .grad_mode import grad_enabled
from .hooks import PostAccumulateHooks, run_tensor_hooks
from .ops.shape import unbroadcast
from .tensor import Tensor

__all__ = ["Function", "grad", "run_backward", "run_op"]


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> list[Any] | None:
    """Propagate gradients from `roots` to every tensor that requires grad.

    Without `inputs`, leaves accumulate into `.grad`. With `inputs` (this is `mg.grad`), their
    gradients are returned instead and no `.grad` is touched.

    Order: a tensor whose gradient is on its way waits in a heap keyed by the depth of the op that
    made it. Every op is deeper than the ops that made its inputs, so when the deepest waiting
    tensor is taken, every op that could still add to its gradient has run: taking tensors by
    decreasing depth is a topological order, found as the gradients arrive (no separate walk of
    the graph, no recursion). Ties go by arrival, so a backward always sums in the same order."""
    pending: dict[Tensor, Any] = {}  # the gradient summed so far for each waiting tensor
    waiting: list[tuple[int, int, Tensor]] = []  # a heap of (-depth, arrival, tensor)
    arrivals = itertools.count()
    for root, grad in zip(roots, root_grads, strict=True):
        if not root.requires_grad:
            raise RuntimeError(
                f"an output of shape {root.shape} does not require grad and has no graph: "
                "nothing to differentiate (was it computed under no_grad, or only from tensors "
                "without requires_grad=True?)"
            )
        grad = _root_gradient(root, grad, create_graph)
        if root in pending:  # the same output twice
            pending[root] = _sum(pending[root], grad, create_graph)
        else:
            pending[root] = grad
            heapq.heappush(waiting, (-_depth(root), next(arrivals), root))
    wanted = {id(t): i for i, t in enumerate(inputs)} if inputs is not None else None
    results: list[Any] = [None] * len(inputs) if inputs is not None else []
    # A leaf without hooks needs no total before use: its gradients go straight into .grad.
    leaves_direct = inputs is None
    check_anomaly = anomaly.enabled
    # Leaves with post-accumulate hooks: each runs them once its .grad is complete.
    post = None
    if leaves_direct and hooks.post_accumulate_registered:
        post = PostAccumulateHooks(roots)

    # Rules run with grad mode set to create_graph: a rule's steps are recorded only then.
    token = grad_enabled.set(create_graph)
    try:
        while waiting:
            tensor = heapq.heappop(waiting)[2]  # the deepest first
            grad = pending.pop(tensor)
            if tensor._hooks:
                grad = run_tensor_hooks(tensor, grad, create_graph)
            if wanted is not None:
                if id(tensor) in wanted:
                    results[wanted[id(tensor)]] = grad if create_graph else _copy(grad)
            elif tensor._creator is None or tensor._retains_grad:
                _accumulate_grad(tensor, grad, create_graph)
                if tensor._creator is None and tensor._post_accumulate_hooks:
                    post = post or PostAccumulateHooks(())
                    post.delivered(tensor)  # a root, or a leaf with register_hook
            fn = tensor._creator
            if fn is None:
                continue
            input_grads = _run_rule(fn, tensor, grad, create_graph)  # one per input, checked
            # (zip without strict=: lengths are checked by _run_rule, and a keyword would make
            # this call a slow one on every op)
            for x, needed, g in zip(fn.inputs, fn.needs_input_grad, input_grads):  # noqa: B905
                if not needed:
                    continue
                if g is None:
                    if post is not None and x._post_accumulate_hooks:
                        post.delivered(x, got_gradient=False)
                    continue
                # Each gradient gets exactly its input's shape and dtype (and is a Tensor under
                # create_graph); the check is cheap, the fix (_fit_to_input) rarely needed.
                if create_graph or type(g) is not ndarray or g.shape != x._data.shape or (
                    g.dtype is not x._data.dtype  # NumPy shares one object per dtype; else a fix
                ):
                    g = _fit_to_input(fn, g, x, create_graph)
                if check_anomaly:
                    check_finite(fn.name, fn.call_site, g, "backward")
                # Deliver g: into a leaf's .grad at once, or to the total of a waiting tensor.
                creator = x._creator
                if creator is None and leaves_direct and not x._hooks:
                    _accumulate_grad(x, g, create_graph)
                    if x._post_accumulate_hooks:
                        post = post or PostAccumulateHooks(())
                        post.delivered(x)
                elif x in pending:  # a new array: neither gradient is ours to write into
                    pending[x] = _sum(pending[x], g, create_graph)
                else:
                    pending[x] = g
                    depth = 0 if creator is None else creator.depth
                    heapq.heappush(waiting, (-depth, next(arrivals), x))
            input_grads = g = None  # freed before the next rule runs: peak memory
            if not retain_graph:
                fn.release()
        if post is not None:
            post.finish()
    finally:
        grad_enabled.reset(token)
    return results if inputs is not None else None


def _depth(tensor: Tensor) -> int:
    """The depth of the op that made `tensor` (0 for a leaf)."""
    return 0 if tensor._creator is None else tensor._creator.depth


def _sum(total: Any, grad: Any, create_graph: bool) -> Any:
    """total + grad as a new array (NumPy gives 0-d results as scalars), or in the graph."""
    return total + grad if create_graph else np.asarray(total + grad)


def _root_gradient(root: Tensor, grad: Any, create_graph: bool) -> Any:
    """The gradient that starts a backward: ones for a one-element output, else the user's."""
    if grad is None:
        data = root._data
        if data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for outputs with one element; this output "
                f"has shape {data.shape}: pass grad= (e.g. mg.ones_like(out)) or reduce it first"
            )
        ones = np.ones(data.shape, data.dtype)
        return Tensor(ones) if create_graph else ones
    if isinstance(grad, Tensor):
        grad = grad if create_graph else grad._data
    else:
        grad = np.asarray(grad, dtype=root.dtype)
    if grad.shape != root.shape:
        raise RuntimeError(f"grad has shape {grad.shape} but the output has shape {root.shape}")
    if create_graph:
        return grad if isinstance(grad, Tensor) else Tensor(grad)
    return grad if grad.dtype == root.dtype else grad.astype(root.dtype)


def _run_rule(fn: Function, output: Tensor, grad: Any, create_graph: bool) -> Sequence[Any]:
    """Call `fn.backward(grad)` after checking that what it saved is still there and unchanged;
    its gradients, one per input."""
    if fn._saved is None:
        fn.saved_tensors  # noqa: B018 -- raises the "backward a second time" error
    for counter, version, array in fn._watched:
        if counter.value != version:
            raise RuntimeError(
                f"an array of shape {array.shape} that {fn.name} saved for its gradient was "
                f"modified in place after the forward pass (its version went from {version} to "
                f"{counter.value}, through the tensor or an alias: a view, detach(), .data); "
                "clone it before modifying it, or modify it before using it"
            )
    if create_graph:
        fn._output = output
        try:
            input_grads = fn.backward(grad)
        finally:
            fn._output = None
    else:
        input_grads = fn.backward(grad)
    if not isinstance(input_grads, (tuple, list)) or len(input_grads) != len(fn.inputs):
        raise RuntimeError(
            f"{fn.name}.backward must return a tuple of {len(fn.inputs)} gradient(s), one per "
            f"input of forward (None where there is none), not {type(input_grads).__name__} "
            f"{input_grads!r:.60}"
        )
    return input_grads


def _fit_to_input(fn: Function, grad: Any, x: Tensor, create_graph: bool) -> Any:
    """Bring an input's gradient to exactly the input's shape and dtype (see `unbroadcast`)."""
    if create_graph and not isinstance(grad, Tensor):
        raise RuntimeError(
            f"{fn.name}.backward returned a {type(grad).__name__}, not a Tensor, under "
            "create_graph=True: one of its steps ran outside minigrad (np.asarray, .data, or "
            "a function of ndarrays only), so the gradient of this gradient would be lost. "
            "Write the rule with operators, Tensor methods, the NumPy functions minigrad "
            "dispatches, or run_op; return None for a zero gradient"
        )
    if type(grad) is not np.ndarray and not isinstance(grad, Tensor):
        grad = np.asarray(grad)  # NumPy returns scalars from 0-d arithmetic
    shape, dtype = x._data.shape, x._data.dtype
    if grad.shape != shape:
        if not fn.broadcasting:
            raise RuntimeError(
                f"{fn.name}.backward returned a gradient of shape {grad.shape} for an input of "
                f"shape {shape}"
            )
        grad = unbroadcast(grad, shape)
        if type(grad) is not np.ndarray and not isinstance(grad, Tensor):  # a full sum: a scalar
            grad = np.asarray(grad)
    if grad.dtype != dtype:
        grad = grad.astype(dtype)
    return grad


def _copy(grad: np.ndarray) -> Tensor:
    """A gradient as a Tensor of its own: a copy, since the array may be a rule's."""
    return Tensor._make(grad.copy(), False)


def _accumulate_grad(tensor: Tensor, grad: Any, create_graph: bool) -> None:
    """`tensor.grad += grad`, in the tensor's dtype, into an array the engine allocated."""
    if create_graph:  # a copy in the graph: the gradient may be another leaf's (Add) or the root's
        tensor.grad = grad.clone() if tensor.grad is None else tensor.grad + grad
    elif tensor.grad is None:
        tensor.grad = _copy(grad)
    elif tensor.grad.requires_grad:  # left by an earlier create_graph backward: keep it intact
        tensor.grad = Tensor._make(np.asarray(tensor.grad._data + grad), False)
    else:
        np.add(tensor.grad._data, grad, out=tensor.grad._data)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of `outputs` with respect to `inputs`, returned rather than stored in `.grad`.

    `grad_outputs` plays the role of `backward`'s `grad` (one per output). With
    `create_graph=True` the results are part of a graph and can be differentiated again."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor | np.ndarray):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"got {len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            raise RuntimeError(f"input {i} does not require grad: {x!r}")
    retain = create_graph if retain_graph is None else retain_graph
    results = run_backward(outputs, grad_outputs, retain, create_graph, inputs=inputs)
    for i, (x, g) in enumerate(zip(inputs, results or (), strict=True)):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"input {i} (shape {x.shape}) was not used to compute the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return tuple(results or ())
