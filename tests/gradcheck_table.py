"""The hypothesis gradcheck table: one row (`Case`) per op, and the checks every row gets.

How a new op adds its row (in tests/test_ops_gradcheck.py, or in a module of its own named
tests/test_ops_<family>.py, which tests/test_ops_coverage.py finds by that name):

    from gradcheck_table import Case, example, table_tests
    CASES = [
        Case("conv2d", conv_example(), mg.conv2d, reference_conv2d, functions=(Conv2d,)),
    ]
    test_op, test_op_second_order = table_tests(CASES)

`example` draws `(arrays, params)` (tests/strategies.py has shapes, layouts and values);
`f(*tensors, **params)` is the op, `ref(*arrays, **params)` NumPy's value of it, and
`functions` the `Function` classes whose node the forward graph must contain. Each row is checked
at first order (values, float64 gradcheck, gradient shapes and dtypes for any memory layout,
float32 kept) and second order (a vector-Jacobian product taken with create_graph, checked by
central differences). tests/test_ops_coverage.py fails while any Function subclass in minigrad
has no row."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg


@dataclass(frozen=True)
class Case:
    """One row of the table. `example` draws `(arrays, params)`; `f(*tensors, **params)` is the
    op under test and `ref(*arrays, **params)` NumPy's value of it."""

    name: str
    example: st.SearchStrategy[tuple[tuple[np.ndarray, ...], dict[str, Any]]]
    f: Callable[..., mg.Tensor]
    ref: Callable[..., Any]
    functions: tuple[type[mg.Function], ...]  # the ops this row exercises
    out_dtype: Any = None  # the result's dtype when it is not the inputs' (astype)


def example(*arrays: st.SearchStrategy[np.ndarray], **params: st.SearchStrategy[Any]):
    return st.tuples(st.tuples(*arrays), st.fixed_dictionaries(params))


def graph_functions(t: mg.Tensor) -> list[mg.Function]:
    """Every Function of the graph that produced `t` (iterative walk)."""
    functions, seen, stack = [], set(), [t]
    while stack:
        fn = stack.pop().grad_fn
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        functions.append(fn)
        stack.extend(x for x in fn.inputs if isinstance(x, mg.Tensor))
    return functions


def check_first_order(case: Case, data: st.DataObject) -> None:
    arrays_, params = data.draw(case.example, label="arrays, params")
    f = functools.partial(case.f, **params)

    # Forward: NumPy's values, on the arrays as drawn (any memory layout, kept without copy).
    xs = [mg.tensor(a, requires_grad=True) for a in arrays_]
    out = f(*xs)
    expected = case.ref(*arrays_, **params)
    assert out.shape == np.shape(expected)
    assert out.dtype == (case.out_dtype or np.float64)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    recorded = {type(fn) for fn in graph_functions(out)}
    assert set(case.functions) <= recorded, f"{case.name} did not record {case.functions}"

    # Backward: float64 backprop agrees with central differences.
    assert mg.gradcheck(f, arrays_)

    # Every gradient has its input's shape and dtype, whatever the input's layout.
    out.backward(np.ones(out.shape))
    contiguous = [mg.tensor(a.copy(order="C"), requires_grad=True) for a in arrays_]
    f(*contiguous).backward(np.ones(out.shape))
    for x, c in zip(xs, contiguous, strict=True):
        assert x.grad.shape == x.shape
        assert x.grad.dtype == np.float64
        np.testing.assert_allclose(x.grad.data, c.grad.data, rtol=1e-12, atol=1e-12)

    # float32 in, float32 out, float32 gradients.
    xs32 = [mg.tensor(a.astype(np.float32), requires_grad=True) for a in arrays_]
    out32 = f(*xs32)
    assert out32.dtype == (case.out_dtype or np.float32)
    out32.backward(np.ones(out32.shape, out32.dtype))
    for x32, x in zip(xs32, xs, strict=True):
        assert x32.grad.shape == x32.shape
        assert x32.grad.dtype == np.float32
        np.testing.assert_allclose(x32.grad.data, x.grad.data, rtol=1e-4, atol=1e-4)


def weights(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.5, 1.5, shape)


def check_second_order(case: Case, data: st.DataObject) -> None:
    """Gradients of gradients: a vector-Jacobian product taken with `create_graph=True` is
    itself differentiated, and checked against central differences."""
    arrays_, params = data.draw(case.example, label="arrays, params")
    f = functools.partial(case.f, **params)
    vs = [weights(np.shape(a), seed=i + 1) for i, a in enumerate(arrays_)]

    def vjp(*xs: mg.Tensor) -> mg.Tensor:
        with mg.enable_grad():  # numerical_gradient calls this under no_grad
            out = f(*xs)
            grads = mg.grad(
                (out * weights(out.shape, seed=0)).sum(), xs, create_graph=True, allow_unused=True
            )
            total = mg.tensor(0.0, dtype=np.float64)
            for g, v in zip(grads, vs, strict=True):
                if g is not None:
                    assert g.dtype == np.float64
                    total = total + (g * v).sum()
            return total

    xs = [mg.tensor(a, requires_grad=True) for a in arrays_]
    if vjp(*xs).requires_grad:
        assert mg.gradcheck(vjp, arrays_)
    else:  # a linear op: the gradient does not depend on the inputs
        for x in xs:
            numeric = mg.numerical_gradient(lambda _: vjp(*xs).item(), x, eps=1e-6)
            np.testing.assert_allclose(numeric, 0, atol=1e-6)


def table_tests(cases: Sequence[Case]) -> tuple[Callable[..., None], Callable[..., None]]:
    """The two tests of a table, each parametrized over its rows: first and second order."""

    @pytest.mark.parametrize("case", cases, ids=lambda case: case.name)
    @given(data=st.data())
    def test_op(case: Case, data: st.DataObject) -> None:
        check_first_order(case, data)

    @pytest.mark.parametrize("case", cases, ids=lambda case: case.name)
    @settings(max_examples=settings().max_examples // 2)  # each example costs a first-order check
    @given(data=st.data())
    def test_op_second_order(case: Case, data: st.DataObject) -> None:
        check_second_order(case, data)

    test_op.table_cases = test_op_second_order.table_cases = cases  # found by test_ops_coverage
    return test_op, test_op_second_order
