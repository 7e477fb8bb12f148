"""The pages of `mg.to_html` in a real browser: headless Chromium driven by selenium.

Needs the Debian packages `chromium` and `chromium-driver` and selenium (the `browser` extra);
selenium is pointed at the system chromedriver, so nothing is downloaded. Where one of them
is missing the tests skip and say which; on CI (the environment variable CI set, as
`.ci/run` does) a missing browser is a failure instead, so the tests cannot silently vanish.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path

import pytest
from test_graph_svg import apple_graph, chain, two_layer_net_loss

import minigrad as mg

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]', or '.[browser]')"
    if not any(shutil.which(b) for b in BROWSERS):
        return "no Chromium found (apt-get install chromium)"
    if not shutil.which("chromedriver", path=f"{os.environ.get('PATH', '')}:/usr/bin"):
        return "no chromedriver found (apt-get install chromium-driver)"
    return None


def _on_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def browser():
    reason = _missing()
    if reason is not None:
        if _on_ci():
            pytest.fail(f"the browser tests must run on CI, but {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    profile = tempfile.mkdtemp(prefix="minigrad-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 "--window-size=1280,800", "--force-device-scale-factor=1",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver", path=f"{os.environ.get('PATH', '')}:/usr/bin")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_window_size(1280, 800)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, path: Path) -> float:
    """Open the page from disk; the seconds from navigation to the end of the load event."""
    driver.get(path.resolve().as_uri())
    driver.get_log("browser")  # (clears the log of anything before this page)
    return driver.execute_script(
        "const t = performance.getEntriesByType('navigation')[0];"
        "return (t.loadEventEnd || performance.now()) / 1000;")


def shown(driver, css: str) -> list[str]:
    return [e.text for e in driver.find_elements("css selector", css) if e.is_displayed()]


def click(driver, element_id: str) -> None:
    driver.find_element("id", element_id).click()


def console_errors(driver) -> list[dict]:
    return [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


def png_size_and_colours(png: bytes) -> tuple[int, int, int, float]:
    """Width, height, number of distinct colours and the share of non-white pixels of an
    8-bit RGB(A) PNG (Chromium's screenshots), decoded with zlib alone."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        body = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0
    channels = 4 if colour_type == 6 else 3
    raw, stride = zlib.decompress(idat), width * channels
    rows, previous = [], bytearray(stride)
    for r in range(height):  # undo the PNG row filters
        start = r * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc
                                      else corner)) & 255
        rows.append(bytes(line))
        previous = line
    pixels = [row[i:i + 3] for row in rows[::4] for i in range(0, stride, channels * 4)]
    not_white = sum(p != b"\xff\xff\xff" for p in pixels) / len(pixels)
    return width, height, len(set(pixels)), not_white


def check_screenshot(driver, path: Path) -> None:
    driver.save_screenshot(str(path))
    width, height, colours, ink = png_size_and_colours(path.read_bytes())
    assert (width, height) == tuple(driver.execute_script(
        "return [window.innerWidth, window.innerHeight]"))
    assert width >= 800 and height >= 500
    assert colours > 20, "the page looks blank"
    assert 0.01 < ink < 0.9, f"{ink:.0%} of the page is not white"


def test_the_apple_page_steps_through_both_passes(browser, tmp_path):
    price, _ = apple_graph()
    page = tmp_path / "apple.html"
    mg.to_html(price, page)
    open_page(browser, page)
    assert sorted(shown(browser, "text.value")) == sorted(["100", "2", "1.1"])  # the inputs
    assert shown(browser, "text.grad") == []

    click(browser, "mg-forward")
    assert "200" in shown(browser, "text.value")
    assert "Mul(100, 2) = 200" in browser.find_element("id", "mg-status").text
    click(browser, "mg-forward")
    assert sorted(shown(browser, "text.value")) == sorted(["100", "2", "1.1", "200", "220"])
    assert not browser.find_element("id", "mg-forward").is_enabled()  # the forward pass is done

    click(browser, "mg-backward")  # the seed: d price / d price = 1
    assert shown(browser, "text.grad") == ["1"]
    click(browser, "mg-backward")  # the second multiply node runs backward first
    assert sorted(shown(browser, "text.grad")) == sorted(["1", "1.1", "200"])
    click(browser, "mg-backward")
    assert sorted(shown(browser, "text.grad")) == sorted(["1", "1.1", "200", "2.2", "110"])
    assert not browser.find_element("id", "mg-backward").is_enabled()

    # Click the multiply node that made the price: its panel.
    price_node = browser.find_elements("css selector", "g.node.op")[1]
    price_node.click()
    panel = browser.find_element("id", "mg-panel").text
    assert "Mul" in panel and "dx = dout * y, dy = dout * x" in panel
    assert "220" in panel and "shape ()" in panel and "float32" in panel
    browser.find_element("css selector", "g.node.leaf").click()  # a leaf: apple
    panel = browser.find_element("id", "mg-panel").text
    assert "apple" in panel and "100.0" in panel and "2.2" in panel

    # The keys: r resets, the right arrow steps, p plays to the end.
    body = browser.find_element("tag name", "body")
    body.send_keys("r")
    assert shown(browser, "text.grad") == [] and "200" not in shown(browser, "text.value")
    body.send_keys("\ue014")  # the right arrow key
    assert "200" in shown(browser, "text.value")
    body.send_keys("p")
    deadline = time.monotonic() + 10
    everything = sorted(["1", "1.1", "200", "2.2", "110"])
    while sorted(shown(browser, "text.grad")) != everything and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sorted(shown(browser, "text.grad")) == everything
    assert console_errors(browser) == []
    check_screenshot(browser, tmp_path / "apple.png")


def test_the_two_layer_net_page(browser, tmp_path):
    loss, _ = two_layer_net_loss(batch=100)
    page = tmp_path / "two_layer_net.html"
    mg.to_html(loss, page)
    open_page(browser, page)
    nodes = browser.find_elements("css selector", "g.node")
    assert 10 <= len(nodes) <= 14
    body = browser.find_element("tag name", "body")
    body.send_keys("\ue010")  # End: the last step, the backward pass done
    assert "(784, 50)" in shown(browser, "text.grad")  # W1's gradient arrived
    matmul = next(n for n in browser.find_elements("css selector", "g.node.op")
                  if n.text == "@")
    matmul.click()
    panel = browser.find_element("id", "mg-panel")
    assert "MatMul" in panel.text and "dx = dout @ y.T, dy = x.T @ dout" in panel.text
    assert "shape (100, 50)" in panel.text and "min " in panel.text and "mean " in panel.text
    assert panel.find_elements("css selector", "canvas.mg-heat")  # a heat map for big arrays
    assert console_errors(browser) == []
    check_screenshot(browser, tmp_path / "two_layer_net.png")


def test_a_ten_thousand_op_chain_opens_folded(browser, tmp_path):
    y, _ = chain(10_000)
    page = tmp_path / "chain.html"
    mg.to_html(y, page)
    seconds = open_page(browser, page)
    print(f"the 10,000-op page opened in {seconds:.2f} s")  # reported, not asserted
    folds = browser.find_elements("css selector", "g.node.fold")
    assert [f.text for f in folds] == ["Add ×9,996"]
    assert len(browser.find_elements("css selector", "g.node")) < 20
    browser.find_element("tag name", "body").send_keys("\ue010")  # End
    assert "(2,)" in shown(browser, "text.grad")
    folds[0].click()
    assert "9,996 ops drawn as one box" in browser.find_element("id", "mg-panel").text
    assert console_errors(browser) == []
    check_screenshot(browser, tmp_path / "chain.png")
