"""End to end in a real browser: `explain dashboard` on the default model, driven by headless Chromium.

Needs Debian's `chromium` and `chromium-driver` (/usr/bin/chromium, /usr/bin/chromedriver) and the
`selenium` package; skipped with the reason when they are missing. Screenshots of every page and the
timings go to tests/artifacts/ (not committed). One server and one browser for the module; each test
opens its page from a URL (the review and options ride in the query string, as a shared link would).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import numpy as np
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
REVIEW_30 = (  # 30 words: the answer-line timing target's size
    "Sadly the battery died after two days and the charger never worked, what a waste of money. "
    "The screen is cloudy, the speaker crackles and support never answered my emails."
)
NEGATIVE = "Battery died in a week and support never answered."
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
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        (ARTIFACTS / "dashboard-timings.json").write_text(json.dumps(TIMINGS, indent=2))  # every test's, at the end


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


def _leaves_localhost(url: str, schemes: frozenset[str] | set[str] = LOCAL_SCHEMES) -> bool:
    """Does this request leave the machine? (`schemes`: URL schemes that never do.)"""
    parsed = urlparse(url)
    return parsed.scheme not in schemes and parsed.hostname not in LOCAL_HOSTS


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


TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def model():
    from explain.models import load_classifier

    return load_classifier()


def _settle(driver, timeout: float = 180, what: str = "the page to finish running") -> float:
    """Wait until Streamlit is not running the script any more (its status widget is gone for ~1 s).

    A page still drawing (BertViz's views at 96 tokens and two layers) can hold the browser's main thread
    longer than the driver's script timeout: that counts as busy, not as a failure. Returns the longest wait for
    the page to answer (how long it froze), in seconds."""
    from selenium.common.exceptions import TimeoutException

    deadline = time.monotonic() + timeout
    calm = 0
    longest = 0.0
    time.sleep(0.5)
    while calm < 4:
        if time.monotonic() > deadline:
            _wait(driver, lambda d: False, 0.1, what)
        t0 = time.monotonic()
        try:
            busy = driver.execute_script(
                "return !!document.querySelector('[data-testid=stStatusWidget], [data-testid=stSpinner]')"
            )
        except TimeoutException:
            busy = True
        longest = max(longest, time.monotonic() - t0)
        calm = 0 if busy else calm + 1
        time.sleep(0.3)
    return longest


def _open(driver, url: str, page: str, **params: str | list[str]) -> None:
    query = "&".join(
        f"{k}={quote(v)}" for k, values in params.items() for v in ([values] if isinstance(values, str) else values)
    )
    driver.get(f"{url}/{page}?{query}")


def _answer(driver, timeout: float = 180):
    from selenium.webdriver.common.by import By

    return _wait(driver, lambda d: d.find_element(By.CSS_SELECTOR, ".rx-answer"), timeout, "the answer line")


def _screenshot(driver, name: str) -> None:
    """The whole page (Streamlit scrolls its main block, so the window is made as tall as it)."""
    height = driver.execute_script("return document.querySelector('[data-testid=stMain]').scrollHeight")
    driver.set_window_size(1440, min(max(1100, height), 8000))
    time.sleep(0.5)
    driver.save_screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))
    driver.set_window_size(1440, 1100)


def _overflowing(driver) -> list[str]:
    """Elements of the main area wider than their frame: the page itself and every iframe's document."""
    out = []
    width, client = driver.execute_script(
        "var m = document.querySelector('[data-testid=stMain]'); return [m.scrollWidth, m.clientWidth];"
    )
    if width > client + 1:
        out.append(f"main area {width} px in {client} px")
    for i, frame in enumerate(driver.find_elements("css selector", "iframe")):
        driver.switch_to.frame(frame)
        try:
            inner, visible = driver.execute_script(
                "var e = document.documentElement; return [e.scrollWidth, e.clientWidth];"
            )
        finally:
            driver.switch_to.default_content()
        if inner > visible + 1:
            out.append(f"iframe {i}: {inner} px in {visible} px")
    return out


def test_answer_line_and_a_url_that_survives_reload(server, browser, model):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from explain.metrics.consensus import close_call

    url, server_start = server
    TIMINGS["server_start_s"] = round(server_start, 2)
    assert len(REVIEW_30.replace(",", " ").replace(".", " ").split()) == 30
    t0 = time.perf_counter()
    _open(browser, url, "", review=REVIEW_30)
    line = _answer(browser)
    TIMINGS["page_load_to_answer_line_30_words_s"] = round(time.perf_counter() - t0, 2)
    probs = model.predict_proba([REVIEW_30])[0]
    assert line.get_attribute("data-label") == model.labels[int(probs.argmax())]
    assert line.get_attribute("data-close-call") == str(close_call(probs, model.labels) is not None).lower()
    assert f"{float(probs @ np.asarray(model.label_values)):.1f} stars expected" in line.text
    assert "occlusion" in line.text
    _settle(browser)
    _screenshot(browser, "explain")
    warm = REVIEW_30.replace("Sadly", "Honestly")  # a new review (nothing cached) on the loaded model
    t1 = time.perf_counter()
    _open(browser, url, "", review=warm)
    _wait(
        browser,
        lambda d: (
            _answer(d).get_attribute("data-label")
            and d.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Review"]').get_attribute("value") == warm
        ),
        180,
        "the answer line for a second review",
    )
    TIMINGS["page_load_to_answer_line_30_words_model_loaded_s"] = round(time.perf_counter() - t1, 2)

    box = browser.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Review"]')
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(NEGATIVE)
    browser.find_element(By.XPATH, "//button[normalize-space(.)='Explain']").click()
    _wait(
        browser,
        lambda d: parse_qs(urlparse(d.current_url).query).get("review") == [NEGATIVE],
        60,
        "the typed review in the address bar",
    )
    _settle(browser)
    label = _answer(browser).get_attribute("data-label")
    assert label == model.labels[int(model.predict_proba([NEGATIVE])[0].argmax())]

    shared = browser.current_url
    browser.get("about:blank")
    browser.get(shared)  # a reload, or a colleague opening the link
    _wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Review"]').get_attribute("value") == NEGATIVE,
        120,
        "the review restored from the URL",
    )
    assert _answer(browser).get_attribute("data-label") == label


