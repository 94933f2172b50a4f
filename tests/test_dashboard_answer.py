"""The dashboard's answer line and what it refuses (issue 22), run headless with Streamlit's AppTest on a tiny
model: the line comes from the methods the page shows, a preview is labelled as one, and an over-limit paste
gets a one-line message instead of the previous review's explanation."""

from __future__ import annotations

import json
import re

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest
from test_dashboard import APP, REVIEW, TIMEOUT, all_html, submit

from explain.answer import answer
from explain.classifier import Classifier
from explain.limits import MAX_TEXT_CHARS
from explain.methods import explain


@pytest.fixture
def app(tiny_bert_dir, monkeypatch) -> AppTest:
    """The dashboard on the tiny BERT, one review explained."""
    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS", raising=False)
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS_FILE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    submit(at, REVIEW)
    assert not at.exception, at.exception
    return at


def answer_block(at) -> str:
    (line,) = [h for h in all_html(at) if 'class="rx-answer"' in h]
    return line


def test_an_over_limit_paste_says_so_and_explains_nothing(app):
    before = answer_block(app)
    limit = MAX_TEXT_CHARS.value()
    submit(app, "word " * (limit // 5 + 1))
    assert not app.exception
    (error,) = app.error
    assert error.value == (
        f"Not explained: the review has {limit + 5:,} characters; the limit is {limit:,} "
        f"(set {MAX_TEXT_CHARS.env} to raise it, or split the text)."
    )
    assert "\n" not in error.value  # one line
    assert not [h for h in all_html(app) if 'class="rx-answer"' in h or "rx-explanation" in h]  # not the old one
    assert before  # the previous review had been explained
    submit(app, "Short again, and fine.")
    assert not app.error and answer_block(app)


def test_the_answer_uses_the_methods_the_page_shows(app, tiny_bert_dir):
    app.session_state["attr_methods"] = ["occlusion", "grad_x_input"]
    app.switch_page("panels/attributions.py").run()
    assert not app.exception, app.exception
    line = answer_block(app)
    assert 'data-methods="occlusion,grad_x_input"' in line and 'data-preview="false"' in line
    clf = Classifier.from_pretrained(tiny_bert_dir)
    text = app.sidebar.text_area(key="review").value
    exps = [explain(clf, text, method=m) for m in ("occlusion", "grad_x_input")]
    expected = answer(exps, clf.rating_unit, classifier=clf)
    assert json.loads(re.search(r'data-named="([^"]*)"', line).group(1).replace("&#34;", '"')) == [
        [w, round(e, 6)] for w, e in expected.named
    ]
    assert expected.words.replace('"', "&#34;") in line
    app.session_state["attr_methods"] = ["attention"]  # no signed method: occlusion's line, not a preview
    app.run()
    line = answer_block(app)
    assert 'data-methods="occlusion"' in line and 'data-preview="false"' in line
