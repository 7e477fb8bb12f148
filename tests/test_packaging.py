"""The distribution as a user gets it from PyPI.

Builds the sdist and the wheel once (``python -m build``), runs ``twine check`` on both, looks
inside them, installs the wheel into one fresh venv (no system site-packages; numpy, tqdm and
threadpoolctl come from the package registry) and, from a directory outside the repository,
imports both packages, trains a tiny model for one step, runs ``minigrad --help`` and the
benchmark a PyPI user runs, ``minigrad bench grad --quick`` (on the repository's MNIST files,
given as a user would, through ``MINIGRAD_DATA``).

Slow (about 30 s to 2 min) and needs the package registry. It runs by default (CI runs it);
deselect it locally with ``pytest -m "not packaging"``. Without a registry it fails and says so:
it is never skipped silently.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parent.parent
DIST_NAME = "minigrad-numpy"
IMPORT_PACKAGES = {"minigrad", "minigrad_nn"}
BUILD_TOOLS = ["build", "twine"]


def _version() -> str:
    text = (ROOT / "minigrad" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    assert match, "minigrad/_version.py must define __version__ = \"...\""
    return match.group(1)


def _clean_env() -> dict[str, str]:
    """The environment without anything that would make Python find the repository's code."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(args: list[str | Path], what: str, cwd: Path, timeout: float = 600,
         env: dict[str, str] | None = None) -> str:
    """Run a command; on failure, fail the test with `what` and the command's output."""
    try:
        done = subprocess.run([str(a) for a in args], cwd=cwd, env={**_clean_env(), **(env or {})},
                              text=True, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"{what}: timed out after {timeout:.0f} s: {error.cmd}")
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        pytest.fail(f"{what} (exit {done.returncode}): {' '.join(map(str, args))}\n{output}")
    return done.stdout


