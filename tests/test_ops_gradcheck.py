"""One table over every op: values against NumPy, backprop against central differences
(`mg.gradcheck` in float64), gradients of their inputs' shape and dtype whatever the memory
layout, and float32 kept through forward and backward.

Then the cases a table cannot express: ties in max/min, repeated indices, matmul's 1-D rules,
ops without gradients, numerical stability, and the dtype of results with scalar operands."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import conv_strategies as cs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import (
    MAX_SIDE,
    arrays,
    away_from_zero,
    broadcastable_shapes,
    distinct,
    floats,
    grid,
    positive,
    reduction_axes,
    shapes,
)

import minigrad as mg


@dataclass(frozen=True)
class Case:
    """One row of the table. `example` draws `(arrays, params)`; `f(*tensors, **params)` is the
    op under test and `ref(*arrays, **params)` NumPy's value of it."""

    name: str
    example: st.SearchStrategy[tuple[tuple[np.ndarray, ...], dict[str, Any]]]
    f: Callable[..., mg.Tensor]
    ref: Callable[..., Any]
    out_dtype: Any = None  # the result's dtype when it is not the inputs' (astype)


def example(*arrays: st.SearchStrategy[np.ndarray], **params: st.SearchStrategy[Any]):
    return st.tuples(st.tuples(*arrays), st.fixed_dictionaries(params))


@st.composite
def broadcast_pair(draw, x_elements=None, y_elements=None):
    x_shape, y_shape = draw(broadcastable_shapes(2))
    return (draw(arrays(x_shape, x_elements)), draw(arrays(y_shape, y_elements))), {}


@st.composite
def matmul_pair(draw):
    """Every case of NumPy's matmul: 1-D·1-D, 2-D·1-D, 1-D·2-D, batched and broadcast N-D."""
    x_shape, y_shape = draw(
        hnp.mutually_broadcastable_shapes(
            signature=np.matmul.signature, max_dims=2, min_side=0, max_side=MAX_SIDE
        )
    ).input_shapes
    return (draw(arrays(x_shape)), draw(arrays(y_shape))), {}


@st.composite
def affine_triple(draw):
    """x of shape (..., n) with batch axes (possibly broadcast), W (n, m) and b broadcastable to
    (m,): the fused Affine op."""
    batch = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=MAX_SIDE))
    n, m = draw(st.integers(0, MAX_SIDE)), draw(st.integers(0, MAX_SIDE))
    b_shape = draw(st.sampled_from([(m,), (1,), (1, m)]))
    return (draw(arrays((*batch, n))), draw(arrays((n, m))), draw(arrays(b_shape))), {}


@st.composite
def reduction(draw, values=arrays, nonempty=False):
    """x, axis (None, int, tuple, negative), keepdims, and the spelling of the call."""
    shape = draw(shapes())
    axis = draw(reduction_axes(len(shape)))
    if nonempty:  # the max, min, mean or logsumexp of no elements is undefined
        reduced = range(len(shape)) if axis is None else np.atleast_1d(axis) % len(shape)
        shape = tuple(1 if n == 0 and i in reduced else n for i, n in enumerate(shape))
    keepdims = draw(st.booleans())
    spelling = draw(st.sampled_from(["method", "function", "torch"]))
    return (draw(values(shape)),), {"axis": axis, "keepdims": keepdims, "spelling": spelling}


def reduce_op(name: str) -> Callable[..., mg.Tensor]:
    def f(x, axis, keepdims, spelling):
        if spelling == "torch":
            return getattr(x, name)(dim=axis, keepdim=keepdims)
        if spelling == "function":
            return getattr(mg, name)(x, axis=axis, keepdims=keepdims)
        return getattr(x, name)(axis, keepdims)

    return f


def reduce_ref(ufunc: Callable[..., Any]) -> Callable[..., Any]:
    return lambda x, axis, keepdims, spelling: ufunc(x, axis=axis, keepdims=keepdims)


def np_logsumexp(x, axis=None, keepdims=False):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


@st.composite
def reshape_example(draw):
    shape = draw(shapes())
    size = math.prod(shape)
    targets = [(size,), (-1,), shape[::-1], (*shape, 1), (1, *shape)]
    if size and shape:
        targets.append((shape[0], -1))
    return (draw(arrays(shape)),), {
        "shape": draw(st.sampled_from(targets)),
        "as_tuple": draw(st.booleans()),
    }