def test_a_400_word_review_shows_its_sentences_first(server, browser):
    from selenium.webdriver.common.by import By

    sentences = [
        "We stayed four nights in a room on the second floor facing the courtyard.",
        "The lobby has a small bar, a piano and a rack of local newspapers.",
        "Breakfast is served from seven and the coffee machine needs a token.",
        "The tram stop is two minutes away and the old town ten on foot.",
    ]
    words, text = 0, []
    while words < 390:
        text.append(sentences[len(text) % len(sentences)])
        words += len(text[-1].split())
    review = " ".join(text) + " Sadly the bathroom was filthy and the staff were rude, never again."
    url, _ = server
    t0 = time.perf_counter()
    _open(browser, url, "", review=review)
    card = _wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, '.rx-explanation[data-level="sentence"]'),
        180,
        "the sentence view of a long review",
    )
    TIMINGS["page_load_to_first_explanation_400_words_s"] = round(time.perf_counter() - t0, 2)
    spans = card.find_elements(By.CSS_SELECTOR, ".rx-sentence")
    shown = [(s.text, float(s.get_attribute("data-score"))) for s in spans]
    assert len(shown) == len(text) + 1
    assert min(shown, key=lambda pair: pair[1])[0].startswith("Sadly")  # the complaint lowers the rating most


