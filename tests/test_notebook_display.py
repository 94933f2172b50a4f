"""Rich display in IPython and DataFrames: every result type draws itself as the reports' HTML fragments,
self-contained and escaped, with a short plain-text form; results turn into pandas tables.

The same HTML rendered in headless Chromium (no console error, no request, coloured words): test_notebooks.py.
"""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from explain import consensus, explain
from explain.answer import answer
from explain.corpus.drivers import compute_drivers
from explain.corpus.summary import summarize
from explain.data import Review
from explain.errors import MissingDependencyError
from explain.notebook import HTML, leaderboard, register_display, to_html

REVIEW = "The battery died after two days. What a waste of money! <script>alert('x')</script> Great screen."
SENTENCES = [
    "The battery died after two days and the charger never worked.",
    "Support did not answer my emails for a whole week.",
    "The screen is bright and the speakers are fine for the price.",
    "I would not buy this again, what a waste of money.",
]
LONG_REVIEW = " ".join(" ".join(SENTENCES * 15).split()[:500])  # 500 words
MAX_BYTES = 1_000_000  # issue 26: under 1 MB for a 500-word review
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//""", re.I)


def _results(classifier, text: str, **params):
    occlusion = explain(classifier, text, method="occlusion")
    shap = explain(classifier, text, method="shap", max_evals=params.get("max_evals", 32))
    evaluation = _evaluation(classifier)
    reviews = [Review(text, 1), Review(SENTENCES[2], 5)]
    corpus = summarize(reviews, [{"occlusion": occlusion}, {}], classifier.labels, min_reviews=1)
    other = explain(classifier, SENTENCES[2], method="occlusion")
    drivers = compute_drivers(reviews, [occlusion, other], classifier.labels, min_reviews=1, resamples=50)
    return {
        "Drivers": drivers,
        "Explanation": occlusion,
        "Answer": answer([occlusion, shap], "stars"),
        "Consensus": consensus([occlusion, shap]),
        "Trace": classifier.trace(text),
        "CorpusSummary": corpus,
        "Evaluation": evaluation,
    }


def _evaluation(classifier):
    from explain.evaluation import EvalItem, Evaluation, ResultLog, Settings, run_evaluation, summarize

    settings = Settings(steps=5, random_rankings=1)
    items = [EvalItem("t0", SENTENCES[0]), EvalItem("t1", SENTENCES[2])]
    records = run_evaluation(classifier, items, ["occlusion"], settings, ResultLog(None), progress=False)
    summary = summarize(records, ["occlusion"], settings, model=classifier.name, data="test", n_items=2)
    return Evaluation(summary=summary, written=(), records_path=None)


@pytest.fixture(scope="module")
def results(rated_classifier):
    from conftest import NEGATIVE_WORD

    return _results(rated_classifier, REVIEW.replace("died", NEGATIVE_WORD))


@pytest.fixture
def formatter():
    from IPython.core.formatters import DisplayFormatter

    f = DisplayFormatter()
    assert register_display(f)
    return f


def test_every_result_type_displays_as_html_in_ipython(results, formatter):
    for name, obj in results.items():
        data, _ = formatter.format(obj)
        html = data.get("text/html")
        assert html, f"{name} has no HTML display"
        assert html == to_html(obj)
        assert "<script>alert" not in html, f"{name}: review text reached the HTML unescaped"
        assert not EXTERNAL.search(html), f"{name} fetches something: {EXTERNAL.search(html).group()}"
        assert len(data["text/plain"]) < 400, f"{name}'s plain text is long: {data['text/plain'][:80]}..."