def reshape_f(x, shape, as_tuple):
    return x.reshape(shape) if as_tuple else x.reshape(*shape)


@st.composite
def transpose_example(draw):
    shape = draw(shapes())
    axes = draw(st.none() | st.permutations(range(len(shape))).map(tuple))
    if axes and draw(st.booleans()):
        axes = tuple(a - len(shape) for a in axes)  # negative axes
    return (draw(arrays(shape)),), {"axes": axes}


def transpose_f(x, axes):
    return x.transpose() if axes is None else x.transpose(*axes)


@st.composite
def swapaxes_example(draw):
    shape = draw(shapes(min_dims=1))
    axis = st.integers(-len(shape), len(shape) - 1)
    return (draw(arrays(shape)),), {"axis1": draw(axis), "axis2": draw(axis)}


def swapaxes_f(x, axis1, axis2):
    return x.swapaxes(axis1, axis2)


@st.composite
def flatten_example(draw):
    shape = draw(shapes(min_dims=1))
    n = len(shape)
    start = draw(st.integers(0, n - 1))
    end = draw(st.integers(start, n - 1))
    negative = draw(st.booleans())
    return (draw(arrays(shape)),), {
        "start_dim": start - n if negative else start,
        "end_dim": end - n if negative else end,
    }


def flatten_ref(x, start_dim, end_dim):
    start, end = start_dim % x.ndim, end_dim % x.ndim
    return x.reshape(*x.shape[:start], math.prod(x.shape[start : end + 1]), *x.shape[end + 1 :])


@st.composite
def squeeze_example(draw):
    shape = draw(shapes(max_side=2))
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = None
    if ones and draw(st.booleans()):
        axis = draw(st.sampled_from(ones)) - draw(st.sampled_from([0, len(shape)]))
    return (draw(arrays(shape)),), {"axis": axis, "torch": draw(st.booleans())}


def squeeze_f(x, axis, torch):
    return x.squeeze(dim=axis) if torch else mg.squeeze(x, axis)


@st.composite
def unsqueeze_example(draw):
    shape = draw(shapes())
    return (draw(arrays(shape)),), {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def expand_example(draw):
    """A target shape, and an input with some of its axes 1 and some leading ones dropped."""
    target = draw(shapes(min_dims=1))
    lead = draw(st.integers(0, len(target)))
    kept = target[lead:]
    shape = tuple(1 if draw(st.booleans()) else n for n in kept)
    spelling = draw(st.sampled_from(["broadcast_to", "expand", "expand_minus_one", "function"]))
    return (draw(arrays(shape)),), {"target": target, "spelling": spelling}


def expand_f(x, target, spelling):
    if spelling == "broadcast_to":
        return x.broadcast_to(*target)
    if spelling == "expand":
        return x.expand(target)
    if spelling == "function":
        return mg.broadcast_to(x, target)
    lead = len(target) - x.ndim  # PyTorch's -1: keep that axis as it is
    kept = (n if i < lead or x.shape[i - lead] == 1 else -1 for i, n in enumerate(target))
    return x.expand(*kept)


@st.composite
def basic_index_example(draw):
    shape = draw(shapes())
    index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return (draw(arrays(shape)),), {"index": index}


@st.composite
def integer_index_example(draw):
    """Integer-array indices, repeats included (their gradients must add up)."""
    shape = draw(shapes(min_dims=1, min_side=1))
    result = hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)
    index = draw(hnp.integer_array_indices(shape, result_shape=result))
    if len(index) == 1 and draw(st.booleans()):
        index = index[0].tolist()  # a plain list, x[[0, 0, 2]]
    return (draw(arrays(shape)),), {"index": index}


@st.composite
def mask_index_example(draw):
    shape = draw(shapes(min_dims=1))
    mask_ndim = draw(st.integers(1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[:mask_ndim]))
    return (draw(arrays(shape)),), {"index": mask}


def index_ref(x, index):
    return x[np.asarray(index) if isinstance(index, list) else index]


