"""The engine: `Function` (one op in the graph), backward order, gradient accumulation, grad modes.

A forward call `Op.apply(x, y)` runs `Op.forward` on ndarrays and, when grad mode is on and an
input requires grad, links the output Tensor to the Function that made it. `backward` walks that
graph from the output to the leaves in reverse topological order (ops by decreasing depth, taken
from a heap: no recursion), calling each Function's `backward` once with the sum of the gradients
that reached its output.

Every gradient rule is written once, in NumPy terms, and serves two modes:
  * plain: the rule sees ndarrays (the fast path; no Tensor is made for an intermediate gradient);
  * `create_graph=True`: the rule sees Tensors, so each step of the backward pass is itself recorded
    and can be differentiated again. Tensors implement NumPy's operators, methods and ufuncs
    (`np.exp(t)` dispatches to `mg.exp`), which is what lets one rule serve both.
"""

from __future__ import annotations

import contextlib
import heapq
import sys
from collections.abc import Iterator, Sequence
from contextvars import ContextVar, Token
from typing import Any

import numpy as np

# ---------------------------------------------------------------------------------------------
# Grad modes: the one piece of global state. Context variables keep it per thread (and per
# asyncio task); reading one costs a quarter of a `threading.local` attribute, and every op
# reads it.

_grad_enabled: ContextVar[bool] = ContextVar("minigrad_grad_enabled", default=True)
_anomaly: ContextVar[bool] = ContextVar("minigrad_detect_anomaly", default=False)


def is_grad_enabled() -> bool:
    """True when operations record the graph needed for backward."""
    return _grad_enabled.get()


