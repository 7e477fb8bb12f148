"""How many threads NumPy's BLAS uses for a training run, set at run time with threadpoolctl.

BLAS threads pay only for large matrix products. For the book's small networks one thread is
fastest, and more threads are much slower as soon as another process wants a core (the threads
wait for each other): on a 2-core VM with one busy core, a 784-50-10 step took 15 ms with two
threads and 1.4 ms with one, while 784-1024-1024-10 at batch 100 took 15 ms with two and 20 ms
with one. So the default is one thread unless a layer's product is large.

`minigrad train` sets the count after NumPy is loaded (the `minigrad` entry point imports it
before any of our code runs, so `OPENBLAS_NUM_THREADS` would come too late); threadpoolctl is
the standard way to do that for OpenBLAS, MKL and BLIS alike.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

__all__ = ["available_cores", "default_threads", "limit_threads"]

#: Multiply-adds of one layer's product per batch above which more threads pay
#: (100 x 784 x 300 = 2.4e7 did not, 100 x 1024 x 1024 = 1.0e8 did, as measured above).
PARALLEL_WORK = 5e7


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(sizes: Sequence[int], batch_size: int) -> int:
    """The thread count that is fastest for an MLP of `sizes` at `batch_size`: one, unless a
    layer's product (batch x in x out) is large enough to share."""
    work = max((batch_size * a * b for a, b in itertools.pairwise(sizes)), default=0)
    return available_cores() if work >= PARALLEL_WORK else 1


def limit_threads(n: int) -> Any:
    """A context manager that limits every BLAS (and OpenMP) pool NumPy has loaded to `n`
    threads inside its block, or for good when not used in a `with`."""
    from threadpoolctl import threadpool_limits

    if n < 1:
        raise ValueError(f"the thread count must be at least 1, got {n}")
    return threadpool_limits(limits=n)
