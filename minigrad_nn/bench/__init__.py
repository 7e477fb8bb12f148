"""Benchmarks that ship with the package: `minigrad bench grad` times backpropagation against the
numerical gradient (the book's gradient check) on the book's 784-h-10 network, with its scaling
table and plot. The repository's `benchmarks/` folder keeps the comparisons that need a clone
(the hand-written NumPy floor, PyTorch, the long runs) and imports this package, never the
reverse."""

from . import grad, timing

__all__ = ["grad", "timing"]