class _GradMode(contextlib.ContextDecorator):
    """Context manager (and decorator) that sets grad mode on entry and restores it on exit."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._tokens: list[Token[bool]] = []  # a stack, so one instance may be re-entered

    def __enter__(self) -> None:
        self._tokens.append(_grad_enabled.set(self.enabled))

    def __exit__(self, *exc: object) -> None:
        _grad_enabled.reset(self._tokens.pop())

    def _recreate_cm(self) -> _GradMode:
        """Each call of a decorated function gets its own instance (ContextDecorator's hook):
        calls running at once in two threads must not share the stack of tokens."""
        return _GradMode(self.enabled)


def no_grad() -> _GradMode:
    """`with mg.no_grad():` (or `@mg.no_grad()`) records no graph: inference and updates."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Turn graph recording back on inside a `no_grad` block."""
    return _GradMode(True)


def set_grad_enabled(enabled: bool) -> _GradMode:
    """Grad mode as a flag: `with mg.set_grad_enabled(training): ...`."""
    return _GradMode(bool(enabled))


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise as soon as an op produces NaN or inf, in forward or backward, naming the op and the
    line of user code that called it. Slow (a check per op): for debugging only."""
    token = _anomaly.set(True)
    try:
        yield
    finally:
        _anomaly.reset(token)


class AnomalyError(FloatingPointError):
    """A NaN or inf appeared under `detect_anomaly()`."""


_LIBRARY_MODULES = ("minigrad", "minigrad_nn")


def _user_call_site() -> str:
    """`file:line` of the innermost stack frame of user code: the first whose module is not
    part of minigrad or minigrad_nn (a layer's forward is not where the user called the op)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] not in _LIBRARY_MODULES:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _check_finite(fn: Function, array: np.ndarray, what: str) -> None:
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        bad = "NaN" if np.isnan(array).any() else "inf"
        where = fn.call_site or "a line not recorded (run the forward pass under detect_anomaly)"
        raise AnomalyError(f"{what} of {fn.name} produced {bad}; the op was called at {where}")


# ---------------------------------------------------------------------------------------------
# Function: one node of the graph, its forward next to its backward.


class Function:
    """Base class of every differentiable op.

    Subclasses define `forward(*arrays, **params) -> ndarray` and `backward(grad) -> tuple` of one
    gradient per input (None where no gradient flows). `forward` stores what `backward` needs with
    `save_for_backward` (inputs or the output, which become Tensors under `create_graph`) or as
    attributes (constants such as masks, shapes and axes).
    """

    #: Binary ops whose inputs broadcast: the engine sums their gradients back to the input shapes.
    broadcasting = False

    # Set by `apply` when the op is recorded in a graph.
    inputs: tuple[Any, ...] = ()
    needs_input_grad: Sequence[bool] = ()
    _versions: Sequence[int | None] = ()  # each input's version at forward (None: a constant)
    _arrays: Sequence[Any] = ()  # what forward received, one object per input
    # Class-level defaults, so that making a Function costs no __init__.
    _saved: tuple[Any, ...] | None = ()
    _graph_mode = False  # True while backward runs with create_graph
    _output: Tensor | None = None  # the output Tensor, during a create_graph backward only
    #: 1 + the largest depth among the ops that made the inputs (0 for a graph's leaves): an op is
    #: always deeper than every op before it in the graph, which is what orders the backward pass.
    depth = 0
    call_site = ""  # file:line of the user code that called the op (under detect_anomaly)

    @property
    def name(self) -> str:
        return type(self).__name__

    # -- forward side -----------------------------------------------------------------------

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors (or ndarrays / Python scalars, taken as constants)."""
        # This is the hot path of every op: one loop over the inputs, no generator expressions.
        arrays: list[Any] = []
        needs_input_grad: list[bool] = []
        versions: list[int | None] = []
        depth = 0
        for x in inputs:
            if isinstance(x, Tensor):
                data = x._data
                for earlier in arrays:  # one array, two inputs (x * x.detach()): give each its
                    if earlier is data:  # own object, so that a saved array names its input
                        data = data.view()
                        break
                arrays.append(data)
                needs_input_grad.append(x._requires_grad)
                versions.append(x._version)
                if x._creator is not None and x._creator.depth > depth:
                    depth = x._creator.depth
            else:  # a constant: ndarray, Python or NumPy scalar, list
                arrays.append(x if type(x) is np.ndarray else as_operand(x))
                needs_input_grad.append(False)
                versions.append(None)
        fn = cls()
        try:
            out = fn.forward(*arrays, **params)
        except ValueError as error:  # name the op: "matmul: shapes ..."
            raise ValueError(f"{fn.name.lower()}: {error}") from error
        if type(out) is not np.ndarray:  # NumPy returns scalars from 0-d operations
            scalar, out = out, np.asarray(out)
            # A saved output must stay the output's own array, to be found under create_graph.
            if fn._saved and _holds(fn._saved, scalar):
                fn._saved = tuple(out if a is scalar else a for a in fn._saved)
        if _anomaly.get():
            fn.call_site = _user_call_site()
            _check_finite(fn, out, "forward")
        # An integer or bool result (a cast, an index) has no gradient, as in PyTorch.
        requires_grad = True in needs_input_grad and _grad_enabled.get() and out.dtype.kind in "fc"
        result = Tensor._make(out, requires_grad)
        if requires_grad:
            fn.inputs = inputs
            fn.needs_input_grad = needs_input_grad
            fn._versions = versions
            fn._arrays = arrays
            fn.depth = depth + 1
            result._creator = fn
        return result

    def forward(self, *arrays: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError(f"{self.name} must define forward()")

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward. Inputs and the output come back as Tensors under
        `create_graph=True`; anything else comes back as it was (a constant)."""
        self._saved = arrays

    # -- backward side ----------------------------------------------------------------------

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """What `forward` saved: ndarrays normally, Tensors of the graph under `create_graph`."""
        saved = self._saved
        if saved is None:
            raise RuntimeError(
                f"Trying to backward through {self.name} a second time, but its saved arrays were "
                "freed by the first backward. Pass retain_graph=True to the first backward() "
                "if you need to backward through the graph again."
            )
        if not self._graph_mode:
            return saved
        return tuple(self._as_graph_tensor(a) for a in saved)

    def _as_graph_tensor(self, array: Any) -> Any:
        """The Tensor of the graph whose data is `array` (an input or the output), if any."""
        for x, data in zip(self.inputs, self._arrays, strict=True):
            if data is array and isinstance(x, Tensor):
                return x
        if self._output is not None and self._output._data is array:
            return self._output
        return array

    def backward(self, grad: Any) -> tuple[Any, ...]:
        raise NotImplementedError(f"{self.name} must define backward()")

    def release(self) -> None:
        """Free the saved arrays; a later backward through this node raises."""
        self._saved = None

    def _refuse_modified(self, tensor: Tensor, what: str) -> None:
        """Raise if `tensor`'s array, modified in place, is one that backward needs."""
        if _holds(self._saved or (), tensor._data):
            raise RuntimeError(
                f"a tensor of shape {tensor.shape} that {self.name} needs for its gradient was "
                f"modified in place after the forward pass ({what}); clone it before modifying "
                "it, or modify it under no_grad before using it"
            )


def _holds(items: Sequence[Any], obj: Any) -> bool:
    """Whether `obj` itself (not an equal value) is among `items`."""
    for item in items:  # noqa: SIM110 -- a plain loop: any() with a generator costs 3x here
        if item is obj:
            return True
    return False


def run_op(op: type[Function], *args: Any, **params: Any) -> Any:
    """Run `op` directly on ndarrays, or record it when an argument is a Tensor.

    Gradient rules use this for steps that have no NumPy operator or method (a scatter, a
    broadcast), so the same rule works in plain mode and under `create_graph`."""
    if any(isinstance(a, Tensor) for a in args):
        return op.apply(*args, **params)
    return op().forward(*args, **params)


# ---------------------------------------------------------------------------------------------
# Backward: order, accumulation, release.


class _GradientBuffer:
    """Gradients on their way to each tensor during one backward, summed as they arrive, and the
    order in which the tensors are taken.

    Order: a tensor waits in a heap keyed by its op's depth. Every op is deeper than the ops that
    made its inputs, so when the deepest waiting tensor is taken, every op that could still add to
    its gradient has run: taking tensors by decreasing depth is a topological order, found as the
    gradients arrive (no separate walk of the graph, no recursion). Ties go by arrival, so a
    backward always sums in the same order.

    Sums: in the plain mode a sum is done in place when the buffer owns the array. A gradient
    handed over by a rule may be the very array, or a view, of another tensor's gradient (Add
    passes its incoming gradient to both inputs), so such an array is never written into."""

    def __init__(self, create_graph: bool, leaves_direct: bool) -> None:
        self.create_graph = create_graph
        # A leaf without hooks needs no total before use: its gradients go straight into .grad.
        self.leaves_direct = leaves_direct
        self.anomaly = _anomaly.get()
        self.grads: dict[int, Any] = {}
        self.owned: set[int] = set()  # ids of tensors whose buffered array is ours to write
        self.waiting: list[tuple[int, int, Tensor]] = []  # a heap of (-depth, arrival, tensor)
        self.arrivals = 0

    def add(self, tensor: Tensor, grad: Any, owned: bool) -> None:
        if self.leaves_direct and tensor._creator is None and not tensor._hooks:
            _accumulate_grad(tensor, grad, owned, self.create_graph)
            return
        key = id(tensor)
        current = self.grads.get(key)
        if current is None:
            self.grads[key] = grad
            if owned:
                self.owned.add(key)
            depth = tensor._creator.depth if tensor._creator is not None else 0
            self.arrivals += 1
            heapq.heappush(self.waiting, (-depth, self.arrivals, tensor))
        elif self.create_graph:
            self.grads[key] = current + grad
        elif key in self.owned:
            np.add(current, grad, out=current)
        else:  # a new array, ours to write (asarray: NumPy gives a scalar for a 0-d sum)
            self.grads[key] = np.asarray(current + grad)
            self.owned.add(key)

    def pop(self) -> tuple[Tensor, Any, bool]:
        """The deepest waiting tensor, its total gradient, and whether that array is ours."""
        tensor = heapq.heappop(self.waiting)[2]
        key = id(tensor)
        return tensor, self.grads.pop(key), key in self.owned


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
) -> list[Any] | None:
    """Propagate gradients from `roots` to every tensor that requires grad.

    Without `inputs`, leaves accumulate into `.grad`. With `inputs` (this is `mg.grad`), their
    gradients are returned instead and no `.grad` is touched."""
    buffer = _GradientBuffer(create_graph, leaves_direct=inputs is None)
    for root, grad in zip(roots, root_grads, strict=True):
        if not root.requires_grad:
            raise RuntimeError(
                f"an output of shape {root.shape} does not require grad and has no graph: "
                "nothing to differentiate (was it computed under no_grad, or only from tensors "
                "without requires_grad=True?)"
            )
        buffer.add(root, _root_gradient(root, grad, create_graph), owned=False)
    wanted = {id(t): i for i, t in enumerate(inputs)} if inputs is not None else None
    results: list[Any] = [None] * len(inputs) if inputs is not None else []

    # Rules run with grad mode set to create_graph (set directly: the context manager costs
    # several calls, on every backward).
    token = _grad_enabled.set(create_graph)
    try:
        while buffer.waiting:
            tensor, grad, owned = buffer.pop()  # the deepest first
            if tensor._hooks:
                grad, owned = _run_hooks(tensor, grad, create_graph), False
            if wanted is not None:
                if id(tensor) in wanted:
                    results[wanted[id(tensor)]] = _as_result(grad, owned, create_graph)
            elif tensor._creator is None or tensor._retains_grad:
                _accumulate_grad(tensor, grad, owned, create_graph)
                owned = False
            fn = tensor._creator
            if fn is not None:
                _backward_one(fn, tensor, grad, buffer, create_graph)
                if not retain_graph:
                    fn.release()
    finally:
        _grad_enabled.reset(token)
    return results if inputs is not None else None


def _root_gradient(root: Tensor, grad: Any, create_graph: bool) -> Any:
    """The gradient that starts a backward: ones for a one-element output, else the user's."""
    if grad is None:
        data = root._data
        if data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for outputs with one element; this output "
                f"has shape {data.shape}: pass grad= (e.g. mg.ones_like(out)) or reduce it first"
            )
        ones = np.array(1, data.dtype)  # (np.ones is a Python wrapper: this is one C call)
        if data.ndim:
            ones = ones.reshape(data.shape)
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


