import csv
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from fakes import run_cli

from explain.data import Review
from explain.render.attention_view import assets_present
from explain.report import build_report, neutralize_cell, render, report_csv, report_html, report_json
from explain.store import ExplanationStore

EVIL = "<script>alert('pwned')</script> awful & <b>loud</b>"
REVIEWS = [
    Review(EVIL, 1),
    Review("Great sound, terrible price!", 3),
    Review("I really loved that movie", 5),
    Review('=HYPERLINK("http://evil.example","click") it broke', 2),
]


class Resources(HTMLParser):
    """Every script/style/link/img/iframe tag with its attributes, descending into iframe srcdoc documents."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.script_text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attrs))
        self._in_script = tag == "script"
        if tag == "iframe" and "srcdoc" in attrs:
            inner = Resources()
            inner.feed(attrs["srcdoc"])
            self.tags += inner.tags
            self.script_text += inner.script_text

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_text.append(data)


@pytest.fixture(scope="module")
def report(tiny_bert, tmp_path_factory):
    with ExplanationStore(tmp_path_factory.mktemp("cache") / "c.sqlite") as store:
        yield build_report(tiny_bert, REVIEWS, ["occlusion"], store, attention_views=1)


def test_html_needs_no_network(report):
    page = report_html(report)
    parser = Resources()
    parser.feed(page)
    urls = [
        (tag, key, value)
        for tag, attrs in parser.tags
        for key, value in attrs.items()
        if tag in {"script", "link", "style", "img", "iframe", "source", "object", "embed"}
        and key in {"src", "href", "data"}
    ]
    assert not [u for u in urls if u[2].strip().lower().startswith(("http:", "https:", "//"))], urls
    assert not [a for t, a in parser.tags if t == "link" and a.get("rel") == "stylesheet"]
    assert "@import" not in page
    if assets_present():  # the head view is inlined (d3, jQuery, require.js) inside its iframe
        assert page.count('<iframe class="rx-attention"') == 1
        scripts = [a for t, a in parser.tags if t == "script"]
        assert scripts and all("src" not in a for a in scripts)
        assert "cdnjs" not in "".join(parser.script_text)  # BertViz's require paths pointed there
        assert any("requirejs" in text for text in parser.script_text)
    else:
        assert "no attention view" in page


def test_script_review_is_escaped(report):
    page = report_html(report)
    assert "<script>alert('pwned')" not in page
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt; awful &amp; &lt;b&gt;loud&lt;/b&gt;" in page
    outer = Resources()
    outer.feed(page.split('<iframe class="rx-attention"')[0])  # the page outside the head view runs nothing
    assert not [t for t, _ in outer.tags if t == "script"]


def test_html_has_every_section(report):
    page = report_html(report)
    for part in (
        "Corpus",
        "Confusion matrix",
        "Words that push reviews toward each label",
        "Most confidently wrong",
        "Three stages",
        "1 &middot; Preprocessing",
        "rx-prediction",
        "rx-explanation",
        "rx-top-words",
    ):
        assert part in page, part
    assert page.count('<section class="card" id="review-') == len(REVIEWS)
    assert sum(report.summary.predicted_counts) == len(REVIEWS)


def test_json_report(report):
    data = json.loads(report_json(report))
    assert [r["text"] for r in data["reviews"]] == [r.text for r in REVIEWS]
    first = data["reviews"][0]
    assert set(first["explanations"]) == {"occlusion"}
    assert np.allclose(first["probabilities"], first["explanations"]["occlusion"]["probabilities"], atol=1e-6)
    assert first["predicted"] == data["labels"][int(np.argmax(first["probabilities"]))]
    assert first["trace"]["tokens"][0] == "[CLS]"
    assert data["summary"]["confusion"] is not None and sum(map(sum, data["summary"]["confusion"])) == len(REVIEWS)


def test_neutralize_cell():
    for bad in ("=1+1", "+1", "-2+3", "@SUM(A1)", "\t=1"):
        assert neutralize_cell(bad) == "'" + bad
    assert neutralize_cell("\r=1") == "'=1"  # quoted, and the carriage return (a control) removed
    for fine in ("a=b", "1 star", "", " =1"):
        assert neutralize_cell(fine) == fine
    assert neutralize_cell(-0.5) == -0.5 and neutralize_cell(3) == 3


def test_csv_one_row_per_review_word_and_no_formulas(report):
    rows = list(csv.DictReader(io.StringIO(report_csv(report))))
    n_words = sum(len(e.explanations["occlusion"].words) for e in report.entries)
    assert len(rows) == n_words
    for row in rows:
        for value in row.values():
            if value.startswith(("=", "+", "-", "@", "\t", "\r")):
                float(value)  # only numbers (negative scores) may start like a formula
    formula = [r for r in rows if r["review"] == "3"]
    assert formula and all(r["text"].startswith("'=HYPERLINK") for r in formula)
    first = report.entries[1].explanations["occlusion"]
    got = [(r["word"], float(r["score"])) for r in rows if r["review"] == "1"]
    assert got == [(w, pytest.approx(s, abs=1e-7)) for w, s in zip(first.words, first.word_scores, strict=True)]


def test_cached_report_makes_no_model_calls(tiny_bert, tmp_path):
    with ExplanationStore(tmp_path / "c.sqlite") as store:
        first = build_report(tiny_bert, REVIEWS, ["occlusion"], store, attention_views=0)
        assert first.run.computed == len(REVIEWS)
        calls = tiny_bert.texts_evaluated
        again = build_report(tiny_bert, REVIEWS, ["occlusion"], store, attention_views=0)
        assert tiny_bert.texts_evaluated == calls
        assert (again.run.cached, again.run.computed) == (len(REVIEWS), 0)
        for old, new in zip(first.entries, again.entries, strict=True):
            assert np.array_equal(old.explanations["occlusion"].word_scores, new.explanations["occlusion"].word_scores)
            assert new.trace.probabilities == pytest.approx(old.trace.probabilities)
            assert new.trace.tokens == old.trace.tokens
        assert render(again, "csv") == report_csv(first)


def test_cli_batch_then_report(monkeypatch, capsys, tiny_bert_dir, tmp_path):
    data = tmp_path / "reviews.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review", "stars"])
        writer.writerows([(r.text, r.stars) for r in REVIEWS])
    cache = tmp_path / "c.sqlite"
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "batch",
        data,
        "--text-col",
        "review",
        "--methods",
        "occlusion",
        "--cache",
        cache,
        "--model",
        tiny_bert_dir,
    )
    assert code == 0, err
    assert "4 explanation(s) computed, 0 already cached, 0 failed" in out
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "report",
        "--file",
        data,
        "--text-col",
        "review",
        "--stars-col",
        "stars",
        "--methods",
        "occlusion",
        "-o",
        tmp_path / "r.csv",
        "--cache",
        cache,
        "--model",
        tiny_bert_dir,
    )
    assert code == 0, err
    assert "CSV report on 4 review(s)" in out and "0 explanation(s) computed, 4 cached" in out
    assert (tmp_path / "r.csv").read_text(encoding="utf-8").startswith("review,text,given_stars,")
    code, _, err = run_cli(
        monkeypatch, capsys, "report", "hello", "--format", "pdf", "--model", tiny_bert_dir, "--no-cache"
    )
    assert code == 2 and "unknown report format 'pdf'" in err
    code, _, err = run_cli(monkeypatch, capsys, "report", "hello", "--stars-col", "stars", "--model", tiny_bert_dir)
    assert code == 2 and "--stars-col needs --file" in err


def test_each_review_opens_with_its_answer_consensus_and_sentences(rated_classifier, tmp_path):
    from conftest import NEGATIVE_WORD

    text = f"The screen was nice. The battery was {NEGATIVE_WORD} after two days."
    with ExplanationStore(tmp_path / "r.sqlite") as store:
        page = report_html(build_report(rated_classifier, [Review(text)], ["occlusion", "ig"], store))
    rating = rated_classifier.expected_rating([text])[0]
    assert f"<b>{rating:.1f} stars expected (most likely " in page
    assert f"Methods together: &#34;{NEGATIVE_WORD}&#34; (-" in page  # quoted, with its effect in stars
    assert "lowered the rating" in page
    rows = re.findall(r'<table class="sentences"><tr><td>([^<]+)</td><td class="l">([^<]+)</td>', page)
    assert rows and all(sentence.endswith(f"{NEGATIVE_WORD} after two days.") for _, sentence in rows)
    assert all(score.startswith("-") and score.endswith(" stars") for score, _ in rows)
