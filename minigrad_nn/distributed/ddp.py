"""`DistributedDataParallel`: one model per rank, kept identical by averaging gradients.

Each rank runs forward and backward on its own part of the global batch. If every rank starts
from the same parameters and applies the same optimizer step with the same gradient, the copies
stay identical, and that gradient is the mean of the ranks' gradients: for a loss that averages
over its batch, the mean over N ranks of the gradient of N batches of b samples is the gradient
of the batch of N·b samples, so N ranks train exactly as one process with N times the batch.

The gradients travel in a few flat arrays ("buckets", about `bucket_cap_mb` each) rather than one
message per parameter: a message costs a fixed latency on top of its bytes. A post-accumulate hook
on every parameter copies its `.grad` into its bucket as soon as backward has completed it; a
bucket whose last gradient arrives is summed over ranks at once (MPI_Iallreduce, non-blocking)
while backward computes the gradients of earlier layers, and when the last bucket is complete,
every bucket is awaited, divided by N and copied back into each `.grad`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..module import Module, Parameter
from . import comm

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters of one dtype whose gradients travel together in one flat array."""

    def __init__(self, params: list[Parameter]) -> None:
        self.params = params
        self.flat = np.zeros(sum(p.size for p in params), dtype=params[0].dtype)
        self.views: list[np.ndarray] = []  # each parameter's slot of `flat`, in its shape
        start = 0
        for p in params:
            self.views.append(self.flat[start : start + p.size].reshape(p.shape))
            start += p.size
        self.arrived = [False] * len(params)  # which gradients this backward has delivered
        self.missing = len(params)
        self.request: Any = None  # the MPI request of the bucket's reduction, once started

    @property
    def nbytes(self) -> int:
        return self.flat.nbytes


