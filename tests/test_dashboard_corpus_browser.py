"""The Corpus page in headless Chromium on the default model: the drivers' plot renders (offline: nothing is
requested outside localhost) and a driver's example opens its review on the Attributions page.

Uses the server, browser and helpers of `test_dashboard_browser` (skipped with its reason when Chromium,
chromedriver or selenium are missing). Run it under the heavy lock: `flock /tmp/heavy.lock ...`.
"""

from __future__ import annotations

import time
from urllib.parse import urlparse

import pytest
import test_dashboard_browser as harness
from test_dashboard_browser import ARTIFACTS, _answer, _leaves_localhost, _requested_urls, _screenshot, _settle, _wait

server = harness.server  # the module's fixtures: one dashboard server and one browser for this file too
browser = harness.browser

pytestmark = [pytest.mark.browser, pytest.mark.default_model]

NEGATIVE = "The battery died after two days, not worth the money"
POSITIVE = "Great screen and the battery lasts all week"
ENDINGS = ["sadly", "again", "honestly", "really", "overall", "today"]
ROWS = [(f"{NEGATIVE} {e}.", 1) for e in ENDINGS] + [(f"{POSITIVE} {e}.", 5) for e in ENDINGS]


def test_corpus_plot_renders_offline_and_an_example_opens_its_review(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, _ = server
    upload = tmp_path / "corpus.csv"
    upload.write_text("text,stars\n" + "".join(f'"{t}",{s}\n' for t, s in ROWS))
    _requested_urls(browser)  # forget what earlier tests asked for
    t0 = time.perf_counter()
    browser.get(f"{url}/corpus")
    field = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "input[type=file]"), 120, "the upload field")
    field.send_keys(str(upload))
    button = "//button[normalize-space(.)='Find drivers']"
    _wait(browser, lambda d: d.find_element(By.XPATH, button), 60, "Find drivers").click()
    frame = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "iframe"), 240, "the drivers plot's frame")
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".rx-drivers"), 60, "the drivers section")
    _settle(browser)
    elapsed = time.perf_counter() - t0
    browser.switch_to.frame(frame)
    try:
        plot = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "svg.rx-drivers-plot"), 60, "the plot")
        drawn = plot.find_elements(By.CSS_SELECTOR, "g.rx-driver")
        assert drawn, "no driver in the plot"
        box = plot.rect
        assert box["width"] > 300 and box["height"] > 40, box  # laid out, not an empty box
        dots = plot.find_elements(By.CSS_SELECTOR, "g.rx-driver circle")
        assert len(dots) == len(drawn) and all(d.rect["width"] > 0 for d in dots)  # every dot drawn
        phrases = [g.get_attribute("data-phrase") for g in drawn]
    finally:
        browser.switch_to.default_content()
    from explain.stopwords import STOPWORDS

    assert phrases and not any(w in STOPWORDS for p in phrases for w in p.split()), phrases  # never stopwords
    _screenshot(browser, "corpus")

    link = _wait(
        browser,
        lambda d: d.find_element(By.XPATH, "//a[starts-with(normalize-space(.), 'Row ')]"),
        60,
        "an example's link",
    )
    number = int(link.text.split()[1])
    link.click()
    _wait(browser, lambda d: urlparse(d.current_url).path.endswith("/attributions"), 60, "the Attributions page")
    expected = ROWS[number - 1][0]
    _wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Review"]').get_attribute("value") == expected,
        60,
        "the example's review in the review box",
    )
    _answer(browser)
    _settle(browser)
    _screenshot(browser, "corpus-opened")
    outside = [u for u in _requested_urls(browser) if _leaves_localhost(u)]
    (ARTIFACTS / "dashboard-corpus.json").write_text(f'{{"corpus_page_to_plot_s": {elapsed:.2f}}}\n')
    assert not outside, outside
