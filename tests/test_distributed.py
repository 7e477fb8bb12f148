"""minigrad_nn.distributed: the world of one process, DistributedSampler, and (under
`mpirun -n 2`, started by the tests themselves) collectives, DDP equivalence and faults."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import distributed_programs as programs
import numpy as np
import pytest

import minigrad as mg
import minigrad_nn as nn
from minigrad_nn import distributed as dist
from minigrad_nn.distributed import launch

PROGRAMS = Path(__file__).with_name("distributed_programs.py")
REPO = Path(__file__).resolve().parent.parent
RUN_LIMIT = 180  # seconds: a hung launch fails the test instead of blocking the suite



@pytest.fixture(scope="module")
def mpi() -> None:
    """Skip without MPI (a developer's machine); on CI (CI set) fail instead: .ci/run installs
    OpenMPI, and the test extra mpi4py."""
    missing = [
        what
        for what, absent in (
            ("mpirun (apt-get install openmpi-bin libopenmpi-dev)", shutil.which("mpirun") is None),
            ("mpi4py (pip install 'minigrad-numpy[distributed]')",
             importlib.util.find_spec("mpi4py") is None),
        )
        if absent
    ]
    if missing:
        reason = "needs MPI: " + " and ".join(missing)
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(f"the distributed tests must run on CI, but it {reason}")
        pytest.skip(reason)


needs_mpi = pytest.mark.usefixtures("mpi")


def mpirun(
    scenario: str, out: Path, n: int = 2, **variables: str
) -> subprocess.CompletedProcess:
    """Run a scenario of distributed_programs.py on `n` ranks, with these environment
    `variables` (and no ring algorithm setting unless given); never hangs the suite."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("OMPI_MCA_coll_libnbc_iallreduce_algorithm", None)
    env.update(variables)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.pop(dist.comm.TIMEOUT_VARIABLE, None)
    command = dist.mpirun_command(n, sys.executable, str(PROGRAMS), scenario, str(out))
    return subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_LIMIT, env=env, check=False
    )


def ranks_output(scenario: str, tmp_path: Path, n: int = 2, **variables: str) -> list[dict]:
    result = mpirun(scenario, tmp_path, n, **variables)
    assert result.returncode == 0, (
        f"exit status {result.returncode}\nstdout:\n{result.stdout[-2000:]}\n"
        f"stderr:\n{result.stderr[-3000:]}"
    )
    return [nn.load(tmp_path / f"rank{r}.npz") for r in range(n)]


# ---------------------------------------------------------------------------- one process


def test_a_plain_process_is_a_world_of_one_without_mpi():
    # The test process was not started by mpirun: no MPI, no mpi4py import.
    assert not dist.launched_by_mpi()
    dist.init()
    dist.init(timeout=30)  # idempotent; may change the timeout
    assert dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
    assert "mpi4py.MPI" not in sys.modules
    a = np.arange(3.0)
    assert dist.all_reduce(a, op="mean") is a
    np.testing.assert_array_equal(a, [0, 1, 2])
    t = mg.tensor([1.0, 2.0])
    assert dist.broadcast(t) is t
    assert dist.all_reduce(5) == 5
    assert dist.broadcast_object({"a": 1}) == {"a": 1}
    dist.barrier()


def test_collective_arguments_are_checked():
    with pytest.raises(ValueError, match='"sum" or "mean"'):
        dist.all_reduce(np.ones(2), op="max")
    with pytest.raises(TypeError, match="floating"):
        dist.all_reduce(np.ones(2, dtype=np.int64), op="mean")
    with pytest.raises(TypeError, match="ndarray, a Tensor or a number"):
        dist.all_reduce([1.0, 2.0])
    with pytest.raises(ValueError, match="read-only"):
        dist.all_reduce(np.broadcast_to(np.ones(1), (3,)))
    with pytest.raises(ValueError, match="root 1 is not a rank of this world of 1"):
        dist.broadcast(np.ones(2), root=1)
    with pytest.raises(TypeError, match="broadcast_object"):
        dist.broadcast(3.0)
    with pytest.raises(ValueError, match="timeout must be positive"):
        dist.init(timeout=0)


