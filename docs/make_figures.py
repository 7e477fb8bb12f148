"""Draw the documentation's pictures by running the tutorial and the convolutions chapter.

    python docs/make_figures.py     # needs matplotlib (for the training curves); no Graphviz

Runs the python blocks of docs/tutorial.md (then of docs/conv.md) in order, in one namespace and
a temporary working directory (as tests/test_docs.py does). At each
`<!-- figure: NAME = EXPRESSION -->` comment it evaluates EXPRESSION in that namespace and writes
docs/figures/NAME:

* a Tensor: the computational graph that produced it, with `mg.to_svg` (minigrad's own layout,
  the same picture on any machine); tensors without a name are first named after the
  tutorial's variables (and dictionary keys, module parameters) that hold them, so the picture
  uses the names of the code;
* a History: its training curves, with `History.plot`;
* a matplotlib figure: saved as it is.

At each `<!-- page: NAME.png = EXPRESSION -->` comment (a Tensor, or a Tensor and an op name)
it makes the graph's page with `mg.to_html`, opens it in headless Chromium (the Debian packages
chromium and chromium-driver, and selenium: `pip install -e '.[browser]'`), plays both passes,
clicks the first op of that name (else the op that made the result) and saves a screenshot as
docs/figures/NAME.png. Without a browser these are skipped
with a message (the SVG figures need none).

The pictures are committed; run this again after changing the tutorial or the graph export.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
TUTORIAL = DOCS / "tutorial.md"
SOURCES = (TUTORIAL, DOCS / "conv.md")
FIGURES = DOCS / "figures"

# Code fences (```python ... ```) and figure comments, in the order they appear.
PIECE = re.compile(
    r"^```(?P<lang>[\w+-]*)[ \t]*\n(?P<code>.*?)^```[ \t]*$"
    r"|<!--\s*(?P<kind>figure|page):\s*(?P<name>[\w.-]+)\s*=\s*(?P<expr>.+?)\s*-->",
    re.MULTILINE | re.DOTALL,
)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--disable-dev-shm-usage", "--force-device-scale-factor=1")


def name_tensors(root: Any, namespace: dict[str, Any]) -> None:
    """Give the unnamed tensors of `root`'s graph the names the tutorial's code uses."""
    import minigrad as mg
    import minigrad_nn as nn

    names: dict[int, str] = {}

    def offer(value: Any, name: str) -> None:
        if isinstance(value, mg.Tensor) and not name.startswith("_"):
            names.setdefault(id(value), name)

    for var, value in namespace.items():
        offer(value, var)
        if isinstance(value, dict):
            for key, item in value.items():
                offer(item, str(key))
        if isinstance(getattr(value, "params", None), dict):
            for key, item in value.params.items():
                offer(item, str(key))
        if isinstance(value, nn.Module):
            for key, item in value.named_parameters():
                offer(item, key)
    stack, seen = [root], set()
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.name is None and id(t) in names:
            t.name = names[id(t)]
        if t.grad_fn is not None:
            stack.extend(x for x in t.grad_fn.inputs if isinstance(x, mg.Tensor))


def draw(value: Any, path: Path, namespace: dict[str, Any]) -> None:
    import minigrad as mg

    if isinstance(value, mg.Tensor):
        name_tensors(value, namespace)
        mg.to_svg(value, path)
    elif hasattr(value, "plot"):
        value.plot(path)
    elif hasattr(value, "savefig"):
        value.savefig(path, dpi=100)
    else:
        raise TypeError(f"cannot draw {type(value).__name__} as {path.name}")
    print(f"wrote {path.relative_to(ROOT)}")


def open_browser(work: Path) -> Any:
    """Headless Chromium through the system chromedriver (nothing downloaded), or None."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        print("skipping the page screenshots: selenium is not installed")
        return None
    browser = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
    driver = shutil.which("chromedriver", path=f"{os.environ.get('PATH', '')}:/usr/bin")
    if browser is None or driver is None:
        print("skipping the page screenshots: chromium or chromedriver is missing")
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={work / 'chromium-profile'}"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.set_window_size(1280, 600)
    return chrome


def screenshot(value: Any, path: Path, namespace: dict[str, Any], browser: Any) -> None:
    """The page of a graph after both passes, with an op clicked: `value` is the graph's result,
    or the result and the name of the op to click (else the op that made the result)."""
    import minigrad as mg

    root, op_name = value if isinstance(value, tuple) else (value, None)
    name_tensors(root, namespace)
    page = Path.cwd() / (path.stem + ".html")
    mg.to_html(root, page)
    browser.get(page.as_uri())
    browser.execute_script("window.minigradPage.go(window.minigradPage.steps.length - 1)")
    # The first op to run backward is the one that made the result.
    node = browser.execute_script(
        "const p = window.minigradPage, name = arguments[0];"
        "return p.steps.find(s => s.pass === 'backward' && p.data.nodes[s.node].kind === 'op'"
        " && (name === null || p.data.nodes[s.node].op === name)).node;", op_name)
    browser.find_element("css selector", f'g.node[data-node="{node}"]').click()
    browser.save_screenshot(str(path))
    print(f"wrote {path.relative_to(ROOT)}")


def main() -> None:
    sys.path.insert(0, str(ROOT))  # the repository's packages, even when not installed
    os.environ.pop("MINIGRAD_DATA", None)
    os.environ.setdefault("MPLBACKEND", "Agg")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # before NumPy loads: see tests/test_docs.py
    FIGURES.mkdir(exist_ok=True)
    for source in SOURCES:
        run(source)


def run(source: Path) -> None:
    """Run one document's blocks in a fresh namespace, drawing its figures as they come."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    text = source.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path.cwd()
        os.chdir(tmp)
        browser = None
        try:
            for piece in PIECE.finditer(text):
                if piece.group("kind") == "page":
                    browser = browser or open_browser(Path(tmp))
                    if browser is not None:
                        value = eval(piece.group("expr"), namespace)
                        screenshot(value, FIGURES / piece.group("name"), namespace, browser)
                elif piece.group("name"):
                    value = eval(piece.group("expr"), namespace)
                    draw(value, FIGURES / piece.group("name"), namespace)
                elif piece.group("lang") == "python":
                    line = text[: piece.start()].count("\n") + 1
                    code = compile(piece.group("code"), f"{source.name}:{line}", "exec")
                    with contextlib.redirect_stdout(io.StringIO()):
                        exec(code, namespace)
        finally:
            if browser is not None:
                browser.quit()
            os.chdir(cwd)


if __name__ == "__main__":
    main()
