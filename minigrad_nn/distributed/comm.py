"""The process group: which process am I, how many are we, and collectives that cannot hang.

`mpirun -n N python script.py` starts N copies of one script; `init()` joins them through MPI
(mpi4py, the standard binding) and every collective below then involves all N. Started by plain
`python`, the world is a single process: rank 0 of 1, every collective returns its input, and
neither MPI nor mpi4py is needed.

Two promises hold in a world of several processes:
  * an uncaught exception on any rank prints its traceback and ends every rank (MPI_Abort), so a
    crash on one rank never leaves the others blocked for ever;
  * every collective waits with a deadline (`timeout`, 300 s by default; `init(timeout=...)` or
    `$MINIGRAD_DIST_TIMEOUT`): a rank that never arrives makes the others raise
    `DistributedTimeoutError`, which, uncaught, ends the job as above.
Collectives are therefore started non-blocking (MPI_Iallreduce, ...) and polled until done.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from minigrad import Tensor

__all__ = [
    "DEFAULT_TIMEOUT",
    "DistributedTimeoutError",
    "abort",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object",
    "get_rank",
    "get_world_size",
    "init",
    "is_initialized",
    "launched_by_mpi",
    "rank0_first",
    "run_on_rank0",
]

#: Open MPI settings `init` makes unless the environment sets them (other MPIs ignore them).
#: Every collective here is non-blocking, and Open MPI's own choice of algorithm for a
#: non-blocking all-reduce of 2 ranks (recursive doubling) moves a 7 MB gradient 3x slower than
#: its blocking all-reduce does here; the ring (1), what NCCL and Gloo use for gradients,
#: matches the blocking one (docs/distributed.md, "Buckets and overlap").
OPEN_MPI_SETTINGS = {"OMPI_MCA_coll_libnbc_iallreduce_algorithm": "1"}
DEFAULT_TIMEOUT = 300.0  # seconds; a rank saving a checkpoint or evaluating stays well under it
TIMEOUT_VARIABLE = "MINIGRAD_DIST_TIMEOUT"
INSTALL_HINT = "pip install 'minigrad-numpy[distributed]' (mpi4py; needs OpenMPI or MPICH)"
# What MPI launchers put in each process's environment: OpenMPI, PMIx, MPICH/Intel MPI (Hydra).
LAUNCHER_VARIABLES = (
    "OMPI_COMM_WORLD_SIZE",
    "PMIX_RANK",
    "PMI_SIZE",
    "PMI_RANK",
    "MPI_LOCALNRANKS",
)


class DistributedTimeoutError(TimeoutError):
    """A collective did not complete in time: some rank never arrived (stuck, dead or slower)."""


@dataclass
class _World:
    comm: Any  # an mpi4py communicator, or None in a world of one process without MPI
    rank: int
    size: int
    timeout: float


_world: _World | None = None
T = TypeVar("T")


def launched_by_mpi() -> bool:
    """Whether this process was started by `mpirun`/`mpiexec` (its environment says so)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def init(timeout: float | None = None) -> None:
    """Join the processes started by `mpirun` (idempotent; every other function calls it).

    Without an MPI launcher this is a world of one process that never imports mpi4py. `timeout`
    (seconds) bounds every later collective; it can be changed by calling `init` again.
    """
    global _world
    timeout = _checked_timeout(timeout)
    if _world is not None:
        if timeout is not None:
            _world.timeout = timeout
        return
    if timeout is None:
        timeout = _checked_timeout(os.environ.get(TIMEOUT_VARIABLE, DEFAULT_TIMEOUT))
    if not launched_by_mpi():
        _world = _World(None, 0, 1, timeout)
        return
    for name, value in OPEN_MPI_SETTINGS.items():  # read by Open MPI when mpi4py starts it
        os.environ.setdefault(name, value)
    try:
        from mpi4py import MPI
    except ImportError as err:
        found = next(name for name in LAUNCHER_VARIABLES if name in os.environ)
        raise ImportError(
            f"this process was started by an MPI launcher (${found} is set), but mpi4py is "
            f"not installed: {INSTALL_HINT}"
        ) from err
    comm = MPI.COMM_WORLD
    _world = _World(comm, comm.Get_rank(), comm.Get_size(), timeout)
    if _world.size > 1:
        sys.excepthook = _end_every_rank(sys.excepthook)


def is_initialized() -> bool:
    """Whether `init()` has run in this process."""
    return _world is not None


def get_rank() -> int:
    """This process's number, 0 to world size - 1 (0 without MPI)."""
    return _get_world().rank