def test_ddp_in_a_world_of_one_leaves_gradients_alone():
    model = programs.make_model()
    ddp = dist.DistributedDataParallel(model)
    x, t = dataset_batch()
    nn.CrossEntropyLoss()(ddp(x), t).backward()
    expected = programs.make_model()
    nn.CrossEntropyLoss()(expected(x), t).backward()
    for p, q in zip(model.parameters(), expected.parameters(), strict=True):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())
    assert list(ddp.state_dict()) == [f"module.{k}" for k in model.state_dict()]
    with pytest.raises(TypeError, match="wraps a Module"):
        dist.DistributedDataParallel(lambda x: x)


def dataset_batch() -> tuple[np.ndarray, np.ndarray]:
    return programs.dataset()[np.arange(10)]


def test_mpirun_command_adds_what_this_machine_needs():
    if shutil.which("mpirun") is None:
        with pytest.raises(FileNotFoundError, match="apt-get install openmpi-bin"):
            dist.mpirun_command(2, "python")
        return
    command = dist.mpirun_command(3, "python", "train.py")
    assert command[1:3] == ["-n", "3"] and command[-2:] == ["python", "train.py"]
    if "Open MPI" in subprocess.run([command[0], "--version"], capture_output=True,
                                    text=True, check=False).stdout:
        assert "--oversubscribe" in command
        assert ("--allow-run-as-root" in command) == (os.geteuid() == 0)
    with pytest.raises(ValueError, match="positive int"):
        dist.mpirun_command(0, "python")
    assert isinstance(launch._has_ptrace_capability(), bool)


def test_mpirun_command_for_openmpi_4_in_a_slim_container(monkeypatch):
    """Root, no ssh, no ptrace capability: every option OpenMPI 4 needs to start locally."""
    version = "mpirun (Open MPI) 4.1.4\n"
    monkeypatch.setattr(launch.shutil, "which", lambda name: "/usr/bin/mpirun"
                        if name == "mpirun" else None)
    monkeypatch.setattr(launch.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(
        a, 0, stdout=version))
    monkeypatch.setattr(launch.os, "geteuid", lambda: 0)
    monkeypatch.setattr(launch, "_has_ptrace_capability", lambda: False)
    launch._openmpi_options.cache_clear()
    try:
        command = dist.mpirun_command(2, "python")
    finally:
        launch._openmpi_options.cache_clear()
    assert command == ["/usr/bin/mpirun", "-n", "2", "--oversubscribe", "--allow-run-as-root",
                       "--mca", "btl_vader_single_copy_mechanism", "none",
                       "--mca", "plm", "isolated", "python"]


# ---------------------------------------------------------------------------- the sampler


def loader_epochs(loader: nn.DataLoader, epochs: int) -> list[np.ndarray]:
    return [np.concatenate([t for _, t in loader]) for _ in range(epochs)]


@pytest.mark.parametrize("n", [1000, 1003])
def test_ranks_share_the_one_process_permutation(n):
    """Rank r of 2 with batch 50 gets, in batch j, the samples of a one-process loader's batch
    j of 100 at positions r, r + 2, ...; the permutations are DataLoader(seed=...)'s."""
    data = nn.TensorDataset(np.zeros((n, 1)), np.arange(n))
    single = loader_epochs(nn.DataLoader(data, 100, seed=5), 3)
    shards = []
    for rank in range(2):
        sampler = dist.DistributedSampler(data, num_replicas=2, rank=rank, seed=5)
        loader = nn.DataLoader(data, 50, sampler=sampler)
        assert len(loader) == len(single[0]) // 100 + (n % 100 > 0)
        shards.append([[t for _, t in loader] for _ in range(3)])
    for epoch in range(3):
        padded = np.concatenate([single[epoch], single[epoch][: (-n) % 2]])
        for j, batch in enumerate(range(0, len(padded), 100)):
            global_batch = padded[batch : batch + 100]
            np.testing.assert_array_equal(shards[0][epoch][j], global_batch[0::2])
            np.testing.assert_array_equal(shards[1][epoch][j], global_batch[1::2])