@st.composite
def concatenate_example(draw):
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    lengths = draw(st.lists(st.integers(0, MAX_SIDE), min_size=1, max_size=3))
    xs = tuple(
        draw(arrays(tuple(n if i != axis % len(shape) else k for i, n in enumerate(shape))))
        for k in lengths
    )
    return xs, {"axis": axis, "spelling": draw(st.sampled_from(["cat", "concatenate", "dim"]))}


def concatenate_f(*xs, axis, spelling):
    if spelling == "dim":
        return mg.cat(xs, dim=axis)
    return getattr(mg, spelling)(list(xs), axis=axis)


@st.composite
def stack_example(draw):
    shape = draw(shapes())
    count = draw(st.integers(1, 3))
    xs = tuple(draw(arrays(shape)) for _ in range(count))
    return xs, {"axis": draw(st.integers(-len(shape) - 1, len(shape)))}


@st.composite
def where_example(draw):
    c_shape, x_shape, y_shape = draw(broadcastable_shapes(3))
    condition = draw(hnp.arrays(np.bool_, c_shape))
    return (draw(arrays(x_shape)), draw(arrays(y_shape))), {"condition": condition}


def unary(elements=None):
    return example(arrays(shapes(), elements))


on_grid = grid(0.25, 0.0)  # multiples of 1/4 ...
off_grid = grid(0.25, 0.5)  # ... and values 1/8 away from them: never a tie, never a kink

