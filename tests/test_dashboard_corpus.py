"""The dashboard's Corpus page, headless with Streamlit's AppTest on a tiny model: drivers from an uploaded CSV
and from the last batch, and a driver's example as a link that opens its review on the Attributions page."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
TIMEOUT = 180
ROWS = [("terrible battery, not worth it", 1), ("great sound and a lovely screen", 5)] * 6


@pytest.fixture
def app(tiny_bert_dir, monkeypatch, tmp_path) -> AppTest:
    monkeypatch.setenv("REVIEW_EXPLAINER_DEFAULT_MODEL", str(tiny_bert_dir))
    monkeypatch.setenv("REVIEW_EXPLAINER_CACHE", str(tmp_path))
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS", raising=False)
    monkeypatch.delenv("REVIEW_EXPLAINER_MODELS_FILE", raising=False)
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def test_corpus_page_from_an_upload(app, tiny_bert_dir):
    from explain.classifier import Classifier
    from explain.corpus.drivers import corpus_drivers, default_method
    from explain.data import Review
    from explain.store import ExplanationStore

    data = ("text,stars\n" + "".join(f'"{t}",{s}\n' for t, s in ROWS)).encode()
    app.switch_page("panels/corpus.py").run()
    assert not app.exception, app.exception
    app.file_uploader(key="corpus_file").set_value(("reviews.csv", data, "text/csv")).run()
    assert app.selectbox(key="corpus_text").value == "text" and app.selectbox(key="corpus_stars").value == "stars"
    clf = Classifier.from_pretrained(tiny_bert_dir)
    assert app.selectbox(key="corpus_method").value == default_method(clf)  # amortized when it has a head
    assert "attention" not in app.selectbox(key="corpus_method").options  # class-agnostic: no drivers
    app.button(key="corpus_run").click().run()
    assert not app.exception, app.exception
    section = next(h.proto.body for h in app.main.get("html") if 'class="rx-drivers"' in h.proto.body)
    assert "rx-given-vs-predicted" in section
    frames = [str(f.proto) for f in app.main.get("iframe")]
    assert any('class="rx-drivers-plot"' in f or "rx-drivers-plot" in f for f in frames), frames[:1]
    # the page draws what the library computes
    chosen = app.selectbox(key="corpus_method").value
    expected = corpus_drivers(clf, [Review(t, s) for t, s in ROWS], ExplanationStore(":memory:"), method=chosen)
    assert [f'data-phrase="{d.phrase}"' in section for d in expected.drivers.lowering[:5]] == [True] * min(
        5, len(expected.drivers.lowering)
    )
    links = app.main.get("page_link")
    assert links, "an example link"
    first = (expected.drivers.lowering or expected.drivers.raising)[0].examples[0]
    assert "attributions" in links[0].proto.page
    assert f"Row {first.index + 1} " in links[0].proto.label


def test_corpus_page_uses_the_last_batch(app):
    data = ("id,review,stars\n" + "".join(f'{i},"{t}",{s}\n' for i, (t, s) in enumerate(ROWS))).encode()
    app.switch_page("panels/batch.py").run()
    app.file_uploader(key="batch_file").set_value(("reviews.csv", data, "text/csv")).run()
    app.button(key="batch_run").click().run()
    assert not app.exception, app.exception
    app.switch_page("panels/corpus.py").run()
    app.radio(key="corpus_source").set_value("The last batch").run()
    app.button(key="corpus_run").click().run()
    assert not app.exception, app.exception
    assert any('class="rx-drivers"' in h.proto.body and "12 reviews" in h.proto.body for h in app.main.get("html"))


def test_corpus_upload_over_the_size_limit_is_one_line(app):
    big = b"text\n" + b"a long review line\n" * 300_000  # > 5 MB
    app.switch_page("panels/corpus.py").run()
    app.file_uploader(key="corpus_file").set_value(("big.csv", big, "text/csv")).run()
    assert not app.exception and "the limit is 5 MB" in app.error[0].value
    assert not [b for b in app.button if b.key == "corpus_run"]  # nothing to run