def test_the_explanation_shows_coloured_words_question_unit_and_scale(results, rated_classifier):
    from conftest import NEGATIVE_WORD

    exp = results["Explanation"]
    html = to_html(exp)
    spans = re.findall(r'data-score="([^"]+)" style="background:([^;]+);[^>]*>([^<]+)</span>', html)
    by_word = {word: (float(score), bg) for score, bg, word in spans}
    score, background = by_word[NEGATIVE_WORD]
    assert score == pytest.approx(exp.word_scores[exp.words.index(NEGATIVE_WORD)], rel=1e-5)
    red = re.fullmatch(r"rgb\((\d+),(\d+),(\d+)\)", background)
    assert score < 0 and red and int(red.group(1)) > int(red.group(3))  # lowers the rating: red
    assert exp.question in html and "stars" in html and "full colour at" in html
    assert "top words" in html  # the ranked chart the report draws beside the words


def test_cards_carry_the_answer_consensus_and_three_stages(results):
    from conftest import NEGATIVE_WORD

    assert results["Answer"].words.split(";")[0].replace('"', "").split(" (")[0] in to_html(results["Answer"])
    consensus_html = to_html(results["Consensus"])
    assert NEGATIVE_WORD in consensus_html and "methods agreeing" in consensus_html
    trace = results["Trace"]
    trace_html = to_html(trace)
    for stage in ("1 &middot; Preprocessing", "2 &middot; Model inference", "3 &middot; Post-processing"):
        assert stage in trace_html
    assert f"{trace.probabilities[int(np.argmax(trace.probabilities))]:.3f}" in trace_html
    assert "Words that push reviews toward each label" in to_html(results["CorpusSummary"])
    drivers = results["Drivers"]
    assert drivers.lowering and drivers.lowering[0].phrase in to_html(drivers)
    board = to_html(results["Evaluation"])
    assert board.startswith("<iframe") and "occlusion" in board and "Leaderboard" in board
    assert to_html(leaderboard(results["Evaluation"].summary)) == board


def test_html_stays_under_a_megabyte_for_a_500_word_review(tiny_bert):
    assert len(LONG_REVIEW.split()) == 500
    for name, obj in _results(tiny_bert, LONG_REVIEW, max_evals=16).items():
        size = len(to_html(obj).encode("utf-8"))
        assert size < MAX_BYTES, f"{name}: {size:,} bytes for a 500-word review"
        assert len(repr(obj)) < 400, f"{name}'s repr is {len(repr(obj)):,} characters for a 500-word review"


def test_the_report_draws_the_same_fragments(results, rated_classifier, tmp_path):
    from explain.report import build_report, corpus_summary_html, report_html
    from explain.store import ExplanationStore

    with ExplanationStore(tmp_path / "r.sqlite") as store:
        report = build_report(rated_classifier, [Review(REVIEW, 1), Review(SENTENCES[2], 5)], ["occlusion"], store)
    page = report_html(report)
    assert corpus_summary_html(report.summary, min_reviews=2, link=True) in page
    assert to_html(report.entries[0].trace) in page
    assert to_html(report.entries[0].explanations["occlusion"]).removeprefix('<div class="rx-explanation-card">')[
        :-6
    ] in page.replace("\n", "\n")


def test_outside_ipython_nothing_is_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "IPython", None)
    assert register_display() is False
    assert register_display(object()) is False


def test_anything_else_has_no_display():
    with pytest.raises(TypeError, match="no HTML display for int"):
        to_html(3)


def test_html_saves_as_a_page(tmp_path, results):
    shown = HTML(to_html(results["Trace"]), "trace")
    assert repr(shown).startswith("HTML('trace', ") and shown._repr_html_() == shown.html
    path = shown.save(tmp_path / "trace.html")
    assert path.read_text(encoding="utf-8").startswith("<!doctype html>") and shown.html in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["trace.html"]  # no temporary file left


def test_attention_view_is_a_displayable_offline_frame(tiny_bert):
    from explain.notebook import attention_view
    from explain.render.attention_view import assets_present

    if not assets_present():
        pytest.skip("the attention views' libraries are not in the cache (setup.sh fetches them)")
    view = attention_view(tiny_bert, "Battery died in a week.")
    assert view._repr_html_().startswith('<iframe class="rx-attention"') and not EXTERNAL.search(view.html)
    assert "model" in attention_view(tiny_bert, "Battery died.", view="model").title
    with pytest.raises(Exception, match="'head' or 'model'"):
        attention_view(tiny_bert, "Battery died.", view="tail")