def test_every_page_fits_its_frame_and_heatmap_rows_are_readable(server, browser):
    from selenium.webdriver.common.by import By

    url, _ = server
    for page, params in (
        ("attributions", {"attr_methods": ["occlusion", "ig"]}),
        ("attention", {}),
        ("compare", {"cmp_methods": ["occlusion", "ig", "rollout"]}),
        ("whatif", {}),
    ):
        t0 = time.perf_counter()
        _open(browser, url, page, review=REVIEW, **params)
        _answer(browser)
        _settle(browser, what=f"the {page} page")
        TIMINGS[f"{page}_page_s"] = round(time.perf_counter() - t0, 2)
        assert not browser.find_elements(By.CSS_SELECTOR, "[data-testid=stException]"), page
        _screenshot(browser, page)
        assert _overflowing(browser) == [], page
        if page in ("attributions", "compare"):  # the options in the URL are the ones shown
            shown = [e.get_attribute("data-method") for e in browser.find_elements(By.CSS_SELECTOR, ".rx-explanation")]
            assert shown == next(v for k, v in params.items() if k.endswith("_methods")), shown
        if page == "attention":
            n_tokens = int(re.search(r"over (\d+) tokens", browser.find_element(By.TAG_NAME, "body").text).group(1))
            charts = browser.find_elements(By.CSS_SELECTOR, "[data-testid=stVegaLiteChart] svg")
            assert len(charts) == 2  # rollout and gradient-weighted attention
            for chart in charts:
                cells = chart.find_elements(By.CSS_SELECTOR, ".mark-rect path")
                heights = [c.rect["height"] for c in cells[: n_tokens * n_tokens]]
                assert len(heights) == n_tokens * n_tokens and min(heights) >= 14, min(heights)
                labels = [t.text for t in chart.find_elements(By.CSS_SELECTOR, ".role-axis-label text")]
                assert len(labels) == 2 * n_tokens  # every token labelled on both axes
            TIMINGS["heatmap_row_px"] = min(heights)


def test_smallest_change_is_rechecked_against_predict_proba(server, browser, model):
    from selenium.webdriver.common.by import By

    url, _ = server
    _open(browser, url, "whatif", review=NEGATIVE)
    _answer(browser)
    found = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".rx-smallest"), 180, "the smallest change")
    edited, label = found.get_attribute("data-text"), found.get_attribute("data-label")
    before = model.predict_proba([NEGATIVE])[0]
    after = model.predict_proba([edited])[0]
    assert model.labels[int(after.argmax())] == label != model.labels[int(before.argmax())]
    assert len(edited.split()) < len(NEGATIVE.split())  # words were removed
    _settle(browser)
    _screenshot(browser, "whatif-smallest")


def test_a_batch_row_opens_its_review(server, browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, _ = server
    rows = [("r1", NEGATIVE, "1"), ("r2", "I really loved that movie", "5"), ("r3", REVIEW, "2")]
    upload = tmp_path / "reviews.csv"
    upload.write_text("id,review,stars\n" + "".join(f'{i},"{t}",{s}\n' for i, t, s in rows))
    browser.get(f"{url}/batch")
    field = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "input[type=file]"), 120, "the upload field")
    field.send_keys(str(upload))
    _wait(browser, lambda d: d.find_element(By.XPATH, "//button[normalize-space(.)='Run']"), 60, "Run").click()
    grid = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "[data-testid=stDataFrame]"), 180, "the table")
    _settle(browser)
    _screenshot(browser, "batch")
    # the first data row's selection cell: left edge of the grid, one header row down
    box = grid.rect
    ActionChains(browser).move_to_element_with_offset(
        grid, -box["width"] / 2 + 12, -box["height"] / 2 + 52
    ).click().perform()
    opener = _wait(
        browser,
        lambda d: d.find_element(By.XPATH, '//a[normalize-space(.)="Open this review\'s full explanation"]'),
        60,
        "the selected row's explanation",
    )
    heading = browser.find_element(By.XPATH, "//h3[starts-with(normalize-space(.), 'Row ')]").text
    number = int(heading.split()[1])
    opener.click()
    _wait(browser, lambda d: urlparse(d.current_url).path.endswith("/attributions"), 60, "the Attributions page")
    expected = rows[number - 1][1]
    _wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Review"]').get_attribute("value") == expected,
        60,
        "the row's review in the review box",
    )
    _answer(browser)
    _settle(browser)
    _screenshot(browser, "batch-opened")

    requested = _requested_urls(browser)
    outside = [u for u in requested if _leaves_localhost(u)]
    (ARTIFACTS / "dashboard-browser.json").write_text(
        json.dumps(TIMINGS | {"requests": len(requested), "outside_localhost": outside}, indent=2)
    )
    assert requested and not outside