def _backward_one(
    fn: Function, output: Tensor, grad: Any, buffer: _GradientBuffer, create_graph: bool
) -> None:
    """Call one Function's backward and hand each input's gradient to the buffer."""
    # Refuse to go on if an array that forward saved was modified in place since.
    for x, version in zip(fn.inputs, fn._versions, strict=True):
        if version is not None and x._version != version:
            fn._refuse_modified(x, f"version {version} -> {x._version}")
    if output._version:
        fn._refuse_modified(output, "the output")
    if fn._saved is None:
        fn.saved_tensors  # noqa: B018 -- raises the "backward a second time" error
    if create_graph:
        fn._graph_mode, fn._output = True, output
        try:
            input_grads = fn.backward(grad)
        finally:
            fn._graph_mode, fn._output = False, None
    else:
        input_grads = fn.backward(grad)
    if not isinstance(input_grads, (tuple, list)) or len(input_grads) != len(fn.inputs):
        raise RuntimeError(
            f"{fn.name}.backward must return a tuple of {len(fn.inputs)} gradient(s), one per "
            f"input of forward (None where there is none), not {type(input_grads).__name__} "
            f"{input_grads!r:.60}"
        )
    # An array is ours to sum into in place only if fresh: not the incoming gradient, not a view
    # of another array, and not handed to two inputs at once.
    may_own = not create_graph and (len(input_grads) == 1 or _distinct(input_grads))
    for x, needed, g in zip(fn.inputs, fn.needs_input_grad, input_grads, strict=True):
        if not needed or g is None:
            continue
        if type(g) is not np.ndarray or g.shape != x._data.shape or g.dtype != x._data.dtype:
            g = _fit_to_input(fn, g, x)
        if buffer.anomaly:
            _check_finite(fn, np.asarray(g), "backward")
        buffer.add(x, g, may_own and g is not grad and g.base is None)


