"""The example notebooks run, and what they (and every result type) draw shows in a real browser, offline.

Each `examples/*.ipynb` (stored without outputs) is executed on a fresh kernel of this Python (nbclient); any
error fails the test. Its executed HTML (nbconvert's page without its CDN scripts) is opened in headless Chromium:
no console error, no request that leaves the machine, and words coloured by their scores are visible. The same
check runs over the HTML every result type displays in IPython (`explain.notebook.to_html`).

Needs Debian's chromium and chromium-driver and selenium (skipped, saying so, without them); the notebooks use the
default model (built once into the cache; .ci/run builds it before the tests).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from test_dashboard_browser import LOCAL_SCHEMES, _leaves_localhost, _requested_urls

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
NOTEBOOK_SCHEMES = LOCAL_SCHEMES | {"file"}  # the executed notebook is opened from a file
CELL_TIMEOUT = 300  # seconds per cell (the first may build the default model)
TIMINGS: dict[str, float] = {}

pytestmark = pytest.mark.browser


def _browser_missing() -> str | None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        return "Debian chromium/chromium-driver are not installed (apt-get install -y chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    from explain.render.attention_view import assets_present

    if not assets_present() and shutil.which("npm") is None:  # why_two_stars draws the head view
        return "npm is missing, so the attention view's libraries cannot be fetched (setup.sh fetches them)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--window-size=1200,1000",
                 "--allow-file-access-from-files"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


COLOURED_WORDS = """
return [...document.querySelectorAll('.rx-word, .rx-sentence')].filter(e => {
  const c = getComputedStyle(e).backgroundColor;
  const r = e.getBoundingClientRect();
  return c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent' && r.width > 0 && r.height > 0;
}).map(e => getComputedStyle(e).backgroundColor);
"""


def check_page(driver, path: Path, min_coloured: int = 1) -> list[str]:
    """Open `path`; fail on a console error or a request leaving the machine; return the coloured words'
    background colours (at least `min_coloured`)."""
    driver.get_log("browser"), driver.get_log("performance")  # start clean
    driver.get(path.as_uri())
    time.sleep(1.0)  # let iframes (srcdoc) and their inlined scripts run
    errors = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"{path.name}: console errors: {errors[:3]}"
    outside = [u for u in _requested_urls(driver) if _leaves_localhost(u, NOTEBOOK_SCHEMES)]
    assert not outside, f"{path.name} asked the network for: {outside[:3]}"
    coloured = driver.execute_script(COLOURED_WORDS)
    assert len(coloured) >= min_coloured, f"{path.name}: {len(coloured)} coloured words visible"
    return coloured


def test_every_result_type_renders_in_chromium(browser, rated_classifier, tmp_path):
    from test_notebook_display import REVIEW, _results

    from explain.notebook import to_html

    results = _results(rated_classifier, REVIEW.replace("died", "terrible"))
    sections = "".join(f"<h2>{name}</h2>{to_html(obj)}" for name, obj in results.items())
    page = tmp_path / "displays.html"
    page.write_text(f"<!doctype html><meta charset='utf-8'><body>{sections}</body>", encoding="utf-8")
    coloured = check_page(browser, page, min_coloured=3)
    assert len(set(coloured)) >= 2  # several strengths / both directions, not one flat colour
    text = browser.find_element("tag name", "body").text
    assert "<script>alert('x')</script>" in text  # the review's markup shows as text


def _execute(notebook: Path):
    import nbclient
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        f"{notebook.name} is stored with outputs"
    )
    started = time.perf_counter()
    env = os.environ | {"TOKENIZERS_PARALLELISM": "false", "PYTHONPATH": str(ROOT)}  # this checkout's explain
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    )
    client.execute(env=env)  # a fresh kernel; raises CellExecutionError on any error, naming the cell
    TIMINGS[notebook.name] = round(time.perf_counter() - started, 1)
    return nb


def _html(nb) -> str:
    """nbconvert's HTML of the executed notebook, from its 'basic' template (the cells only: the full page
    templates load require.js and MathJax from a CDN), in a plain page."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="basic").from_notebook_node(nb)
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"


@pytest.mark.default_model
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[n.stem for n in NOTEBOOKS])
def test_notebook_runs_and_its_html_shows_offline(notebook, browser):
    from explain.render.attention_view import ensure_assets

    ensure_assets()  # already in the cache after setup.sh
    nb = _execute(notebook)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", f"{notebook.name}: {output.get('ename')}"
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / f"{notebook.stem}.html"
    page.write_text(_html(nb), encoding="utf-8")
    check_page(browser, page, min_coloured=5)
    seconds = {"notebook": notebook.name, "execution_seconds": TIMINGS[notebook.name]}  # one file each: xdist workers
    (ARTIFACTS / f"{notebook.stem}.timing.json").write_text(json.dumps(seconds), encoding="utf-8")
