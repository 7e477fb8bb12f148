"""One table over every op: values against NumPy, backprop against central differences
(`mg.gradcheck` in float64), gradients of their inputs' shape and dtype whatever the memory
layout, and float32 kept through forward and backward.

Then the cases a table cannot express: ties in max/min, repeated indices, matmul's 1-D rules,
ops without gradients, numerical stability, and the dtype of results with scalar operands."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from gradcheck_table import Case, example, table_tests
from hypothesis import given
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
from minigrad import ops


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
def linear_triple(draw):
    """x of shape (..., n) with batch axes, W (m, n) (PyTorch's layout) and b broadcastable to
    (m,): the fused Linear op."""
    batch = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=MAX_SIDE))
    n, m = draw(st.integers(0, MAX_SIDE)), draw(st.integers(0, MAX_SIDE))
    b_shape = draw(st.sampled_from([(m,), (1,), (1, m)]))
    return (draw(arrays((*batch, n))), draw(arrays((m, n))), draw(arrays(b_shape))), {}


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

@st.composite
def tensordot_example(draw):
    """Two arrays sharing `k` axes (paired in order or by explicit axes), as NumPy's tensordot."""
    k = draw(st.integers(0, 2))
    shared = draw(shapes(min_dims=k, max_dims=k))
    a_free, b_free = draw(shapes(max_dims=2)), draw(shapes(max_dims=2))
    if draw(st.booleans()):  # axes=k: the last k of a, the first k of b
        return (draw(arrays((*a_free, *shared))), draw(arrays((*shared, *b_free)))), {"axes": k}
    a = draw(arrays((*shared, *a_free)))  # explicit pairs: the first k of both
    b = draw(arrays((*shared, *b_free)))
    return (a, b), {"axes": (list(range(k)), list(range(k)))}


@st.composite
def dot_example(draw):
    """np.dot's cases: scalars, 1-D and 2-D, N-D with 1-D, and N-D with M-D."""
    n = draw(st.integers(0, MAX_SIDE))
    a_shape = draw(st.sampled_from([(), (n,), (2, n), (2, 1, n)]))
    b_shape = draw(st.sampled_from([(), (n,), (n, 2), (3, n, 2)]))
    if not a_shape or not b_shape:  # a product with a scalar
        a_shape, b_shape = (a_shape or (2, 3)), ()
    return (draw(arrays(a_shape)), draw(arrays(b_shape))), {}


@st.composite
def pad_example(draw):
    shape = draw(shapes())
    widths = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in shape)
    form = draw(st.sampled_from(["pairs", "int", "numpy"]))
    if form == "int" or not shape:  # (NumPy takes no pairs for a 0-d array)
        widths = draw(st.integers(0, 2))
    return (draw(arrays(shape)),), {"pad_width": widths, "value": 0.5, "form": form}


def pad_f(x, pad_width, value, form):
    if form == "numpy":
        return np.pad(x, pad_width, constant_values=value)
    return mg.pad(x, pad_width, value=value)


def pad_ref(x, pad_width, value, form):
    return np.pad(x, pad_width, constant_values=value)


@st.composite
def expand_dims_example(draw):
    shape = draw(shapes(max_dims=2))
    count = draw(st.integers(1, 2))
    ndim = len(shape) + count
    axes = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=count, max_size=count).filter(
        lambda axes: len({a % ndim for a in axes}) == count
    ))
    return (draw(arrays(shape)),), {"axis": tuple(axes) if count > 1 else axes[0]}


@st.composite
def softmax_example(draw):
    """x and an axis of length >= 1 (the softmax of no elements is undefined)."""
    shape = draw(shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    shape = tuple(max(n, 1) if i == axis % len(shape) else n for i, n in enumerate(shape))
    return (draw(arrays(shape)),), {"axis": axis}


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis):
    shifted = x - x.max(axis=axis, keepdims=True, initial=-np.inf)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@st.composite
def cross_entropy_example(draw):
    """Logits (N, C) or (C,) against class indices (a constant) or probabilities (an input)."""
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    shape = draw(st.sampled_from([(n, c), (c,)]))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    x = draw(arrays(shape))
    if draw(st.booleans()):
        labels = draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, c - 1)))
        return (x,), {"reduction": reduction, "labels": labels}
    return (x, draw(arrays(shape, floats(0.0, 1.0)))), {"reduction": reduction, "labels": None}