def test_sampler_pads_or_drops_to_equal_shares():
    data = list(range(10))
    padded = [list(dist.DistributedSampler(data, 4, r, shuffle=False)) for r in range(4)]
    assert padded == [[0, 4, 8], [1, 5, 9], [2, 6, 0], [3, 7, 1]]
    dropped = [list(dist.DistributedSampler(data, 4, r, shuffle=False, drop_last=True))
               for r in range(4)]
    assert dropped == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert len(dist.DistributedSampler(list(range(3)), 5, 4)) == 1  # repeats when n < ranks
    with pytest.raises(ValueError, match="cannot give each of 5 ranks a sample"):
        dist.DistributedSampler(list(range(3)), 5, 0, drop_last=True)
    with pytest.raises(ValueError, match=r"rank 2 is not in \[0, 1\]"):
        dist.DistributedSampler(data, 2, 2)


def test_set_epoch_chooses_the_epoch_and_state_resumes():
    data = list(range(50))
    walked = dist.DistributedSampler(data, 2, 1, seed=3)
    epochs = [list(walked) for _ in range(4)]
    assert epochs[0] != epochs[1]
    jumped = dist.DistributedSampler(data, 2, 1, seed=3)
    jumped.set_epoch(2)
    assert list(jumped) == epochs[2]
    jumped.set_epoch(0)  # backwards: starts the generator over
    assert list(jumped) == epochs[0]
    resumed = dist.DistributedSampler(data, 2, 1, seed=3)
    resumed.load_state_dict(walked.state_dict() | {"epoch": 3})
    assert list(resumed) == epochs[3]
    loader = nn.DataLoader(data, 5, sampler=resumed)
    assert loader.state_dict() == {"sampler": "DistributedSampler", "epoch": 4, "seed": 3}
    with pytest.raises(ValueError, match="seed 4"):
        resumed.load_state_dict({"sampler": "DistributedSampler", "epoch": 1, "seed": 4})
    with pytest.raises(ValueError, match="non-negative"):
        resumed.set_epoch(-1)


# ---------------------------------------------------------------------------- mpirun -n 2


@needs_mpi
def test_collectives_on_two_ranks(tmp_path):
    outputs = ranks_output("collectives", tmp_path)
    for rank, out in enumerate(outputs):
        assert out["size"] == 2 and out["initialized"]
        np.testing.assert_array_equal(out["summed"], [1, 3, 5, 7])
        np.testing.assert_array_equal(out["mean"], np.full((2, 3), 0.5))
        np.testing.assert_array_equal(out["strided"][:, 1], [3, 3, 3])
        np.testing.assert_array_equal(out["strided"][:, [0, 2, 3]], 0)
        np.testing.assert_array_equal(out["root1"], [1, 1, 1])
        assert out["number"] == 3
        assert out["object"] == {"from": 0, "list": [0, 0, 0]}, rank
        assert out["iallreduce_algorithm"] == "1"  # init asks Open MPI for the ring


@pytest.fixture(scope="module")
def trained(mpi, tmp_path_factory) -> list[dict]:
    """Each rank's final state after every run of programs.TRAINING_RUNS (one launch)."""
    return ranks_output("training", tmp_path_factory.mktemp("training"))