def _distinct(items: Sequence[Any]) -> bool:
    """Whether no object appears twice among `items` (None aside)."""
    if len({id(item) for item in items}) == len(items):  # the usual case, decided at once
        return True
    present = [item for item in items if item is not None]
    return len({id(item) for item in present}) == len(present)


def _fit_to_input(fn: Function, grad: Any, x: Tensor) -> Any:
    """Bring an input's gradient to exactly the input's shape and dtype (see `unbroadcast`)."""
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


def _run_hooks(tensor: Tensor, grad: Any, create_graph: bool) -> Any:
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


def _accumulate_grad(tensor: Tensor, grad: Any, owned: bool, create_graph: bool) -> None:
    """`tensor.grad += grad`, in the tensor's dtype; the stored array is never shared."""
    if create_graph:  # a copy in the graph: the gradient may be another leaf's (Add) or the root's
        tensor.grad = grad.clone() if tensor.grad is None else tensor.grad + grad
    elif tensor.grad is None:
        tensor.grad = Tensor._make(grad if owned else grad.copy(), False)
    elif tensor.grad.requires_grad:  # left by an earlier create_graph backward: keep it intact
        tensor.grad = Tensor._make(np.asarray(tensor.grad._data + grad), False)
    else:
        np.add(tensor.grad._data, grad, out=tensor.grad._data)


def _as_result(grad: Any, owned: bool, create_graph: bool) -> Tensor:
    if create_graph:
        return grad
    return Tensor._make(grad if owned else grad.copy(), False)


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


# tensor.py imports this module, so these imports come last (the names above are defined by then).
from .ops.shape import unbroadcast  # noqa: E402
from .tensor import Tensor, as_operand  # noqa: E402
