"""CI runs what the README tells users to run: its test command, exactly as written, first."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [block.strip() for block in re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S)]


def ci_lines() -> list[str]:
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


TEST_COMMAND = ("python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && "
                "python -m pytest")


def readme_test_command() -> str:
    return next(c for c in readme_commands() if c.endswith("pytest"))


def test_the_readme_shows_the_test_command():
    assert readme_test_command() == TEST_COMMAND


def test_ci_runs_the_readme_test_command_exactly_before_any_other_python_step():
    test = readme_test_command()
    lines = ci_lines()
    runs = [i for i, line in enumerate(lines) if line.startswith(test)]
    assert runs, f".ci/run does not run the README's test command {test!r}"
    first = runs[0]
    assert lines[first] in (test, f"{test} || exit"), lines[first]
    earlier = [line for line in lines[:first] if re.search(r"\b(pip|pytest|python)\b", line)]
    assert not earlier, f".ci/run runs Python steps before the README's command: {earlier}"
    later = lines[first + 1:]
    assert "python -m pytest -q -m plot" in later  # the plot extra's tests, with the extra
    assert any(line.startswith("pip install") and "[plot]" in line for line in later)


def test_ci_installs_system_packages_before_the_readme_command():
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    packages = text.index("DEBIAN_PACKAGES=(")
    assert packages < text.index(TEST_COMMAND)
    assert "dataset-fashion-mnist" in text[packages:text.index(")", packages)]


def test_ci_also_runs_the_readme_train_command_exactly():
    train = next(c for c in readme_commands() if c.endswith("minigrad train"))
    assert f"{train} || exit" in ci_lines()


def test_ci_tests_the_oldest_and_newest_python_and_numpy_that_pyproject_admits():
    """pyproject's requires-python, newest classifier and numpy floor are what .ci/run's last
    step tests: bumping one without the other fails here."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    oldest_python = re.search(r'requires-python = ">=(3\.\d+)"', pyproject).group(1)
    newest_python = max(re.findall(r"Python :: (3\.\d+)", pyproject), key=lambda v: int(v[2:]))
    numpy_floor = re.search(r'"numpy>=(\d+\.\d+)"', pyproject).group(1)
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f'"{oldest_python} numpy=={numpy_floor}.*"' in text
    assert f'"{newest_python} numpy"' in text
