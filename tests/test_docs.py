"""The documentation tells the truth.

* Every ```python block of README.md and docs/**/*.md runs: each file's blocks in order, in one
  namespace, in a fresh Python process (this file run as a script) whose working directory is
  temporary, with ``MINIGRAD_DATA`` unset (so the repository's ``datasets/mnist`` is used),
  this checkout's packages first on the path, and matplotlib on its file-only backend.
* A block that needs an optional extra which is not installed (matplotlib, the `plot` extra:
  `History.plot`) is skipped, the blocks after it still run, and the test is then reported as
  skipped with the reason once everything else has passed; such docs carry the `plot` marker,
  so CI runs them again with the extra (`pytest -m plot`).
* Python blocks keep no blank line inside an indented body (a class or function), so each can
  be pasted into the interactive interpreter, which ends a body at the first blank line.
* Where a doc shows output, a ```text (or bare ```) block right after a python block, it is the
  block's expected stdout. The comparison is exact after one normalisation: trailing whitespace
  is removed from every line, and leading and trailing blank lines are dropped. The docs make
  their output deterministic (seeds, rounding), so no other tolerance is needed.
* The Korean tutorial has exactly the code and output blocks of the English one.
* docs/index.md shows the README's two commands, unchanged.
* Every relative link and image in README.md and docs/ points at an existing file.
* docs/api.md lists every public name (``__all__``) of minigrad and minigrad_nn and of their
  public submodules, each with the signature the code has, and no name the code lacks.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import io
import json
import os
import re
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DOC_FILES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
OUTPUT_LANGS = {"", "text"}
#: Optional extras, by the module a block imports: what to install to run it.
EXTRAS = {"matplotlib": "pip install 'minigrad-numpy[plot]'"}


@dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence
    follows_code: bool  # only blank lines separate it from the previous block


def parse_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text (fences at column 0, backticks)."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i, last_end = 0, -10
    while i < len(lines):
        opening = re.match(r"^```\s*([\w+-]*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"unclosed code fence at line {start + 1}")
        between = lines[last_end + 1:start] if last_end >= 0 else ["x"]
        follows = all(not line.strip() for line in between)
        blocks.append(Block(opening.group(1).lower(), "\n".join(body) + "\n", start + 1, follows))
        last_end = i
        i += 1
    return blocks


def normalise(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines()).strip("\n")


def runnable(blocks: list[Block]) -> list[tuple[Block, Block | None]]:
    """Each python block with the output block that directly follows it, if any."""
    pairs = []
    for k, block in enumerate(blocks):
        if block.lang != "python":
            continue
        after = blocks[k + 1] if k + 1 < len(blocks) else None
        shown = after if after and after.lang in OUTPUT_LANGS and after.follows_code else None
        pairs.append((block, shown))
    return pairs


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


DOCS_WITH_CODE = [p for p in DOC_FILES if any(b.lang == "python" for b in
                                              parse_blocks(p.read_text(encoding="utf-8")))]


def run_doc(doc: Path) -> list[dict]:
    """Run the doc's python blocks in order in one namespace; each block's stdout or error."""
    namespace: dict = {"__name__": "__main__"}
    results = []
    for block, _ in runnable(parse_blocks(doc.read_text(encoding="utf-8"))):
        stdout = io.StringIO()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(stdout):
                exec(compile(block.code, f"{doc.name}, code block at line {block.line}", "exec"),
                     namespace)
        except ImportError as error:
            missing = _missing_extra(error)
            if missing is None:
                results.append({"stdout": stdout.getvalue(), "error": traceback.format_exc()})
                break
            results.append({"stdout": stdout.getvalue(), "error": None, "skipped": missing})
            continue
        except Exception:
            results.append({"stdout": stdout.getvalue(), "error": traceback.format_exc()})
            break
        results.append({"stdout": stdout.getvalue(), "error": None,
                        "seconds": time.perf_counter() - started})
    return results


def _missing_extra(error: ImportError) -> str | None:
    """The extra a block needed, if `error` comes from one that is not installed."""
    for module, install in EXTRAS.items():
        if module in str(error) and not _installed(module):
            return f"{module} is not installed ({install})"
    return None


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def needs_extra(doc: Path) -> bool:
    """Whether a python block of `doc` uses an optional extra (the `plot` marker)."""
    blocks = parse_blocks(doc.read_text(encoding="utf-8"))
    return any(b.lang == "python" and (".plot(" in b.code or "matplotlib" in b.code)
               for b in blocks)


def doc_env() -> dict[str, str]:
    """The docs' environment: no MINIGRAD_DATA (the repository's datasets/ is used), this
    checkout's packages first, matplotlib writing files only, and one BLAS thread (the docs'
    small matrices gain nothing from threads, and on a busy machine spinning BLAS threads make
    them many times slower)."""
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_DATA"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.update(MPLBACKEND="Agg", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    return env


@pytest.mark.parametrize(
    "doc",
    [pytest.param(d, marks=[pytest.mark.plot] if needs_extra(d) else []) for d in DOCS_WITH_CODE],
    ids=_rel,
)
def test_python_blocks_run_and_print_what_the_doc_shows(doc: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    out = tmp_path / "results.json"
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, __file__, str(doc), str(out)], cwd=work,
                          env=doc_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and out.exists(), f"the doc runner failed:\n{done.stderr}"
    results = json.loads(out.read_text(encoding="utf-8"))
    skipped = []
    for (block, shown), result in zip(runnable(parse_blocks(doc.read_text("utf-8"))), results,
                                      strict=False):
        where = f"{_rel(doc)}, code block at line {block.line}"
        if result.get("skipped"):
            skipped.append(f"line {block.line}: {result['skipped']}")
            continue
        if result["error"]:
            pytest.fail(f"{where} raised:\n{result['error']}\n{result['stdout']}")
        if shown is not None:
            expected, actual = normalise(shown.code), normalise(result["stdout"])
            assert actual == expected, (
                f"{where}: the output differs from the doc's (line {shown.line})\n"
                f"--- doc\n{expected}\n--- actual\n{actual}"
            )
    seconds = time.perf_counter() - started
    assert seconds < 60, f"{_rel(doc)} took {seconds:.0f} s: too slow for the docs test"
    if skipped:
        pytest.skip(f"{len(skipped)} block(s) of {_rel(doc)} need an extra, the others passed: "
                    + "; ".join(skipped))


def test_a_missing_extra_skips_its_block_only(tmp_path: Path, monkeypatch) -> None:
    doc = tmp_path / "doc.md"
    needs_plot = "raise ImportError('History.plot needs matplotlib: pip install ...')"
    doc.write_text(f"```python\nx = 1\n```\n\n```python\n{needs_plot}\n```\n\n"
                   "```python\nprint(x + 1)\n```\n", encoding="utf-8")
    monkeypatch.setitem(globals(), "_installed", lambda module: False)
    results = run_doc(doc)
    assert results[1]["skipped"].startswith("matplotlib is not installed")
    assert results[2] == {"stdout": "2\n", "error": None, "seconds": results[2]["seconds"]}
    monkeypatch.setitem(globals(), "_installed", lambda module: True)
    results = run_doc(doc)  # installed, yet failing: a real error, and the doc stops there
    assert len(results) == 2 and "ImportError" in results[1]["error"]


def blank_lines_inside_bodies(code: str) -> list[int]:
    """Lines (1-based, in the block) that are blank but followed by an indented line: the
    interactive interpreter would end the body there."""
    lines = code.splitlines()
    return [i + 1 for i in range(len(lines) - 1)
            if not lines[i].strip() and lines[i + 1][:1] in (" ", "\t")]


@pytest.mark.parametrize("doc", DOCS_WITH_CODE, ids=_rel)
def test_python_blocks_paste_into_the_interpreter(doc: Path) -> None:
    found = [f"code block at line {block.line}, its line {n}"
             for block, _ in runnable(parse_blocks(doc.read_text(encoding="utf-8")))
             for n in blank_lines_inside_bodies(block.code)]
    assert not found, f"{_rel(doc)}: blank lines inside an indented body: {found}"


def test_korean_tutorial_has_the_same_code_and_output() -> None:
    def code(path: Path) -> list[tuple[str, str]]:
        blocks = parse_blocks(path.read_text(encoding="utf-8"))
        return [(b.lang, b.code) for b in blocks if b.lang == "python" or b.lang in OUTPUT_LANGS]

    english, korean = code(DOCS / "tutorial.md"), code(DOCS / "ko" / "tutorial.md")
    assert english, "docs/tutorial.md has no code"
    for k, (en, ko) in enumerate(zip(english, korean, strict=False)):
        assert en == ko, f"code block {k + 1} differs between the English and Korean tutorials"
    assert len(english) == len(korean), "the tutorials have different numbers of code blocks"


def test_index_shows_the_readme_commands() -> None:
    def commands(path: Path) -> list[str]:
        blocks = parse_blocks(path.read_text(encoding="utf-8"))
        return [b.code.strip() for b in blocks if b.lang in {"bash", "sh", "console"}]

    readme = commands(ROOT / "README.md")
    assert readme[0] == "pip install minigrad-numpy", "README.md should open with the install"
    clone_commands = [c for c in readme[1:3] if c.startswith("python3 -m venv")]
    assert len(clone_commands) == 2, "README.md should then show its two commands for a clone"
    index = commands(DOCS / "index.md")
    for command in clone_commands:
        assert command in index, f"docs/index.md lacks the README's command {command!r}"


REPOSITORY_URLS = ("https://github.com/minigrad-numpy/minigrad/blob/main/",
                   "https://github.com/minigrad-numpy/minigrad/tree/main/",
                   "https://raw.githubusercontent.com/minigrad-numpy/minigrad/main/")


def test_readme_links_are_absolute_and_point_at_files_that_exist() -> None:
    """The README is the PyPI page, where relative links break: every link is absolute, and
    each one into the repository names a file this checkout has."""
    text = _without_code((ROOT / "README.md").read_text(encoding="utf-8"))
    targets = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    assert targets
    relative = [t for t in targets if not re.match(r"^https?://", t)]
    assert not relative, f"README.md has relative links, broken on PyPI: {relative}"
    missing = [t for t in targets for prefix in REPOSITORY_URLS
               if t.startswith(prefix) and not (ROOT / t[len(prefix):].split("#")[0]).exists()]
    assert not missing, f"README.md links to files the repository lacks: {missing}"


def _without_code(text: str) -> str:
    """The Markdown without its code blocks and HTML comments."""
    text = re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL)
    return re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("doc", DOC_FILES, ids=_rel)
def test_relative_links_and_images_exist(doc: Path) -> None:
    text = _without_code(doc.read_text(encoding="utf-8"))
    targets = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    targets += re.findall(r"<img\b[^>]*\bsrc=\"([^\"]+)\"", text)
    targets += re.findall(r"^\[[^\]]+\]:\s*(\S+)", text, flags=re.MULTILINE)
    missing = []
    for target in targets:
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # a URL, mailto: or an anchor in the same page
        path = target.split("#", 1)[0]
        if not (doc.parent / path).exists():
            missing.append(target)
    assert not missing, f"{_rel(doc)} links to missing files: {missing}"


# -- docs/api.md -------------------------------------------------------------------------------

API_MODULES = [
    "minigrad",
    "minigrad_nn",
    "minigrad_nn.functional",
    "minigrad_nn.init",
    "minigrad_nn.optim",
    "minigrad_nn.optim.lr_scheduler",
    "minigrad_nn.datasets",
    "minigrad_nn.models",
    "minigrad_nn.distributed",
]
ENTRY = re.compile(r"^- `(?:[A-Za-z_][\w]*\.)*(?P<name>[A-Za-z_]\w*)(?P<sig>\(.*?\))?`")


def api_sections() -> dict[str, list[str]]:
    """The top-level entries (`- `name(...)`` bullets) under each `## `module`` heading."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in _without_code((DOCS / "api.md").read_text(encoding="utf-8")).splitlines():
        heading = re.match(r"^## `([\w.]+)`", line)
        if heading:
            current = sections.setdefault(heading.group(1), [])
        elif line.startswith("## "):
            current = None
        elif current is not None and line.startswith("- `"):
            current.append(line)
    return sections