def cross_entropy_f(x, t=None, *, reduction, labels):
    return mg.cross_entropy(x, labels if t is None else t, reduction=reduction)


def cross_entropy_ref(x, t=None, *, reduction, labels):
    log_p = np_log_softmax(x, -1)
    if t is None:
        t = np.eye(x.shape[-1])[labels]
    losses = -(t * log_p).sum(axis=-1)
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](losses)


@st.composite
def scatter_add_example(draw):
    """ScatterAdd, the adjoint of indexing: zeros(shape) with values added at an index."""
    shape = draw(shapes(min_dims=1, min_side=1))
    index = draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2)))
    values = draw(arrays(np.zeros(shape)[index].shape))
    return (values,), {"index": index, "shape": shape}


def scatter_add_ref(values, index, shape):
    out = np.zeros(shape)
    np.add.at(out, index, values)
    return out


E, R, S, L, N = ops.elementwise, ops.reduce, ops.shape, ops.linalg, ops.nn

CASES = [
    Case("add", broadcast_pair(), lambda x, y: x + y, np.add, (E.Add,)),
    Case("sub", broadcast_pair(), lambda x, y: x - y, np.subtract, (E.Sub,)),
    Case("mul", broadcast_pair(), lambda x, y: x * y, np.multiply, (E.Mul,)),
    Case(
        "div", broadcast_pair(y_elements=away_from_zero()), lambda x, y: x / y, np.divide, (E.Div,)
    ),
    Case("pow", broadcast_pair(positive(), floats(-2, 2)), lambda x, y: x**y, np.power, (E.Pow,)),
    Case(
        "pow_scalar",
        example(arrays(shapes(), positive()), p=st.sampled_from([2, 3, -1.5, 0.5])),
        lambda x, p: x**p,
        lambda x, p: x**p,
        (E.Pow,),
    ),
    Case("rpow", unary(), lambda x: 1.5**x, lambda x: 1.5**x, (E.Pow,)),
    Case("rsub", unary(), lambda x: 1 - x, lambda x: 1 - x, (E.Sub,)),
    Case("rdiv", unary(away_from_zero()), lambda x: 2 / x, lambda x: 2 / x, (E.Div,)),
    Case("neg", unary(), lambda x: -x, np.negative, (E.Neg,)),
    Case("matmul", matmul_pair(), lambda x, y: x @ y, np.matmul, (L.MatMul,)),
    Case("affine", affine_triple(), mg.affine, lambda x, w, b: x @ w + b, (L.Affine,)),
    Case("linear", linear_triple(), mg.linear, lambda x, w, b: x @ w.T + b, (L.Linear,)),
    Case(
        "tensordot",
        tensordot_example(),
        mg.tensordot,
        lambda a, b, axes: np.tensordot(a, b, axes),
        (L.MatMul,),
    ),
    Case("dot", dot_example(), np.dot, np.dot, ()),
    Case("exp", unary(floats(-4, 4)), mg.exp, np.exp, (E.Exp,)),
    Case("log", unary(positive()), lambda x: x.log(), np.log, (E.Log,)),
    Case("sqrt", unary(positive()), mg.sqrt, np.sqrt, (E.Sqrt,)),
    Case("abs", unary(off_grid), abs, np.abs, (E.Abs,)),
    Case("tanh", unary(), lambda x: x.tanh(), np.tanh, (E.Tanh,)),
    Case(
        "sigmoid", unary(floats(-6, 6)), mg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), (E.Sigmoid,)
    ),
    Case("relu", unary(off_grid), lambda x: x.relu(), lambda x: np.maximum(x, 0), (E.ReLU,)),
    Case(
        "clip",
        example(
            arrays(shapes(), off_grid),
            bounds=st.sampled_from([(-1.0, 1.0), (None, 0.5), (-0.5, None)]),
        ),
        lambda x, bounds: x.clip(*bounds),
        lambda x, bounds: np.clip(x, *bounds),
        (E.Clip,),
    ),
    Case("sum", reduction(), reduce_op("sum"), reduce_ref(np.sum), (R.Sum,)),
    Case("mean", reduction(nonempty=True), reduce_op("mean"), reduce_ref(np.mean), (R.Mean,)),
    Case(
        "max", reduction(distinct, nonempty=True), reduce_op("max"), reduce_ref(np.max), (R.Max,)
    ),
    Case(
        "min", reduction(distinct, nonempty=True), reduce_op("min"), reduce_ref(np.min), (R.Min,)
    ),
    Case(
        "logsumexp",
        reduction(nonempty=True),
        reduce_op("logsumexp"),
        reduce_ref(np_logsumexp),
        (R.LogSumExp,),
    ),
    Case(
        "reshape",
        reshape_example(),
        reshape_f,
        lambda x, shape, as_tuple: x.reshape(shape),
        (S.Reshape,),
    ),
    Case(
        "transpose",
        transpose_example(),
        transpose_f,
        lambda x, axes: x.transpose(axes),
        (S.Transpose,),
    ),
    Case("T", unary(), lambda x: x.T, lambda x: x.T, (S.Transpose,)),
    Case("swapaxes", swapaxes_example(), swapaxes_f, np.swapaxes, (S.Transpose,)),
    Case(
        "flatten", flatten_example(), lambda x, **dims: x.flatten(**dims), flatten_ref, (S.Reshape,)
    ),
    Case(
        "squeeze",
        squeeze_example(),
        squeeze_f,
        lambda x, axis, torch: np.squeeze(x, axis=axis),
        (S.Reshape,),
    ),
    Case(
        "unsqueeze",
        unsqueeze_example(),
        lambda x, axis: x.unsqueeze(axis),
        lambda x, axis: np.expand_dims(x, axis),
        (S.Reshape,),
    ),
    Case("expand_dims", expand_dims_example(), mg.expand_dims, np.expand_dims, (S.Reshape,)),
    Case(
        "expand",
        expand_example(),
        expand_f,
        lambda x, target, spelling: np.broadcast_to(x, target),
        (S.BroadcastTo,),
    ),
    Case(
        "getitem_basic",
        basic_index_example(),
        lambda x, index: x[index],
        index_ref,
        (S.GetItem,),
    ),
    Case(
        "getitem_integer",
        integer_index_example(),
        lambda x, index: x[index],
        index_ref,
        (S.GetItem,),
    ),
    Case(
        "getitem_mask", mask_index_example(), lambda x, index: x[index], index_ref, (S.GetItem,)
    ),
    Case(
        "scatter_add",
        scatter_add_example(),
        lambda values, index, shape: S.ScatterAdd.apply(values, index=index, shape=shape),
        scatter_add_ref,
        (S.ScatterAdd,),
    ),
    Case(
        "concatenate",
        concatenate_example(),
        concatenate_f,
        lambda *xs, axis, spelling: np.concatenate(xs, axis=axis),
        (S.Concatenate,),
    ),
    Case(
        "stack",
        stack_example(),
        lambda *xs, axis: mg.stack(xs, axis=axis),
        lambda *xs, axis: np.stack(xs, axis=axis),
        (S.Stack,),
    ),
    Case("pad", pad_example(), pad_f, pad_ref, (S.Pad,)),
    Case(
        "where",
        where_example(),
        lambda x, y, condition: mg.where(condition, x, y),
        lambda x, y, condition: np.where(condition, x, y),
        (E.Where,),
    ),
    Case("maximum", broadcast_pair(on_grid, off_grid), mg.maximum, np.maximum, (E.Maximum,)),
    Case("minimum", broadcast_pair(on_grid, off_grid), mg.minimum, np.minimum, (E.Minimum,)),
    Case(
        "astype",
        unary(),
        lambda x: x.astype(np.longdouble),
        lambda x: x.astype(np.longdouble),
        (E.Cast,),
        out_dtype=np.longdouble,
    ),
    Case("clone", unary(), lambda x: x.clone(), np.copy, (E.Clone,)),
    Case("softmax", softmax_example(), mg.softmax, np_softmax, (N.Softmax,)),
    Case("log_softmax", softmax_example(), mg.log_softmax, np_log_softmax, (N.LogSoftmax,)),
    Case(
        "cross_entropy",
        cross_entropy_example(),
        cross_entropy_f,
        cross_entropy_ref,
        (N.CrossEntropy,),
    ),
]


test_op, test_op_second_order = table_tests(CASES)


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
