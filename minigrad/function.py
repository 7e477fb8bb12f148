"""`Function`: one op of the graph, its forward next to its backward, and `run_op`.

A forward call `Op.apply(x, y)` runs `Op.forward` on ndarrays and, when grad mode is on and an
input requires grad, links the output Tensor to the Function that made it. The backward pass
(`autograd.py`) later calls `Op.backward` with the gradient of the output.

Every gradient rule is written once, in NumPy terms, and serves two modes:
  * plain: the rule sees ndarrays (the fast path: no Tensor is made for an intermediate gradient);
  * `create_graph=True`: the rule sees Tensors, so each step of the backward pass is itself recorded
    and can be differentiated again. Tensors implement NumPy's operators, methods, ufuncs and the
    NumPy functions that have a minigrad op (`np.where(c, g, 0)` on Tensors is `mg.where`), and
    `run_op` runs any op in either mode, which is what lets one rule serve both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy import ndarray

from . import anomaly, grad_mode
from .anomaly import check_finite, user_call_site
from .tensor import Tensor, VersionCounter, as_operand


class Function:
    """Base class of every differentiable op.

    Subclasses define `forward(*arrays, **params) -> ndarray` and `backward(grad) -> tuple` of one
    gradient per input (None where no gradient flows). `forward` stores what `backward` needs with
    `save_for_backward` (inputs or the output, which become Tensors under `create_graph`) or as
    attributes (constants such as masks, shapes and axes). A rule may return any array, even one
    it keeps or the incoming gradient itself: the engine never writes into a returned gradient.
    """

    #: Binary ops whose inputs broadcast: the engine sums their gradients back to the input shapes.
    broadcasting = False

    call_site = ""  # file:line of the user code that called the op (set under detect_anomaly)

    def __init__(self) -> None:
        # What `apply` records when the op joins a graph (left empty otherwise):
        self.inputs: tuple[Any, ...] = ()  # what forward was called with: Tensors and constants
        self.needs_input_grad: Sequence[bool] = ()
        self._arrays: Sequence[Any] = ()  # what forward received, one per input (if it saved any)
        #: 1 + the largest depth among the ops that made the inputs (0 for a graph's leaves): an
        #: op is always deeper than every op before it, which is what orders the backward pass.
        self.depth = 0
        self._saved: tuple[Any, ...] | None = ()  # what forward saved; None once released
        #: (version counter, its value at forward, array) for each saved array that belongs to a
        #: Tensor: a write into it afterwards changes the counter, and backward refuses to run.
        self._watched: tuple[tuple[VersionCounter, int, np.ndarray], ...] = ()
        self._output: Tensor | None = None  # the output Tensor, while a create_graph backward runs

    @property
    def name(self) -> str:
        return type(self).__name__

    # -- forward side -----------------------------------------------------------------------

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on Tensors (or ndarrays / Python scalars, taken as constants)."""
        arrays: list[Any] = []
        needs_input_grad: list[bool] = []
        depth = 0
        for x in inputs:
            if isinstance(x, Tensor):
                data = x._data
                for earlier in arrays:  # one array, two inputs (x * x.detach()): give each its
                    if earlier is data:  # own object, so that a saved array names its input
                        data = data.view()
                        break
                needs_input_grad.append(x._requires_grad)
                creator = x._creator
                if creator is not None and creator.depth > depth:
                    depth = creator.depth
            else:  # a constant: ndarray, Python or NumPy scalar, list
                data = x if type(x) is ndarray else as_operand(x)
                needs_input_grad.append(False)
            arrays.append(data)
        fn = cls()
        try:
            out = fn.forward(*arrays, **params)
        except ValueError as error:  # name the op: "matmul: shapes ..."
            raise ValueError(f"{fn.name.lower()}: {error}") from error
        if type(out) is not ndarray:  # NumPy returns scalars from 0-d operations
            out = _scalar_as_array(fn, out)
        if anomaly.enabled:
            fn.call_site = user_call_site()
            check_finite(fn.name, fn.call_site, out, "forward")
        result = _make_tensor(out, False)
        if out.base is not None:  # a view (reshape, transpose, a slice): one memory, one counter
            _share_versions(result, inputs)
        # Record the op when an input requires grad in grad mode, unless the result is an
        # integer or bool (a cast, an index): those have no gradient, as in PyTorch.
        if True in needs_input_grad and grad_mode.grad_enabled.get() and out.dtype.kind in "fc":
            result._requires_grad = True
            result._creator = fn
            fn.inputs = inputs
            fn.needs_input_grad = needs_input_grad
            fn.depth = depth + 1
            if fn._saved:  # the arrays tell which input (or the output) a saved array is
                fn._arrays = arrays
                fn._watched = _watch(fn._saved, inputs, arrays, result)
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
        if self._output is None:
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
        self._watched = ()


_make_tensor = Tensor._make  # the hot path of every op, looked up once


def _scalar_as_array(fn: Function, scalar: Any) -> ndarray:
    """A 0-d array for the scalar forward returned; if forward saved the scalar (its output),
    it saves the array instead, so that the saved output is found under create_graph."""
    out = np.asarray(scalar)
    if fn._saved and any(a is scalar for a in fn._saved):
        fn._saved = tuple(out if a is scalar else a for a in fn._saved)
    return out


def _share_versions(result: Tensor, inputs: Sequence[Any]) -> None:
    """Give a view the version counter of the input whose memory it shows."""
    out = result._data
    for x in inputs:
        if isinstance(x, Tensor) and np.may_share_memory(out, x._data):
            result._version_counter = x._shared_version_counter()
            return


def _watch(
    saved: Sequence[Any], inputs: Sequence[Any], arrays: Sequence[Any], result: Tensor
) -> tuple[tuple[VersionCounter, int, np.ndarray], ...]:
    """The version counters of the saved arrays that belong to Tensors (inputs, views of them,
    or the output), each with its value now: backward compares them to detect a write since."""
    watched = []
    for item in saved:
        if type(item) is np.ndarray:
            owner = _owner(item, inputs, arrays, result)
            if owner is not None:
                counter = owner._shared_version_counter()
                watched.append((counter, counter.value, item))
    return tuple(watched)


def _owner(
    item: np.ndarray, inputs: Sequence[Any], arrays: Sequence[Any], result: Tensor
) -> Tensor | None:
    """The Tensor whose memory a saved array is: the output, an input, or an input that the
    array is a view of (`x.T` saved by forward); None for a constant."""
    if item is result._data:
        return result
    for x, data in zip(inputs, arrays, strict=False):  # one array per input
        if data is item:
            return x if isinstance(x, Tensor) else None
    if item.base is not None:
        for x, data in zip(inputs, arrays, strict=False):
            if isinstance(x, Tensor) and np.may_share_memory(item, data):
                return x
    return None


def run_op(op: type[Function], *args: Any, **params: Any) -> Any:
    """Run `op` directly on ndarrays, or record it when an argument is a Tensor.

    Gradient rules use this for steps that have no NumPy operator, method or dispatched function
    (a scatter, another op's rule), so the same rule works in plain mode and under
    `create_graph`."""
    for a in args:
        if isinstance(a, Tensor):
            return op.apply(*args, **params)
    return op().forward(*args, **params)