def get_world_size() -> int:
    """How many processes train together (1 without MPI)."""
    return _get_world().size


def barrier(timeout: float | None = None) -> None:
    """Wait until every rank has called `barrier` (at most `timeout` seconds)."""
    world = _get_world()
    if world.size > 1:
        wait([world.comm.Ibarrier()], "barrier", timeout)


def all_reduce(array: Any, op: str = "sum", timeout: float | None = None) -> Any:
    """Sum (or average, `op="mean"`) `array` over all ranks; every rank gets the result.

    An ndarray or a Tensor is reduced in place and returned (as `torch.distributed.all_reduce`);
    a Python or NumPy number gives back the reduced number.
    """
    if op not in ("sum", "mean"):
        raise ValueError(f'all_reduce op must be "sum" or "mean", got {op!r}')
    target, number = _as_array(array, "all_reduce")
    if op == "mean" and target.dtype.kind not in "fc":
        raise TypeError(f'all_reduce(op="mean") needs a floating array, got {target.dtype}')
    world = _get_world()
    if world.size > 1:
        buffer = target if target.flags.c_contiguous else np.ascontiguousarray(target)
        from mpi4py import MPI

        wait([world.comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)], "all_reduce", timeout)
        if op == "mean":
            buffer /= world.size
        if buffer is not target:
            target[...] = buffer
        _mark_changed(array)
    if number:
        return target.item()
    return array


def broadcast(array: Any, root: int = 0, timeout: float | None = None) -> Any:
    """Overwrite `array` (ndarray or Tensor, in place) on every rank with rank `root`'s."""
    target, number = _as_array(array, "broadcast")
    if number:
        raise TypeError("broadcast works in place on an ndarray or Tensor; for a number or "
                        "any other Python object use broadcast_object")
    world = _get_world()
    _check_root(root, world)
    if world.size > 1:
        buffer = target if target.flags.c_contiguous else np.ascontiguousarray(target)
        wait([world.comm.Ibcast(buffer, root=root)], "broadcast", timeout)
        if buffer is not target:
            target[...] = buffer
        _mark_changed(array)
    return array


def broadcast_object(obj: Any, root: int = 0, timeout: float | None = None) -> Any:
    """Rank `root`'s `obj` (any picklable object) on every rank; returns it."""
    world = _get_world()
    _check_root(root, world)
    if world.size == 1:
        return obj
    payload = pickle.dumps(obj) if world.rank == root else b""
    length = np.array([len(payload)], dtype=np.int64)
    wait([world.comm.Ibcast(length, root=root)], "broadcast_object", timeout)
    buffer = bytearray(payload) if world.rank == root else bytearray(int(length[0]))
    wait([world.comm.Ibcast(buffer, root=root)], "broadcast_object", timeout)
    return obj if world.rank == root else pickle.loads(bytes(buffer))


def abort(code: int = 1) -> None:
    """End every rank of the job now with exit status `code` (MPI_Abort); without MPI, exit.

    For an error met on one rank that the program handles itself (a message and an exit
    status, as the `minigrad` command does): exiting alone would leave the other ranks waiting
    for it until their timeout."""
    sys.stdout.flush()
    sys.stderr.flush()
    world = _world
    if world is not None and world.comm is not None and world.size > 1:
        world.comm.Abort(code)
    sys.exit(code)


def run_on_rank0(fn: Callable[[], T], share: bool = False) -> T | None:
    """Call `fn()` on rank 0 only (checking or writing a file); an exception it raises is raised
    on every rank, so that all of them stop with the same error instead of waiting for rank 0.
    Returns its result on rank 0, and on every rank with `share` (None elsewhere without)."""
    world = _get_world()
    if world.size == 1:
        return fn()
    result: Any = None
    error: Exception | None = None
    message: tuple[bool, Any] | None = None
    if world.rank == 0:
        try:
            result = fn()
            message = (True, result if share else None)
        except Exception as err:  # raised below, on every rank
            error = err
            message = (False, _picklable(err))
    ok, value = broadcast_object(message)
    if error is not None:
        raise error
    if not ok:
        raise value
    return result if world.rank == 0 else value


def rank0_first(fn: Callable[[], T]) -> T:
    """Call `fn()` on rank 0, then on the other ranks: for work that fills a shared place the
    first time (a download into a cache), so that the ranks do not all race to do it."""
    world = _get_world()
    if world.size == 1:
        return fn()
    result = run_on_rank0(fn)
    if world.rank == 0:
        return result  # type: ignore[return-value]
    return fn()


# ---------------------------------------------------------------------------- waiting