CASES = [
    Case("add", broadcast_pair(), lambda x, y: x + y, np.add),
    Case("sub", broadcast_pair(), lambda x, y: x - y, np.subtract),
    Case("mul", broadcast_pair(), lambda x, y: x * y, np.multiply),
    Case("div", broadcast_pair(y_elements=away_from_zero()), lambda x, y: x / y, np.divide),
    Case("pow", broadcast_pair(positive(), floats(-2, 2)), lambda x, y: x**y, np.power),
    Case(
        "pow_scalar",
        example(arrays(shapes(), positive()), p=st.sampled_from([2, 3, -1.5, 0.5])),
        lambda x, p: x**p,
        lambda x, p: x**p,
    ),
    Case("rpow", unary(), lambda x: 1.5**x, lambda x: 1.5**x),
    Case("rsub", unary(), lambda x: 1 - x, lambda x: 1 - x),
    Case("rdiv", unary(away_from_zero()), lambda x: 2 / x, lambda x: 2 / x),
    Case("neg", unary(), lambda x: -x, np.negative),
    Case("matmul", matmul_pair(), lambda x, y: x @ y, np.matmul),
    Case("affine", affine_triple(), mg.affine, lambda x, w, b: x @ w + b),
    Case("exp", unary(floats(-4, 4)), mg.exp, np.exp),
    Case("log", unary(positive()), lambda x: x.log(), np.log),
    Case("sqrt", unary(positive()), mg.sqrt, np.sqrt),
    Case("abs", unary(off_grid), abs, np.abs),
    Case("tanh", unary(), lambda x: x.tanh(), np.tanh),
    Case("sigmoid", unary(floats(-6, 6)), mg.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    Case("relu", unary(off_grid), lambda x: x.relu(), lambda x: np.maximum(x, 0)),
    Case(
        "clip",
        example(
            arrays(shapes(), off_grid),
            bounds=st.sampled_from([(-1.0, 1.0), (None, 0.5), (-0.5, None)]),
        ),
        lambda x, bounds: x.clip(*bounds),
        lambda x, bounds: np.clip(x, *bounds),
    ),
    Case("sum", reduction(), reduce_op("sum"), reduce_ref(np.sum)),
    Case("mean", reduction(nonempty=True), reduce_op("mean"), reduce_ref(np.mean)),
    Case("max", reduction(distinct, nonempty=True), reduce_op("max"), reduce_ref(np.max)),
    Case("min", reduction(distinct, nonempty=True), reduce_op("min"), reduce_ref(np.min)),
    Case("logsumexp", reduction(nonempty=True), reduce_op("logsumexp"), reduce_ref(np_logsumexp)),
    Case("reshape", reshape_example(), reshape_f, lambda x, shape, as_tuple: x.reshape(shape)),
    Case("transpose", transpose_example(), transpose_f, lambda x, axes: x.transpose(axes)),
    Case("T", unary(), lambda x: x.T, lambda x: x.T),
    Case("swapaxes", swapaxes_example(), swapaxes_f, np.swapaxes),
    Case("flatten", flatten_example(), lambda x, **dims: x.flatten(**dims), flatten_ref),
    Case("squeeze", squeeze_example(), squeeze_f, lambda x, axis, torch: np.squeeze(x, axis=axis)),
    Case(
        "unsqueeze",
        unsqueeze_example(),
        lambda x, axis: x.unsqueeze(axis),
        lambda x, axis: np.expand_dims(x, axis),
    ),
    Case(
        "expand",
        expand_example(),
        expand_f,
        lambda x, target, spelling: np.broadcast_to(x, target),
    ),
    Case("getitem_basic", basic_index_example(), lambda x, index: x[index], index_ref),
    Case("getitem_integer", integer_index_example(), lambda x, index: x[index], index_ref),
    Case("getitem_mask", mask_index_example(), lambda x, index: x[index], index_ref),
    Case(
        "concatenate",
        concatenate_example(),
        concatenate_f,
        lambda *xs, axis, spelling: np.concatenate(xs, axis=axis),
    ),
    Case(
        "stack",
        stack_example(),
        lambda *xs, axis: mg.stack(xs, axis=axis),
        lambda *xs, axis: np.stack(xs, axis=axis),
    ),
    Case(
        "where",
        where_example(),
        lambda x, y, condition: mg.where(condition, x, y),
        lambda x, y, condition: np.where(condition, x, y),
    ),
    Case("maximum", broadcast_pair(on_grid, off_grid), mg.maximum, np.maximum),
    Case("minimum", broadcast_pair(on_grid, off_grid), mg.minimum, np.minimum),
    Case(
        "astype",
        unary(),
        lambda x: x.astype(np.longdouble),
        lambda x: x.astype(np.longdouble),
        out_dtype=np.longdouble,
    ),
    Case("clone", unary(), lambda x: x.clone(), np.copy),
    # Convolution and pooling (examples and references in conv_strategies.py).
    Case("conv2d", cs.conv2d_example(), mg.conv2d, cs.conv2d_ref),
    Case(
        "conv_transpose2d",
        cs.conv_transpose2d_example(),
        mg.conv_transpose2d,
        cs.conv_transpose2d_ref,
    ),
    Case(
        "conv2d_weight",
        cs.conv2d_weight_example(),
        lambda x, gy, weight_size, **params: mg.conv2d_weight(x, weight_size, gy, **params),
        cs.conv2d_weight_ref,
    ),
    Case("max_pool2d", cs.pool_example("max"), mg.max_pool2d, cs.max_pool2d_ref),
    Case("avg_pool2d", cs.pool_example("avg"), mg.avg_pool2d, cs.avg_pool2d_ref),
    Case("im2col", cs.im2col_example(), mg.im2col, cs.book_im2col),
    Case("col2im", cs.col2im_example(), mg.col2im, cs.book_col2im),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@given(data=st.data())
def test_op(case: Case, data: st.DataObject) -> None:
    arrays_, params = data.draw(case.example, label="arrays, params")
    f = functools.partial(case.f, **params)

    # Forward: NumPy's values, on the arrays as drawn (any memory layout, kept without copy).
    xs = [mg.tensor(a, requires_grad=True) for a in arrays_]
    out = f(*xs)
    expected = case.ref(*arrays_, **params)
    assert out.shape == np.shape(expected)
    assert out.dtype == (case.out_dtype or np.float64)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)

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


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
@settings(max_examples=settings().max_examples // 2)  # each example costs a first-order check
@given(data=st.data())
def test_op_second_order(case: Case, data: st.DataObject) -> None:
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


# -- max and min: ties share the gradient evenly (as torch.amax) ---------------------------------


@pytest.mark.parametrize("reduce", [mg.max, mg.min])
def test_max_min_ties_split_the_gradient_evenly(reduce):
    x = mg.tensor([[3.0, 1.0, 3.0, 3.0], [2.0, 2.0, 2.0, 2.0]], requires_grad=True)
    if reduce is mg.min:
        x = mg.tensor(-x.data, requires_grad=True)
    reduce(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[1 / 3, 0, 1 / 3, 1 / 3], [0.25, 0.25, 0.25, 0.25]])

    x.grad = None
    reduce(x).backward()  # over all axes: only the 3 tied extremes of the first row
    np.testing.assert_allclose(x.grad.data, [[1 / 3, 0, 1 / 3, 1 / 3], [0, 0, 0, 0]])


@pytest.mark.parametrize("op", [mg.maximum, mg.minimum])
def test_maximum_minimum_ties_split_the_gradient_evenly(op):
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    op(x, y).backward(mg.ones(3))
    low, high = [0.0, 0.5, 1.0], [1.0, 0.5, 0.0]
    np.testing.assert_allclose(x.grad.data, low if op is mg.maximum else high)
    np.testing.assert_allclose(y.grad.data, high if op is mg.maximum else low)


# -- indexing ----------------------------------------------------------------------------------


def test_repeated_indices_accumulate():
    x = mg.tensor([10.0, 20.0, 30.0], requires_grad=True)
    x[[0, 2, 0, 0]].backward(mg.tensor([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.data, [8.0, 0.0, 2.0])

    m = mg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    rows, cols = np.array([1, 1, 0]), np.array([2, 2, 0])
    m[rows, cols].sum().backward()
    np.testing.assert_array_equal(m.grad.data, [[1, 0, 0], [0, 0, 2]])


def test_index_with_tensors_and_negative_steps():
    x = mg.tensor(np.arange(5.0), requires_grad=True)
    mask = x > 1.5
    assert mask.dtype == np.bool_
    x[mask].sum().backward()
    x[mg.tensor([4, 4], dtype=np.int64)].sum().backward()
    x[::-2].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1, 0, 2, 1, 4])


# -- matmul: NumPy's rules for 1-D and N-D operands -----------------------------------------------

MATMUL_SHAPES = [
    ((3,), (3,)),  # dot product, a 0-d result
    ((2, 3), (3,)),  # matrix · column vector
    ((3,), (3, 2)),  # row vector · matrix
    ((2, 3), (3, 4)),
    ((5, 2, 3), (3, 4)),  # batch · matrix
    ((3,), (2, 3, 4)),  # row vector · batch
    ((2, 3, 4), (4,)),  # batch · column vector
    ((2, 1, 2, 3), (4, 3, 2)),  # broadcast batch axes
]


@pytest.mark.parametrize(("x_shape", "y_shape"), MATMUL_SHAPES)
def test_matmul_cases(x_shape, y_shape):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(x_shape), rng.standard_normal(y_shape)
    out = mg.tensor(x) @ mg.tensor(y)
    assert out.shape == np.matmul(x, y).shape
    np.testing.assert_allclose(out.data, x @ y)
    assert mg.gradcheck(lambda a, b: a @ b, [x, y])
    assert mg.gradcheck(mg.matmul, [x, y])


def test_matmul_with_an_ndarray_on_either_side_gives_tensors_and_gradients():
    w = mg.tensor(np.ones((3, 2)), requires_grad=True)
    x = np.arange(6.0).reshape(2, 3)
    out = x @ w
    assert isinstance(out, mg.Tensor)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad.data, np.repeat(x.sum(axis=0)[:, None], 2, axis=1))
    assert isinstance(w.T @ x.T, mg.Tensor)


