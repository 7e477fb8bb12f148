"""Per-op overhead in CPU instructions, which do not move with the machine's load.

On a shared VM the time ratios of `bench_overhead.py` drift by +-10% from run to run; the number
of instructions a chain link executes does not. This runs the same chain of adds as
`bench_overhead.py` (a (1, 1) float32 leaf, 200 adds, backward) and the same raw NumPy baseline
under valgrind's callgrind, for 2 and then 12 chains, and reports the slope: instructions per
link, for each system, and their ratio. Needs valgrind (`apt-get install valgrind`); about a
minute.

    python benchmarks/instructions.py

The instruction ratio runs below the time ratio (NumPy's code retires more instructions per
cycle than the interpreter's), so use it to compare engines, not to claim a target.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINKS = 200
FEW, MANY = 2, 12

CHAIN = """
import sys
sys.path.insert(0, {root!r})
import numpy as np
import minigrad as mg
x0 = np.ones((1, 1), np.float32)
a = np.ones((1, 1), np.float32)
def minigrad_chain():
    x = mg.Tensor(x0, requires_grad=True)
    y = x
    for _ in range({links}):
        y = y + a
    y.backward(np.ones_like(x0))
def numpy_chain():
    y = x0
    for _ in range({links}):
        y = y + a
    grad, one = np.ones_like(y), np.ones_like(y)
    for _ in range({links}):
        grad = grad * one
chain = {name}_chain
for _ in range(3 + {chains}):
    chain()
"""


def instructions(name: str, chains: int) -> int:
    """Instructions callgrind counts for a process that runs `chains` chains (plus 3 warm-up)."""
    program = CHAIN.format(root=str(ROOT), links=LINKS, name=name, chains=chains)
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, "-c", program],
        capture_output=True, text=True, env=env, check=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count in valgrind's output:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_link(name: str) -> float:
    """Instructions per chain link: the slope between FEW and MANY chains (imports cancel)."""
    with ThreadPoolExecutor(2) as pool:
        few, many = pool.map(lambda n: instructions(name, n), (FEW, MANY))
    return (many - few) / ((MANY - FEW) * LINKS)


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    numpy_link, minigrad_link = per_link("numpy"), per_link("minigrad")
    print("| system | instructions per link (add forward + its backward) |")
    print("|---|---|")
    print(f"| raw NumPy | {numpy_link:,.0f} |")
    print(f"| minigrad | {minigrad_link:,.0f} |")
    print(f"\nratio {minigrad_link / numpy_link:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