# ---------------------------------------------------------------- issue 22: an answer that never misleads
SATURATED = "Absolutely perfect, best purchase I made this year, it works flawlessly and looks great."
FLOOR_STARS = 0.05


def _strength(style: str) -> float:
    """How far a background is from white: 0 (none) to ~0.9 (the full colour)."""
    found = re.search(r"background:\s*rgb\((\d+),\s*(\d+),\s*(\d+)\)", style)
    return 0.0 if not found else (255 - min(int(c) for c in found.groups())) / 255


def _gone(element) -> bool:
    """Has the page replaced this element?"""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        return not element.is_displayed()
    except StaleElementReferenceException:
        return True


def _set_review(driver, text: str) -> None:
    """Put `text` in the review box as a paste does (one input event), then press Explain."""
    from selenium.webdriver.common.by import By

    driver.execute_script(
        "var box = document.querySelector('textarea[aria-label=\"Review\"]');"
        "Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value').set.call(box, arguments[0]);"
        "box.dispatchEvent(new Event('input', {bubbles: true}));",
        text,
    )
    time.sleep(0.3)
    driver.find_element(By.XPATH, "//button[normalize-space(.)='Explain']").click()


def test_a_saturated_rating_names_no_noise_and_no_card_saturates_it(server, browser, model):
    """The issue's review: every word's effect is a few hundredths of a star. Attributions with occlusion and
    SHAP: the answer names only words whose removal moves the rating by the floor, the way it says; no card
    draws an effect below the floor in more than a fifth of the full colour (read from the DOM)."""
    from selenium.webdriver.common.by import By

    url, _ = server
    _open(browser, url, "attributions", review=SATURATED, attr_methods=["occlusion", "shap"])
    line = _wait(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, '.rx-answer[data-preview="false"]'),
        240,
        "the answer from the page's methods",
    )
    _settle(browser)
    (line,) = browser.find_elements(By.CSS_SELECTOR, ".rx-answer")  # the page's answer replaced the preview
    assert line.get_attribute("data-methods") == "occlusion,shap"
    rating = float(model.expected_rating([SATURATED])[0])
    named = json.loads(line.get_attribute("data-named"))
    values = np.asarray(model.label_values)
    for word, effect in named:  # each named word checked by removing it, with predict_proba
        without = model.predict_proba([re.sub(rf"\b{re.escape(word)}\b", "", SATURATED, count=1)])[0] @ values
        removal = rating - float(without)
        assert abs(removal) >= FLOOR_STARS and np.sign(removal) == np.sign(effect), (word, effect, removal)
    if not named:
        assert "no single word moves this" in line.text
    TIMINGS["saturated_rating"] = round(rating, 3)
    TIMINGS["saturated_named_words"] = len(named)
    cards = browser.find_elements(By.CSS_SELECTOR, '.rx-explanation[data-signed="true"]')
    assert [c.get_attribute("data-method") for c in cards] == ["occlusion", "shap"]
    strongest = 0.0
    for card in cards:
        assert float(card.get_attribute("data-scale")) >= 0.25  # the fixed minimum range, in stars
        for word in card.find_elements(By.CSS_SELECTOR, ".rx-word"):
            if abs(float(word.get_attribute("data-score"))) < FLOOR_STARS:
                strongest = max(strongest, _strength(word.get_attribute("style")))
    TIMINGS["strongest_colour_below_floor"] = round(strongest, 3)
    assert strongest <= 0.2 * 0.91  # at most floor / 0.25 of the darkest full colour
    _screenshot(browser, "issue22-saturated")


def test_an_over_limit_paste_shows_the_limit_not_the_old_review(server, browser):
    from selenium.webdriver.common.by import By

    from explain.limits import MAX_TEXT_CHARS

    url, _ = server
    _open(browser, url, "", review=NEGATIVE)
    _answer(browser)
    _settle(browser)
    _set_review(browser, "word " * 40_000)  # 200,000 characters
    error = _wait(
        browser,
        lambda d: d.find_element(By.XPATH, "//*[@data-testid='stAlert'][contains(., 'Not explained')]"),
        60,
        "the over-limit message",
    )
    assert f"the limit is {MAX_TEXT_CHARS.value():,}" in error.text and "200,000 characters" in error.text
    _settle(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, ".rx-answer, .rx-explanation")  # not the old review
    _screenshot(browser, "issue22-over-limit")