# -- ops without gradients ----------------------------------------------------------------------


def test_argmax_and_comparisons_have_no_gradient():
    x = mg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]], requires_grad=True)
    for result, dtype in [
        (x.argmax(), np.int64),
        (x.argmax(axis=1), np.int64),
        (mg.argmax(x, dim=0, keepdim=True), np.int64),
        (x.argmin(axis=-1), np.int64),
        (x < 2, np.bool_),
        (x <= 2, np.bool_),
        (x > 2, np.bool_),
        (x >= 2, np.bool_),
        (x == 2, np.bool_),
        (x != 2, np.bool_),
        (np.float64(3.0) < x, np.bool_),
    ]:
        assert isinstance(result, mg.Tensor)
        assert result.dtype == dtype
        assert not result.requires_grad
        assert result.grad_fn is None
    np.testing.assert_array_equal(x.argmax(axis=1).data, [1, 0])
    assert x.argmax().item() == 3
    assert mg.argmax(x, dim=0, keepdim=True).shape == (1, 3)
    with pytest.raises(TypeError):
        (x > 2).requires_grad = True


# -- numerical stability ------------------------------------------------------------------------


def test_sigmoid_is_stable_for_large_inputs():
    x = mg.tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], dtype=np.float64, requires_grad=True)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        y = x.sigmoid()
        y.sum().backward()
    expected = [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0]
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(x.grad.data, y.data * (1 - y.data), rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logsumexp_is_stable_for_large_inputs(dtype):
    x = mg.tensor([[1000.0, 1000.0], [-1000.0, -1001.0], [1000.0, -1000.0]], dtype=dtype)
    x.requires_grad_()
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        z = mg.logsumexp(x, axis=1)
        z.sum().backward()
    expected = [1000 + np.log(2), -1000 + np.log1p(np.exp(-1.0)), 1000.0]
    assert z.dtype == dtype and x.grad.dtype == dtype
    np.testing.assert_allclose(z.data, expected, rtol=1e-6)
    # The gradient is e^(x - z): in float32, z ≈ 1000 carries an absolute error of ~3e-5
    # (as in PyTorch), which becomes the relative error of the gradient.
    softmax = [[0.5, 0.5], [1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(1.0))], [1.0, 0.0]]
    np.testing.assert_allclose(x.grad.data, softmax, rtol=1e-4 if dtype == np.float32 else 1e-12)


