"""End to end in a real browser: `explain dashboard` on the default model, driven by headless Chromium.

Needs Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver) and the
`selenium` package; skipped with the reason when they are missing. Screenshots and timings go to
tests/artifacts/ (not committed).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1440,1100",
)
REVIEW = "The battery died after two days, what a waste of money. Cloudy screen too."
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "devtools", "chrome-extension"}
STARTUP_SECONDS = 180  # the server imports torch and loads the model; a cold CI machine is slow

pytestmark = [pytest.mark.browser, pytest.mark.default_model]


def _missing() -> str | None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        return (
            "Debian chromium/chromium-driver are not installed "
            "(apt-get update && apt-get install -y chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    from explain.render.attention_view import assets_present

    if not assets_present() and shutil.which("npm") is None:
        return "npm is missing, so the attention view's libraries cannot be fetched"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


@pytest.fixture(scope="module")
def server():
    """`explain dashboard` on a free local port; yields its URL, stops it afterwards."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from explain.models import load_classifier
    from explain.render.attention_view import ensure_assets

    ensure_assets()
    load_classifier()  # builds the default model into the cache if it is missing
    port = _free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    with open(ARTIFACTS / "dashboard-server.log", "w") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "explain.cli", "dashboard", "--port", str(port), "--address", "127.0.0.1"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"dashboard did not start: {(ARTIFACTS / 'dashboard-server.log').read_text()[-2000:]}")
                time.sleep(0.5)
            yield url, time.perf_counter() - started
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


def _requested_urls(driver) -> list[str]:
    """Every URL the browser asked for (pages, scripts, fetches, websockets) since the last call."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(message["params"]["url"])
    return urls


def _leaves_localhost(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme not in LOCAL_SCHEMES and parsed.hostname not in LOCAL_HOSTS


def _wait(driver, condition, timeout: float, what: str):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)
    except TimeoutException:
        driver.save_screenshot(str(ARTIFACTS / "dashboard-failure.png"))
        pytest.fail(
            f"timed out after {timeout} s waiting for {what} (screenshot: tests/artifacts/dashboard-failure.png)"
        )


def _coloured_words(driver) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".rx-explanation span.rx-word")]


def test_review_prediction_tokens_and_head_view(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, server_start = server
    timings = {"server_start_s": round(server_start, 2)}
    t0 = time.perf_counter()
    browser.get(url)
    _wait(browser, lambda d: _coloured_words(d), 180, "the first coloured explanation of the example review")
    timings["page_load_to_first_explanation_s"] = round(time.perf_counter() - t0, 2)

    box = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Review"]'), 30, "review box")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(REVIEW)
    t1 = time.perf_counter()
    box.send_keys(Keys.CONTROL, Keys.ENTER)
    _wait(browser, lambda d: "battery" in _coloured_words(d), 120, "coloured tokens of the typed review")
    timings["typed_review_to_explanation_s"] = round(time.perf_counter() - t1, 2)

    headings = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "h3")]
    assert any(h.startswith("Prediction: ") and h.endswith(("star", "stars")) for h in headings), headings
    words = _coloured_words(browser)
    assert words[:6] == ["The", "battery", "died", "after", "two", "days"]
    styles = [e.get_attribute("style") for e in browser.find_elements(By.CSS_SELECTOR, "span.rx-word")]
    assert sum("rgb(" in s for s in styles) >= 3  # words really are coloured
    titles = [e.get_attribute("title") for e in browser.find_elements(By.CSS_SELECTOR, "span.rx-word")]
    assert titles[1].startswith("battery: ")  # hover shows the score
    browser.save_screenshot(str(ARTIFACTS / "dashboard-explain.png"))

    browser.find_element(By.CSS_SELECTOR, 'a[href$="/attention"]').click()  # the sidebar's page link
    t2 = time.perf_counter()
    frame = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "iframe"), 120, "the head view's frame")
    browser.switch_to.frame(frame)
    texts = _wait(
        browser,
        lambda d: [t.text for t in d.find_elements(By.CSS_SELECTOR, "svg text") if t.text] or None,
        60,
        "the head view's SVG",
    )
    timings["attention_page_to_head_view_s"] = round(time.perf_counter() - t2, 2)
    assert "battery" in texts and "[CLS]" in texts
    assert len(browser.find_elements(By.CSS_SELECTOR, "svg line")) > 0  # the attention lines are drawn
    browser.switch_to.default_content()
    heading = browser.find_element(By.XPATH, "//h3[starts-with(normalize-space(.), 'Head view')]")
    browser.execute_script("arguments[0].scrollIntoView();", heading)
    time.sleep(0.5)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-attention.png"))

    requested = _requested_urls(browser)
    outside = [u for u in requested if _leaves_localhost(u)]
    (ARTIFACTS / "dashboard-browser.json").write_text(
        json.dumps(timings | {"requests": len(requested), "outside_localhost": outside}, indent=2)
    )
    assert requested and not outside