# ------------------------------------------------------------------ DataFrames
def test_explanation_to_frame_rows_are_its_words_with_their_sentences(rated_classifier):
    exp = explain(rated_classifier, "Nice screen. The battery was terrible after a week.", method="occlusion")
    frame = exp.to_frame()
    assert list(frame["word"]) == list(exp.words)
    np.testing.assert_allclose(frame["score"], exp.word_scores)
    assert set(frame["unit"]) == {"stars"}
    assert list(frame["sentence"]) == [0] * 3 + [1] * 8  # "Nice screen." then the rest, "." in its sentence
    assert frame.loc[frame.word == "terrible", "sentence_text"].item() == "The battery was terrible after a week."
    tokens = exp.to_frame("token")
    assert len(tokens) == len(exp.tokens) and tokens["special"].sum() == 2
    assert tokens.loc[tokens.special, "sentence"].tolist() == [-1, -1]
    np.testing.assert_allclose(tokens["score"], exp.token_scores)


def test_explain_frame_has_a_row_per_text_and_each_methods_top_words(rated_classifier):
    from conftest import NEGATIVE_WORD

    from explain.frames import explain_frame

    texts = [f"the screen was {NEGATIVE_WORD} and slow", "the screen was bright and fast"]
    seen = []
    frame = explain_frame(
        rated_classifier,
        texts,
        ["occlusion", "shap"],
        top=2,
        params={"shap": {"max_evals": 32}},
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen == [(1, 2), (2, 2)]
    assert list(frame.columns) == ["text", "predicted", "probability", "expected_rating", "top_occlusion", "top_shap"]
    np.testing.assert_allclose(frame["expected_rating"], rated_classifier.expected_rating(texts))
    first = explain(rated_classifier, texts[0], method="occlusion")
    word, score = next((w, s) for w, s in first.top_words(10) if w == NEGATIVE_WORD)
    assert frame.loc[0, "top_occlusion"].startswith(f"{word} ({score:+.2f})")
    assert frame.loc[0, "predicted"] == "1 star" and frame.loc[1, "predicted"] == "5 stars"


def test_summary_and_leaderboard_frames(results):
    from explain.frames import drivers_frame, leaderboard_frame, summary_frame

    summary = results["CorpusSummary"]
    words = summary_frame(summary)
    expected = sum(len(ws) for per in summary.top_words.values() for ws in per.values())
    assert len(words) == expected > 0 and list(words.columns[:4]) == ["method", "label", "rank", "word"]
    first = next(iter(next(iter(summary.top_words.values())).values()))[0]
    assert words.iloc[0]["word"] == first.word and words.iloc[0]["total"] == pytest.approx(first.total)
    drivers = results["Drivers"]
    table = drivers_frame(drivers)
    lowering = table[(table.group == drivers.overall.name) & (table.direction == "lowers")]
    assert list(lowering.phrase) == [d.phrase for d in drivers.lowering]
    np.testing.assert_allclose(lowering.effect, [d.effect for d in drivers.lowering])
    assert (table.low <= table.effect).all() and (table.effect <= table.high).all()
    board = leaderboard_frame(results["Evaluation"].summary)
    assert list(board.index) == ["occlusion", "random"]
    assert board.loc["occlusion", "tau_loo"] == pytest.approx(1.0)
    assert board.loc["occlusion", "tau_loo_low"] <= board.loc["occlusion", "tau_loo"]


def test_without_pandas_a_one_line_error(monkeypatch, rated_classifier):
    exp = explain(rated_classifier, "Battery died.", method="occlusion")
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependencyError, match="^DataFrames need pandas: pip install pandas$"):
        exp.to_frame()
