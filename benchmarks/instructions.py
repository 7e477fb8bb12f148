"""Per-op overhead in CPU instructions, which do not move with the machine's load.

On a shared VM the time ratios of `bench_overhead.py` drift by +-10% from run to run; the number
of instructions a chain link executes does not. This runs the same chain of adds as
`bench_overhead.py` (a (1, 1) float32 leaf, 200 adds, backward) and the same raw NumPy baseline
under valgrind's callgrind, for 2 and then 12 chains, and reports the slope: instructions per
link, for each system, and their ratio; `reference_autodiff.py` (the smallest autodiff, none of
minigrad's checks) runs the chain too. Needs valgrind (`apt-get install valgrind`); about two
minutes.

    python benchmarks/instructions.py [--parts]

`--parts` splits a link into what each side pays for: the forward add (minigrad's under
`no_grad`, where no graph is recorded), recording the op, and the backward step (about three
minutes).

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
from benchmarks.reference_autodiff import Value
x0 = np.ones((1, 1), np.float32)
a = np.ones((1, 1), np.float32)
def minigrad_chain():
    x = mg.Tensor(x0, requires_grad=True)
    y = x
    for _ in range({links}):
        y = y + a
    y.backward(np.ones_like(x0))
def minigrad_forward():  # recording the graph, which is then dropped
    y = mg.Tensor(x0, requires_grad=True)
    for _ in range({links}):
        y = y + a
def minigrad_no_grad_forward():
    y = mg.Tensor(x0, requires_grad=True)
    with mg.no_grad():
        for _ in range({links}):
            y = y + a
def reference_chain():
    x = Value(x0)
    y = x
    for _ in range({links}):
        y = y + a
    y.backward(np.ones_like(x0))
def numpy_forward():
    y = x0
    for _ in range({links}):
        y = y + a
def numpy_backward():
    grad, one = np.ones_like(x0), np.ones_like(x0)
    for _ in range({links}):
        grad = grad * one
def numpy_chain():
    numpy_forward()
    numpy_backward()
chain = {name}
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


def parts() -> list[tuple[str, float, float]]:
    """(part, raw NumPy, minigrad) instructions per link: the forward add, recording the op in
    the graph (minigrad only), the backward step."""
    names = ("minigrad_no_grad_forward", "minigrad_forward", "minigrad_chain")
    no_grad, recording, whole = (per_link(name) for name in names)
    numpy_forward, numpy_backward = per_link("numpy_forward"), per_link("numpy_backward")
    return [
        ("forward: the add (minigrad under no_grad)", numpy_forward, no_grad),
        ("forward: recording the op in the graph", 0.0, recording - no_grad),
        ("backward: one step", numpy_backward, whole - recording),
        ("the link", numpy_forward + numpy_backward, whole),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", action="store_true", help="split a link into its parts")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    if args.parts:
        print("| part of a link | raw NumPy | minigrad | minigrad - NumPy |")
        print("|---|---|---|---|")
        for part, numpy_count, minigrad_count in parts():
            difference = minigrad_count - numpy_count
            print(f"| {part} | {numpy_count:,.0f} | {minigrad_count:,.0f} | {difference:,.0f} |")
        return 0
    numpy_link = per_link("numpy_chain")
    print("| system | instructions per link (add forward + its backward) | ratio to raw NumPy |")
    print("|---|---|---|")
    print(f"| raw NumPy | {numpy_link:,.0f} | 1.00x |")
    for system, name in (("reference autodiff", "reference_chain"), ("minigrad", "minigrad_chain")):
        link = per_link(name)
        print(f"| {system} | {link:,.0f} | {link / numpy_link:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