class _Shown:
    """A default value as the docs write it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _shown(value: object) -> object:
    if value is inspect.Parameter.empty:
        return value
    if repr(value) == "<factory>":  # a dataclass field(default_factory=list)
        return _Shown("[]")
    if isinstance(value, type):  # np.float32, not <class 'numpy.float32'>
        module = value.__module__
        return _Shown(f"np.{value.__name__}" if module.startswith("numpy") else value.__name__)
    if inspect.isbuiltin(value) or inspect.isfunction(value):  # print, not <built-in ...>
        return _Shown(value.__name__)
    return value


def signature_text(obj: object) -> str | None:
    """`(a, b=1, *args, key=None)`: the call signature without annotations, or None.

    Defaults are shown as code would write them: `np.float32`, `print`, `[]` for a list factory."""
    try:
        sig = inspect.signature(obj)  # for a class: its __init__ without self
    except (TypeError, ValueError):
        return None
    params = [p.replace(annotation=inspect.Parameter.empty, default=_shown(p.default))
              for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


@pytest.mark.parametrize("module_name", API_MODULES)
def test_api_doc_lists_every_public_name_with_its_signature(module_name: str) -> None:
    module = importlib.import_module(module_name)
    sections = api_sections()
    assert module_name in sections, f"docs/api.md has no section `## \\`{module_name}\\``"
    documented: dict[str, str | None] = {}
    for line in sections[module_name]:
        entry = ENTRY.match(line)
        assert entry, f"docs/api.md: cannot read the entry {line!r}"
        documented.setdefault(entry.group("name"), entry.group("sig"))
    missing = [name for name in module.__all__ if name not in documented]
    assert not missing, f"docs/api.md lacks these public names of {module_name}: {missing}"
    unknown = [name for name in documented if not hasattr(module, name)]
    assert not unknown, f"docs/api.md documents names that {module_name} lacks: {unknown}"
    wrong = []
    for name, sig in documented.items():
        obj = getattr(module, name)
        actual = None if inspect.ismodule(obj) else signature_text(obj)
        if sig is not None and actual is not None and sig != actual:
            wrong.append(f"{name}{sig} (the code has {name}{actual})")
        if sig is None and not inspect.ismodule(obj) and actual not in (None, "()"):
            wrong.append(f"{name} (no signature; the code has {name}{actual})")
    assert not wrong, f"docs/api.md signatures differ from the code: {wrong}"


if __name__ == "__main__":  # the runner: python test_docs.py DOC RESULTS_JSON
    Path(sys.argv[2]).write_text(json.dumps(run_doc(Path(sys.argv[1]))), encoding="utf-8")