class Built:
    """The products of the module's one build and one venv."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.venv = tmp / "venv"
        bindir = "Scripts" if os.name == "nt" else "bin"
        self.python = self.venv / bindir / ("python.exe" if os.name == "nt" else "python")
        self.script = self.venv / bindir / ("minigrad.exe" if os.name == "nt" else "minigrad")
        self.outside = tmp / "elsewhere"  # a working directory with no minigrad in it
        self.outside.mkdir()
        dist = tmp / "dist"

        _run([sys.executable, "-m", "venv", self.venv], "creating a venv", tmp)
        tools = self._tool_python()
        # Default mode: the sdist first, then the wheel built from the unpacked sdist, so a
        # file missing from the sdist breaks the wheel build here rather than for a user.
        _run([tools, "-m", "build", "--outdir", dist, ROOT],
             "python -m build failed (the build backend comes from the package registry)", tmp)
        self.wheel = _single(dist, "*.whl")
        self.sdist = _single(dist, "*.tar.gz")
        self.twine = _run([tools, "-m", "twine", "check", "--strict", self.sdist, self.wheel],
                          "twine check failed", tmp)
        _run([self.python, "-m", "pip", "install", "-q", self.wheel],
             "installing the wheel (and numpy, tqdm from the package registry) failed", tmp)

    def _tool_python(self) -> Path | str:
        """An interpreter with `build` and `twine`: this one when they are installed (the `test`
        extra lists them), else the fresh venv after installing them there from the registry."""
        if all(importlib.util.find_spec(tool) for tool in BUILD_TOOLS):
            return sys.executable
        _run([self.python, "-m", "pip", "install", "-q", *BUILD_TOOLS],
             "build and twine are not installed here (pip install -e '.[test]') and could not be "
             "installed from the package registry", self.tmp)
        return self.python


def _single(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return Built(tmp_path_factory.mktemp("packaging"))


# -- metadata (no build needed) ------------------------------------------------------------------


def test_pyproject_metadata() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the wheel's METADATA is checked below
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project = pyproject["project"]
    assert project["name"] == DIST_NAME
    assert project["dynamic"] == ["version"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "minigrad/_version.py"
    assert project["license"] == "MIT" and (ROOT / "LICENSE").is_file()
    assert project["scripts"] == {"minigrad": "minigrad_nn.cli:main"}
    assert {"plot", "test"} <= set(project["optional-dependencies"])
    test_extra = " ".join(project["optional-dependencies"]["test"])
    for tool in BUILD_TOOLS:
        assert tool in test_extra, f"the test extra must list {tool} (this test uses it)"
    assert any(c.startswith("License") or c.startswith("Programming Language")
               for c in project["classifiers"])
    assert {"Homepage", "Source", "Changelog"} <= set(project["urls"])
    for package in IMPORT_PACKAGES:
        assert (ROOT / package / "py.typed").is_file(), f"{package}/py.typed is missing"


# -- the built files ------------------------------------------------------------------------------


def test_twine_check_passes(built: Built) -> None:
    assert built.twine.count("PASSED") == 2, built.twine


def test_wheel_holds_exactly_the_two_import_packages(built: Built) -> None:
    version = _version()
    assert built.wheel.name == f"minigrad_numpy-{version}-py3-none-any.whl"
    dist_info = f"minigrad_numpy-{version}.dist-info"
    names = zipfile.ZipFile(built.wheel).namelist()
    assert {name.split("/")[0] for name in names} == IMPORT_PACKAGES | {dist_info}
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".npz", ".gz"))]
    for package in IMPORT_PACKAGES:
        assert f"{package}/__init__.py" in names
        assert f"{package}/py.typed" in names
    assert f"{dist_info}/licenses/LICENSE" in names
    entry_points = zipfile.ZipFile(built.wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "minigrad = minigrad_nn.cli:main" in entry_points


def test_wheel_metadata(built: Built) -> None:
    dist_info = f"minigrad_numpy-{_version()}.dist-info"
    metadata = zipfile.ZipFile(built.wheel).read(f"{dist_info}/METADATA").decode()
    assert "Name: minigrad-numpy\n" in metadata
    assert f"Version: {_version()}\n" in metadata
    assert "License-Expression: MIT\n" in metadata
    assert "Provides-Extra: plot\n" in metadata and "Provides-Extra: test\n" in metadata
    assert re.search(r"^Requires-Dist: numpy", metadata, re.MULTILINE)
    assert "Description-Content-Type: text/markdown" in metadata


def test_sdist_has_licence_readme_and_sources(built: Built) -> None:
    top = f"minigrad_numpy-{_version()}"
    with tarfile.open(built.sdist) as sdist:
        names = set(sdist.getnames())
    for required in ("LICENSE", "README.md", "pyproject.toml", "PKG-INFO",
                     "minigrad/_version.py", "minigrad_nn/__init__.py"):
        assert f"{top}/{required}" in names, f"the sdist lacks {required}"
    assert not [n for n in names if n.startswith(f"{top}/datasets/")], "no data in the sdist"
    # The tests need the repository (its datasets/ and benchmarks/): the sdist leaves them out
    # rather than ship tests that fail when run from it.
    assert not [n for n in names if n.startswith(f"{top}/tests/")], "tests in the sdist"


# -- the installed wheel, used from outside the repository -------------------------------------


def test_installed_wheel_imports_from_site_packages_and_trains(built: Built) -> None:
    script = textwrap.dedent(f"""
        import importlib.util, pathlib, sysconfig
        import numpy as np
        import minigrad as mg
        import minigrad_nn as nn
        from minigrad_nn import optim

        site = pathlib.Path(sysconfig.get_paths()["purelib"]).resolve()
        for module in (mg, nn):
            where = pathlib.Path(module.__file__).resolve()
            assert where.is_relative_to(site), f"{{module.__name__}} imported from {{where}}"
            assert (where.parent / "py.typed").is_file()
        assert mg.__version__ == nn.__version__ == {_version()!r}
        assert importlib.util.find_spec("datasets") is None, "a top-level datasets was installed"

        rng = np.random.default_rng(0)
        x = rng.standard_normal((8, 4)).astype(np.float32)
        t = rng.integers(0, 3, 8)
        model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
        loss_fn = nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=0.5)
        before = [p.numpy().copy() for p in model.parameters()]
        loss = loss_fn(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert all(not np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))
        assert loss_fn(model(x), t).item() < loss.item()
        print("ok", site)
    """)
    out = _run([built.python, "-c", script], "using the installed wheel failed", built.outside)
    assert out.startswith("ok ")
    assert Path(out.split(" ", 1)[1].strip()).is_relative_to(built.venv.resolve())


def test_console_script_help(built: Built) -> None:
    out = _run([built.script, "--help"], "`minigrad --help` failed", built.outside)
    assert "train" in out and "gradcheck" in out


def test_bench_grad_runs_from_the_installed_wheel(built: Built) -> None:
    out = _run([built.script, "bench", "grad", "--quick", "--json", "grad.json"],
               "`minigrad bench grad --quick` failed from the installed wheel", built.outside,
               env={"MINIGRAD_DATA": str(ROOT / "datasets" / "mnist")})
    assert out.startswith("## Backprop vs numerical gradient")
    assert "| 100 | 79,510 |" in out  # the scaling table's last row: 784-100-10
    rows = json.loads((built.outside / "grad.json").read_text(encoding="utf-8"))
    assert {r["section"] for r in rows} == {"check", "scaling"}