@needs_mpi
@pytest.mark.parametrize("run", ["sgd", "adam", "sgd-after-backward"])
def test_two_ranks_of_50_train_as_one_process_of_100(trained, run):
    """20 steps of SGD with momentum or Adam, float64; the gradients reduced while backward
    runs or after it."""
    rank0, rank1 = (ranks[run] for ranks in trained)
    reference = programs.one_process(programs.TRAINING_RUNS[run][0])
    start = programs.make_model().state_dict()
    for name, expected in reference.items():
        assert np.array_equal(rank0[name], rank1[name]), f"{name} differs between the ranks"
        np.testing.assert_allclose(rank0[name], expected, rtol=1e-10, atol=0, err_msg=name)
        assert not np.allclose(rank0[name], start[name]), f"{name} did not train"


@needs_mpi
def test_no_sync_accumulation_and_unused_parameters(tmp_path):
    # (with the user's own choice of all-reduce algorithm, which init keeps)
    algorithm = {"OMPI_MCA_coll_libnbc_iallreduce_algorithm": "3"}
    for out in ranks_output("ddp-features", tmp_path, **algorithm):
        assert out["iallreduce_algorithm"] == "3"
        assert all(out["no_sync_is_local"])  # no communication inside no_sync
        assert max(out["no_sync_then_sync"]) < 1e-12  # the sum of both backwards, averaged
        assert max(out["accumulated"]) < 1e-12  # a second synced backward adds its mean
        assert "did not reach every parameter" in out["unused"]
        assert "without a gradient: 2.weight, 2.bias, 4.weight, 4.bias." in out["unused"]
        assert max(out["after_the_error"]) < 1e-12
        # The last layers' buckets were sent before backward reached the first layer ...
        events = list(out["overlap_events"])
        assert events.count("reduction started") == 4  # [4.bias 4.weight 2.bias] [2.weight] ...
        assert events.index("first layer's output") == 2, events
        assert max(out["overlap_grads"]) < 1e-12  # ... and every gradient is still the mean
        assert all(out["closed_is_local"])


@needs_mpi
def test_a_different_model_on_one_rank_is_refused(tmp_path):
    result = mpirun("mismatch", tmp_path)
    assert result.returncode != 0
    assert "rank 1's model differs from rank 0's" in result.stderr
    assert "it has 0.weight" in result.stderr and "0.bias (17,) float32" in result.stderr
    assert "rank 0 has 0.weight" in result.stderr and "0.bias (16,) float32" in result.stderr


@needs_mpi
def test_batchnorm_normalises_each_rank_batch_on_its_own(trained):
    """As PyTorch's DDP without SyncBatchNorm: per-rank batch statistics, averaged gradients,
    rank 0's running statistics broadcast before each forward (docs/distributed.md)."""
    rank0, rank1 = (ranks["batchnorm"] for ranks in trained)
    simulated, rank1_buffers = programs.batchnorm_one_process()
    for name, expected in simulated.items():
        np.testing.assert_allclose(rank0[name], expected, rtol=1e-10, atol=0, err_msg=name)
        if name in rank1_buffers:  # rank 1's last forward started from rank 0's statistics
            np.testing.assert_allclose(rank1[name], rank1_buffers[name], rtol=1e-10, err_msg=name)
            assert not np.array_equal(rank1[name], rank0[name]) or "tracked" in name
        else:
            assert np.array_equal(rank0[name], rank1[name]), name
    # ... which is not what one process with the whole batch of 100 computes.
    model = programs.make_model(batchnorm=True)
    opt = programs.make_optimizer("sgd", model)
    for _ in range(programs.EPOCHS):
        for x, t in nn.DataLoader(programs.dataset(), 100, seed=programs.SEED):
            programs.step(model, opt, x, t)
    assert not np.allclose(model[0].weight.numpy(), rank0["0.weight"], rtol=1e-6)