# -- dtypes: float32 stays float32 ---------------------------------------------------------------

SCALAR_OPS = {
    "x + 2.5": lambda x: x + 2.5,
    "2.5 + x": lambda x: 2.5 + x,
    "x - 1": lambda x: x - 1,
    "1 - x": lambda x: 1 - x,
    "2 * x": lambda x: 2 * x,
    "x / 3.0": lambda x: x / 3.0,
    "3.0 / x": lambda x: 3.0 / x,
    "x ** 2": lambda x: x**2,
    "x ** 2.5": lambda x: x**2.5,
    "2.0 ** x": lambda x: 2.0**x,
    "np.float64(2.0) * x": lambda x: np.float64(2.0) * x,
    "x * np.float64(2.0)": lambda x: x * np.float64(2.0),
    "x + np.float64(2.0)": lambda x: x + np.float64(2.0),
    "np.float64(2.0) - x": lambda x: np.float64(2.0) - x,
    "maximum(x, 0.5)": lambda x: mg.maximum(x, 0.5),
    "minimum(0.5, x)": lambda x: mg.minimum(0.5, x),
    "where(x > 1, x, 0.0)": lambda x: mg.where(x > 1, x, 0.0),
    "clip(x, 0.0, 1.5)": lambda x: x.clip(0.0, 1.5),
    "x.mean()": lambda x: x.mean(),
    "logsumexp(x)": lambda x: mg.logsumexp(x),
    "np.exp(x)": np.exp,
}


@pytest.mark.parametrize("op", SCALAR_OPS.values(), ids=SCALAR_OPS.keys())
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_python_and_numpy_scalars_never_upcast_float32(op, shape):
    x = mg.tensor(np.linspace(0.5, 2.5, math.prod(shape)).reshape(shape), dtype=np.float32)
    x.requires_grad_()
    out = op(x)
    assert isinstance(out, mg.Tensor)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x.grad.dtype == np.float32
    assert x.grad.shape == shape


def test_mixed_dtypes_give_gradients_in_each_inputs_dtype():
    x = mg.tensor([1.0, 2.0], requires_grad=True)  # float32
    y = mg.tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    z = x * y
    assert z.dtype == np.float64
    z.sum().backward()
    assert x.grad.dtype == np.float32 and y.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])

    h = mg.tensor([1.0, 2.0], dtype=np.float16, requires_grad=True)
    (h.astype(np.float32) * 2).sum().backward()
    assert h.grad.dtype == np.float16


@given(arrays(shapes(), floats(-2, 2)))
def test_float64_kept_through_a_composite_expression(a):
    x = mg.tensor(a, dtype=np.float64, requires_grad=True)
    y = ((x * 2 + 1).tanh() ** 2 - x.sigmoid() / 3).exp().sum()
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float64 and x.grad.shape == a.shape
