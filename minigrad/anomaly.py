"""Anomaly detection: `with mg.detect_anomaly():` raises as soon as an op produces NaN or inf, in
forward or backward, naming the op and the line of user code that called it."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np

#: Whether ops check their results (read by `Function.apply` and the backward pass). One switch
#: for the whole process, as PyTorch's anomaly mode is (grad mode, by contrast, is per thread).
enabled = False


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Check every op's result for NaN and inf while the block runs. Slow (a check per op): for
    debugging only."""
    global enabled
    previous, enabled = enabled, True
    try:
        yield
    finally:
        enabled = previous


class AnomalyError(FloatingPointError):
    """A NaN or inf appeared under `detect_anomaly()`."""


_LIBRARY_MODULES = ("minigrad", "minigrad_nn")


def user_call_site() -> str:
    """`file:line` of the innermost stack frame of user code: the first whose module is not
    part of minigrad or minigrad_nn (a layer's forward is not where the user called the op)."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.split(".", 1)[0] not in _LIBRARY_MODULES:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def check_finite(op_name: str, call_site: str, array: Any, what: str) -> None:
    """Raise `AnomalyError` if `array` holds NaN or inf ("forward of Log produced NaN ...")."""
    array = np.asarray(array)
    if array.dtype.kind in "fc" and not np.isfinite(array).all():
        bad = "NaN" if np.isnan(array).any() else "inf"
        where = call_site or "a line not recorded (run the forward pass under detect_anomaly)"
        raise AnomalyError(f"{what} of {op_name} produced {bad}; the op was called at {where}")