@pytest.mark.parametrize("n_tokens", [40, 80, 400])
def test_attention_views_fit_their_frames(server, browser, n_tokens):
    from selenium.webdriver.common.by import By

    url, _ = server
    words = [
        "the",
        "sound",
        "is",
        "clear",
        "but",
        "the",
        "battery",
        "dies",
        "fast",
        "and",
        "support",
        "never",
        "answers",
    ]
    review = " ".join(words[i % len(words)] for i in range(n_tokens - 2))  # plus [CLS] and [SEP]
    _open(browser, url, "attention", review=review, att_layers=["0", "5"])
    _answer(browser)
    t0 = time.perf_counter()
    froze = _settle(browser, timeout=300, what=f"the attention page at {n_tokens} tokens")
    TIMINGS[f"attention_page_{n_tokens}_tokens_settled_s"] = round(time.perf_counter() - t0, 2)
    TIMINGS[f"attention_page_{n_tokens}_tokens_longest_freeze_s"] = round(froze, 2)
    time.sleep(1.0)  # the views' fit-to-frame script runs after BertViz draws
    frames = browser.find_elements(By.CSS_SELECTOR, "iframe")
    assert len(frames) >= 2  # head view and model view
    assert _overflowing(browser) == [], n_tokens
    cards = browser.find_elements(By.CSS_SELECTOR, '.rx-explanation[data-method="grad_attn"]')
    assert all(c.get_attribute("data-signed") == "false" for c in cards)  # one-sided legend
    _screenshot(browser, f"issue22-attention-{n_tokens}")


def test_answer_line_then_a_progress_bar_with_time_left(server, browser):
    """On the loaded model: a new 30-word review's answer line after pressing Explain; then a 600-word review's
    progress bar (work done and time left). The times are recorded in the artifacts' timings file, not asserted:
    issue 22's targets (answer <= 5 s, bar <= 1 s on 2 cores) depend on the machine's load."""
    from selenium.webdriver.common.by import By

    url, _ = server
    _open(browser, url, "", review=NEGATIVE)
    old = _answer(browser)
    _settle(browser)
    fresh = REVIEW_30.replace("Sadly", "Frankly").replace("two days", "three days")
    t0 = time.perf_counter()
    _set_review(browser, fresh)
    _wait(
        browser,
        lambda d: _gone(old) and d.find_elements(By.CSS_SELECTOR, ".rx-answer"),
        60,
        "the new review's answer line",
    )
    TIMINGS["explain_press_to_answer_line_30_words_s"] = round(time.perf_counter() - t0 - 0.3, 2)
    _settle(browser)
    sentences = [
        "We stayed four nights in a room on the second floor facing the courtyard",
        "the lobby has a small bar and a piano",
        "breakfast is served from seven and the coffee is good",
        "sadly the bathroom was dirty and the staff were rude",
    ]
    long_review = ". ".join(sentences[i % 4] for i in range(56)) + "."
    assert len(long_review.split()) >= 600
    t1 = time.perf_counter()
    _set_review(browser, long_review)
    bar = _wait(
        browser,
        lambda d: next(
            (e for e in d.find_elements(By.CSS_SELECTOR, "[data-testid=stProgress]") if "left" in e.text), None
        ),
        60,
        "a progress bar with the time left",
    )
    TIMINGS["explain_press_to_progress_bar_600_words_s"] = round(time.perf_counter() - t1 - 0.3, 2)
    TIMINGS["progress_bar_text"] = bar.text
    browser.save_screenshot(str(ARTIFACTS / "dashboard-issue22-progress.png"))
    assert "model evaluations" in bar.text
    _settle(browser, timeout=400, what="the 600-word review")
    (ARTIFACTS / "dashboard-issue22-timings.json").write_text(json.dumps(TIMINGS, indent=1))
