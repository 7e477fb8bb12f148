"""The `mpirun` command line that starts N ranks on this machine, whatever the machine.

On a laptop `mpirun -n 2 python train.py` is enough. OpenMPI needs more in two common places:
as root (containers, CI) it refuses to start without `--allow-run-as-root`, and it refuses to
start more ranks than cores without `--oversubscribe`. OpenMPI 4 also refuses to start when
neither `ssh` nor `rsh` is installed (slim containers), even for ranks on this machine, unless it
is told to start them locally (`--mca plm isolated`). And in a container without the ptrace
capability, its shared-memory transport cannot copy between processes directly (CMA) and must be
told to copy through its shared buffers instead.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

__all__ = ["mpirun_command"]

CAP_SYS_PTRACE = 19  # the capability's bit in /proc/self/status's CapEff


def mpirun_command(n: int, *command: str, launcher: str = "mpirun") -> list[str]:
    """`[launcher, "-n", n, <what this machine needs>, *command]`, e.g.
    `subprocess.run(mpirun_command(2, sys.executable, "train.py"))`."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of ranks must be a positive int, got {n!r}")
    path = shutil.which(launcher)
    if path is None:
        raise FileNotFoundError(
            f"{launcher} was not found on PATH: install an MPI implementation "
            "(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev)"
        )
    return [path, "-n", str(n), *_openmpi_options(path), *command]


@functools.cache
def _openmpi_options(path: str) -> tuple[str, ...]:
    try:
        version = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    if "Open MPI" not in version and "OpenRTE" not in version:
        return ()  # MPICH's and Intel's mpiexec need none of this
    options = ["--oversubscribe"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        options.append("--allow-run-as-root")
    if "(Open MPI) 4" in version:
        if not _has_ptrace_capability():
            options += ["--mca", "btl_vader_single_copy_mechanism", "none"]
        if shutil.which("ssh") is None and shutil.which("rsh") is None:
            options += ["--mca", "plm", "isolated"]  # start local ranks without ssh
    return tuple(options)


def _has_ptrace_capability() -> bool:
    """Whether this process may use cross-memory attach (CAP_SYS_PTRACE); True off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_PTRACE & 1)
    except OSError:
        pass
    return True