def start_sum(buffer: np.ndarray) -> Any:
    """Start summing the contiguous `buffer` over all ranks, in place; returns the MPI request
    for `wait` (DistributedDataParallel's buckets)."""
    from mpi4py import MPI

    return _get_world().comm.Iallreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)


def progress(requests: list[Any]) -> None:
    """Give MPI a chance to move non-blocking operations on, without waiting for them (Open
    MPI advances a non-blocking collective only inside MPI calls)."""
    from mpi4py import MPI

    MPI.Request.Testall(requests)


def wait(requests: list[Any], what: str, timeout: float | None = None) -> None:
    """Poll MPI requests until all are complete, or raise DistributedTimeoutError.

    Open MPI moves a non-blocking collective on only inside MPI calls, so the poll must be
    frequent: for the first second it tests without pause (yielding the core after the first
    millisecond, for ranks that share cores). A 7 MB all-reduce takes several milliseconds
    of such calls; sleeping between them would stretch it. After a second the peer is late,
    not the transfer (rank 0 evaluating, saving, or stuck), and the poll sleeps up to 10 ms
    between tests, so a waiting rank leaves the CPU to others.
    """
    from mpi4py import MPI

    world = _get_world()
    limit = world.timeout if timeout is None else _checked_timeout(timeout)
    start = time.perf_counter()
    while not MPI.Request.Testall(requests):
        waited = time.perf_counter() - start
        if waited > limit:
            raise DistributedTimeoutError(
                f"rank {world.rank} of {world.size}: {what} did not complete within {limit:g} s; "
                "another rank never arrived (it is stuck, has died, or is slower than the "
                f"timeout). Raise the limit with init(timeout=...) or ${TIMEOUT_VARIABLE}."
            )
        if waited > 1.0:
            time.sleep(min(0.01, waited / 100))
        elif waited > 1e-3 and hasattr(os, "sched_yield"):  # (not on Windows)
            os.sched_yield()


def _end_every_rank(previous_hook: Any) -> Any:
    """An excepthook that prints the error (rank first) and then aborts the whole MPI job.

    Without it, a rank that dies of an exception leaves the others waiting in their next
    collective until the timeout. KeyboardInterrupt (Ctrl-C reaches every rank under mpirun) is
    printed without aborting, so that rank 0 can finish saving its checkpoint."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: Any) -> None:
        world = _world
        rank = "?" if world is None else world.rank
        size = "?" if world is None else world.size
        if issubclass(exc_type, KeyboardInterrupt):
            previous_hook(exc_type, exc, tb)
            return
        message = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(f"[rank {rank} of {size}] {message}")
        sys.stderr.write(f"[rank {rank} of {size}] ending every rank (MPI_Abort)\n")
        sys.stderr.flush()
        sys.stdout.flush()
        if world is not None and world.comm is not None:
            world.comm.Abort(1)

    return hook


# ---------------------------------------------------------------------------- helpers


def _get_world() -> _World:
    if _world is None:
        init()
    assert _world is not None
    return _world


def _as_array(value: Any, what: str) -> tuple[np.ndarray, bool]:
    """The ndarray to work on and whether `value` was a number (reduced on a copy)."""
    if isinstance(value, Tensor):
        return value.data, False
    if isinstance(value, np.ndarray):
        if not value.flags.writeable:
            raise ValueError(f"{what} works in place, but the array is read-only")
        if value.dtype.kind not in "iufc":
            raise TypeError(f"{what} needs a numeric array, got {value.dtype}")
        return value, False
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return np.array(value), True
    raise TypeError(f"{what} takes an ndarray, a Tensor or a number, got {type(value).__name__}")


def _mark_changed(value: Any) -> None:
    """Tell a Tensor its array was written in place (assigning `.data` its own array counts as
    an in-place change), so a graph that saved it refuses a stale backward."""
    if isinstance(value, Tensor):
        value.data = value.data


def _picklable(err: Exception) -> Exception:
    """`err` itself if it can travel to the other ranks, else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        return RuntimeError(f"{type(err).__name__}: {err}")
    return err


def _check_root(root: int, world: _World) -> None:
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)):
        raise TypeError(f"root must be an int, got {type(root).__name__}")
    if not 0 <= root < world.size:
        raise ValueError(f"root {root} is not a rank of this world of {world.size}")


def _checked_timeout(timeout: Any) -> float | None:
    if timeout is None:
        return None
    try:
        value = float(timeout)
    except (TypeError, ValueError) as err:
        raise ValueError(f"timeout must be a number of seconds, got {timeout!r}") from err
    if not value > 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    return value
