"""Hypothesis strategies for the engine's tests: small shapes, float64 arrays (with values away
from an op's kinks when asked) and memory layouts that are not C-contiguous.

Shapes stay small (at most 3 axes of length at most 3) so that a float64 `gradcheck`, which
evaluates the function twice per element, stays cheap."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_DIMS = 3
MAX_SIDE = 3

LAYOUTS = ("C", "F", "strided", "reversed")


def shapes(
    min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 0, max_side: int = MAX_SIDE
) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, 0-d and size-0 included unless excluded."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def broadcastable_shapes(num_shapes: int = 2, min_side: int = 0) -> st.SearchStrategy:
    """`num_shapes` mutually broadcastable shapes (a tuple of tuples)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=0, max_dims=MAX_DIMS, min_side=min_side, max_side=MAX_SIDE
    ).map(lambda shapes: shapes.input_shapes)


def floats(low: float = -3.0, high: float = 3.0) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def grid(step: float = 0.25, offset: float = 0.5, n: int = 12) -> st.SearchStrategy[float]:
    """Values (k + offset)·step for |k| <= n: with offset 0.5 they keep a distance of step/2
    from every multiple of `step` (0 included), the kinks of relu, abs and clip."""
    return st.integers(-n, n).map(lambda k: (k + offset) * step)


def relayout(array: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout: Fortran order (a transposed array), every
    other element of a bigger buffer, or a twice-flipped view with negative strides."""
    if array.ndim == 0 or layout == "C":
        out = array
    elif layout == "F":
        out = np.asfortranarray(array)
    elif layout == "strided":
        buffer = np.zeros((*array.shape[:-1], 2 * array.shape[-1]))
        buffer[..., ::2] = array
        out = buffer[..., ::2]
    else:
        out = np.flip(np.flip(array).copy())
    assert np.array_equal(out, array)
    return out


def arrays(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
    elements: st.SearchStrategy[float] | None = None,
    unique: bool = False,
) -> st.SearchStrategy[np.ndarray]:
    """float64 arrays of `shape` in any layout (values in [-3, 3] unless `elements` says)."""
    values = hnp.arrays(
        np.float64, shape, elements=floats() if elements is None else elements, unique=unique
    )
    return st.builds(relayout, values, st.sampled_from(LAYOUTS))


def positive(low: float = 0.2, high: float = 4.0) -> st.SearchStrategy[float]:
    return floats(low, high)


def away_from_zero(low: float = 0.5, high: float = 3.0) -> st.SearchStrategy[float]:
    return st.one_of(floats(low, high), floats(-high, -low))


def distinct(
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]],
) -> st.SearchStrategy[np.ndarray]:
    """Arrays whose elements differ pairwise by at least 1/8: no ties for max and min."""
    return arrays(shape, st.integers(-60, 60).map(lambda k: k / 8), unique=True)


@st.composite
def reduction_axes(draw: st.DrawFn, ndim: int) -> int | tuple[int, ...] | None:
    """An `axis` argument: None, an int or a tuple, negative axes included."""
    if ndim == 0:
        return None
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    return draw(hnp.valid_tuple_axes(ndim, min_size=1))