class DistributedDataParallel(Module):
    """Wrap `module` so that after `loss.backward()` every gradient is the mean over all ranks.

    At construction every rank checks that its model has rank 0's parameter names, shapes and
    dtypes, then takes rank 0's parameters and buffers. Use the wrapper as the model
    (`model(x)`), and save `ddp.module.state_dict()` (PyTorch's spelling; the wrapper's own state
    dict prefixes `module.`).

    - `bucket_cap_mb`: the size of the flat arrays gradients are reduced in.
    - `broadcast_buffers`: before each forward in training mode, rank 0's buffers (BatchNorm's
      running statistics) replace every rank's, as PyTorch's default. Batch statistics are
      always per rank: BatchNorm normalises each rank's batch on its own (no SyncBatchNorm).
    - `overlap`: start a bucket's reduction as soon as its gradients are complete (True), or all
      of them after the last gradient arrives (False).

    Gradients are reduced in `backward()`; `mg.grad()` and `create_graph=True` are not
    supported (as in PyTorch's DDP). Within `with ddp.no_sync():` backward accumulates local
    gradients without communicating; the next backward outside it averages the accumulated sum.
    Every parameter that requires grad must receive a gradient in every backward.
    `communication_seconds` adds up the time spent reducing gradients (starting the reductions,
    waiting for them, copying back).
    """

    def __init__(
        self,
        module: Module,
        bucket_cap_mb: float = 1.0,
        broadcast_buffers: bool = True,
        overlap: bool = True,
    ) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        super().__init__()
        self.module = module
        self.broadcast_buffers = broadcast_buffers
        self.overlap = overlap
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.communication_seconds = 0.0
        self._world_size = comm.get_world_size()
        self._sync = True
        self._hook_handles: list[Any] = []
        params = [p for p in module.parameters() if p.requires_grad]
        self._buckets = _make_buckets(params, int(self.bucket_cap_mb * 2**20))
        self._pending = len(self._buckets)  # buckets still incomplete in this backward
        self._started: list[Any] = []  # the requests of the reductions started in it
        if self._world_size > 1:
            _check_same_model(module)
            self._broadcast_state()
            self._hook_handles = [
                p.register_post_accumulate_grad_hook(self._make_hook(bucket, i))
                for bucket in self._buckets
                for i, p in enumerate(bucket.params)
            ]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        self._check_last_backward()
        if self._world_size > 1 and self.broadcast_buffers and self.training:
            self._broadcast_state(parameters=False)
        return self.module(*args, **kwargs)

    def sync_buffers(self) -> None:
        """Copy rank 0's buffers to every rank (e.g. before the ranks evaluate the model)."""
        if self._world_size > 1:
            self._broadcast_state(parameters=False)

    def close(self) -> None:
        """Remove the gradient hooks from the module's parameters: it trains alone again."""
        for handle in self._hook_handles:
            handle.remove()
        self._hook_handles = []

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate local gradients without communicating."""
        previous, self._sync = self._sync, False
        try:
            yield
        finally:
            self._sync = previous

    def extra_repr(self) -> str:
        sizes = ", ".join(f"{b.nbytes / 2**10:.0f} KiB" for b in self._buckets)
        return f"world_size={self._world_size}, buckets=[{sizes}]"

    # -- construction ----------------------------------------------------------------------

    def _broadcast_state(self, parameters: bool = True) -> None:
        """Overwrite this rank's buffers (and parameters) with rank 0's."""
        arrays = [p.data for p in self.module.parameters()] if parameters else []
        arrays += [b for b in self.module.buffers() if b.size]
        for array in arrays:
            comm.broadcast(array, root=0)

    # -- the reduction during backward -----------------------------------------------------

    def _make_hook(self, bucket: _Bucket, slot: int) -> Any:
        def hook(param: Parameter) -> None:
            if not self._sync:
                return
            start = time.perf_counter()
            grad = param.grad
            if grad.requires_grad:
                raise RuntimeError(
                    "DistributedDataParallel does not support backward(create_graph=True)"
                )
            view = bucket.views[slot]
            if grad.dtype != view.dtype:
                raise TypeError(
                    f"a gradient of dtype {grad.dtype} for a parameter DistributedDataParallel "
                    f"saw as {view.dtype}: convert the model before wrapping it"
                )
            np.copyto(view, grad.data)  # the whole .grad: an earlier no_sync backward's too
            bucket.arrived[slot] = True
            bucket.missing -= 1
            if bucket.missing == 0:
                self._pending -= 1
                if self.overlap:
                    self._start(bucket)
                if self._pending == 0:  # the last gradient of this backward
                    self._finish()
            elif self._started:  # let MPI move the reductions on while backward goes on
                comm.progress(self._started)
            self.communication_seconds += time.perf_counter() - start

        return hook

    def _start(self, bucket: _Bucket) -> None:
        bucket.request = comm.start_sum(bucket.flat)
        self._started.append(bucket.request)

    def _finish(self) -> None:
        """Wait for every bucket, average, and copy the means into every .grad."""
        if not self.overlap:
            for bucket in self._buckets:
                self._start(bucket)
        comm.wait([b.request for b in self._buckets], "the gradient all-reduce")
        for bucket in self._buckets:
            bucket.flat /= self._world_size
            for param, view in zip(bucket.params, bucket.views, strict=True):
                np.copyto(param.grad.data, view)
        self._reset()

    def _reset(self) -> None:
        """Ready for the next backward: no gradient arrived, no reduction started."""
        for bucket in self._buckets:
            bucket.request, bucket.missing = None, len(bucket.params)
            bucket.arrived = [False] * len(bucket.params)
        self._pending = len(self._buckets)
        self._started = []

    def _check_last_backward(self) -> None:
        """Raise if the last backward left parameters without a gradient (never reduced).

        The reductions it started are awaited first, so that the ranks stay in step and the
        wrapper can be used again once the error is handled."""
        if not any(any(bucket.arrived) for bucket in self._buckets):
            return
        waiting = {
            id(p)
            for bucket in self._buckets
            for p, arrived in zip(bucket.params, bucket.arrived, strict=True)
            if not arrived
        }
        missing = [name for name, p in self.module.named_parameters() if id(p) in waiting]
        started = self._started
        self._reset()
        comm.wait(started, "the gradient all-reduce of an incomplete backward")
        raise RuntimeError(
            "DistributedDataParallel: the last backward did not reach every parameter, so no "
            "gradient was averaged over the ranks. Parameters without a gradient: "
            + ", ".join(missing)
            + ". Every parameter that requires grad must take part in the loss (set "
            "requires_grad=False on the ones that do not)."
        )


def _make_buckets(params: list[Parameter], cap_bytes: int) -> list[_Bucket]:
    """Group parameters in reverse order (backward reaches the last layers first) into buckets
    of one dtype and at most `cap_bytes` (a larger parameter gets a bucket of its own)."""
    buckets: list[_Bucket] = []
    group: list[Parameter] = []
    size = 0
    for p in reversed(params):
        if group and (p.dtype != group[0].dtype or size + p.data.nbytes > cap_bytes):
            buckets.append(_Bucket(group))
            group, size = [], 0
        group.append(p)
        size += p.data.nbytes
    if group:
        buckets.append(_Bucket(group))
    return buckets


def _check_same_model(module: Module) -> None:
    """Raise on every rank whose parameters differ in name, shape or dtype from rank 0's."""
    mine = [f"{name} {p.shape} {p.dtype}" for name, p in module.named_parameters()]
    mine += [f"{name} {b.shape} {b.dtype}" for name, b in module.named_buffers()]
    theirs = comm.broadcast_object(mine, root=0)
    if mine != theirs:
        extra = ", ".join(item for item in mine if item not in theirs) or "nothing extra"
        lacking = ", ".join(item for item in theirs if item not in mine) or "nothing more"
        raise ValueError(
            f"rank {comm.get_rank()}'s model differs from rank 0's: it has {extra}; "
            f"rank 0 has {lacking}"
        )