@needs_mpi
def test_fit_on_two_ranks_computes_what_one_process_does(tmp_path):
    """The same fit call: 2 ranks share each batch of 100; the history's losses and accuracies
    and the parameters are one process's; rank 0 alone prints and writes the checkpoint,
    which resumes exactly and only with 2 ranks."""
    result = mpirun("fit", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = (nn.load(tmp_path / f"rank{r}.npz") for r in range(2))
    model, history = programs.fit_run(2)
    for name, expected in model.state_dict().items():
        assert np.array_equal(rank0["model"][name], rank1["model"][name]), name
        np.testing.assert_allclose(rank0["model"][name], expected, rtol=1e-10, err_msg=name)
        assert np.array_equal(rank0["resumed"][name], rank0["model"][name]), name
    got = rank0["history"]
    for key in ("train_loss", "test_loss", "losses"):
        np.testing.assert_allclose(got[key], getattr(history, key), rtol=1e-10, err_msg=key)
    assert got["train_acc"] == history.train_acc and got["test_acc"] == history.test_acc
    assert rank0["resumed_history"]["test_acc"] == history.test_acc
    # Two epoch lines, then the resumed run's two: printed once, by rank 0.
    assert [line.split()[1] for line in result.stdout.splitlines()
            if line.startswith("epoch")] == ["1/2", "2/2", "1/1", "2/2"]
    for out in (rank0, rank1):
        assert "already exists" in out["refused"]  # rank 0's check, raised on both ranks
    saved = nn.load(tmp_path / "straight.ckpt")
    assert saved["settings"]["ranks"] == 2 and saved["settings"]["batch_size"] == 100
    with pytest.raises(nn.CheckpointError, match=r"written by a run on 2 ranks, and this run "
                       r"has 1: resume it with mpirun -n 2"):
        programs.fit_run(2, str(tmp_path / "straight.ckpt"), resume=True)


def train_command(tmp_path: Path, ranks: int) -> subprocess.CompletedProcess:
    """`minigrad train` on a tenth of MNIST's training images, on 1 process or `ranks`."""
    save = tmp_path / f"model{ranks}.npz"
    command = [sys.executable, "-m", "minigrad_nn", "train", "--limit", "2000", "--epochs", "3",
               "--quiet", "--save", str(save)]
    if ranks > 1:
        command = dist.mpirun_command(ranks, *command)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    result = subprocess.run(command, capture_output=True, text=True, timeout=RUN_LIMIT, env=env,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def epoch_figures(stdout: str) -> np.ndarray:
    """Train loss, train accuracy and test accuracy of each epoch line."""
    rows = [line.split() for line in stdout.splitlines() if line.startswith("epoch")]
    return np.array([[float(row[4]), float(row[7]), float(row[10])] for row in rows])


@needs_mpi
def test_minigrad_train_on_two_ranks_trains_as_one_process(tmp_path):
    one, two = train_command(tmp_path, 1), train_command(tmp_path, 2)
    lines = two.stdout.splitlines()
    assert sum(line.startswith("training 784-50-10") for line in lines) == 1
    assert "batch 100 on 2 ranks (50 each)" in lines[0]
    assert sum(line.startswith("done:") for line in lines) == 1
    assert sum(line.startswith("saved the model") for line in lines) == 1
    # float32: the sums over ranks round differently from one process's in the last bits
    np.testing.assert_allclose(epoch_figures(two.stdout), epoch_figures(one.stdout), atol=2e-3)
    assert epoch_figures(two.stdout).shape == (3, 3)
    for name, array in nn.load(tmp_path / "model1.npz").items():
        np.testing.assert_allclose(nn.load(tmp_path / "model2.npz")[name], array, atol=1e-4)


@needs_mpi
def test_an_exception_on_one_rank_ends_every_rank(tmp_path):
    result = mpirun("crash", tmp_path)
    assert result.returncode != 0
    assert "ValueError: boom on rank 1" in result.stderr
    assert "[rank 1 of 2]" in result.stderr and "ending every rank" in result.stderr
    assert "rank 0 finished" not in result.stdout


@needs_mpi
def test_a_rank_that_never_arrives_times_out_the_others(tmp_path):
    result = mpirun("hang", tmp_path)
    assert result.returncode != 0
    assert "DistributedTimeoutError: rank 0 of 2: barrier did not complete within 2 s" in (
        result.stderr
    )
    assert "another rank never arrived" in result.stderr
