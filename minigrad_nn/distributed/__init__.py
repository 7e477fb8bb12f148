"""Data-parallel training over MPI: the same script on one process, on every core, or a cluster.

    mpirun -n 4 python train.py

runs `train.py` four times; `DistributedDataParallel(model)` keeps the four copies of the model
identical by averaging their gradients, and `DistributedSampler` gives each its own share of
every epoch. Started by plain `python`, the world is one process and nothing needs MPI; with
`mpirun`, mpi4py is needed (`pip install 'minigrad-numpy[distributed]'`).
See docs/distributed.md.
"""

from .comm import (
    DEFAULT_TIMEOUT,
    DistributedTimeoutError,
    abort,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object,
    get_rank,
    get_world_size,
    init,
    is_initialized,
    launched_by_mpi,
    rank0_first,
    run_on_rank0,
)
from .ddp import DistributedDataParallel
from .launch import mpirun_command
from .sampler import DistributedSampler

__all__ = [
    "DEFAULT_TIMEOUT",
    "DistributedDataParallel",
    "DistributedSampler",
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
    "mpirun_command",
    "rank0_first",
    "run_on_rank0",
]
