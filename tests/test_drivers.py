"""Corpus drivers: a planted phrase found first with an interval that covers its known effect, phrases kept
whole, stopwords never ranked, the JSON shape, cached re-runs, and bad input as one line with exit 2."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from conftest import NEGATIVE_WORD, RATED_VOCABULARY
from fakes import run_cli

from explain.corpus.drivers import compute_drivers, corpus_drivers, review_phrases, support_needed
from explain.data import Review
from explain.errors import UserError
from explain.stopwords import STOPWORDS
from explain.store import ExplanationStore


def planted_corpus(n: int = 60, seed: int = 0) -> list[Review]:
    """Word salads from the known-answer model's vocabulary, every one with "the"; every third one carries
    the planted word. Given stars: 1 with the word, 5 without (a few swapped, to be surprising)."""
    rng = random.Random(seed)
    vocab = [w for w in RATED_VOCABULARY.split() if w != "the"]
    reviews = []
    for i in range(n):
        words = [rng.choice(vocab) for _ in range(rng.randint(5, 10))]
        words.insert(rng.randint(0, len(words)), "the")
        planted = i % 3 == 0
        if planted:
            words.insert(rng.randint(0, len(words)), NEGATIVE_WORD)
        stars = 1 if planted else 5
        if i in (4, 5):
            stars = 1  # no planted word, but given 1 star: surprising
        reviews.append(Review(" ".join(words), stars))
    return reviews


@pytest.fixture(scope="module")
def planted(rated_classifier):
    reviews = planted_corpus()
    store = ExplanationStore(":memory:")
    run = corpus_drivers(rated_classifier, reviews, store, method="occlusion", progress=None)
    return reviews, store, run


def test_planted_word_ranks_first_and_its_interval_covers_the_known_effect(planted, rated_classifier):
    reviews, _, run = planted
    d = run.drivers
    first = d.lowering[0]
    assert first.phrase == NEGATIVE_WORD
    with_word = [r.text for r in reviews if NEGATIVE_WORD in r.text.split()]
    assert first.reviews == len(with_word) == 20
    # the known answer: the model's own rating with and without the word, review by review
    without = [" ".join(w for w in t.split() if w != NEGATIVE_WORD) for t in with_word]
    planted_effect = float(
        np.mean(rated_classifier.expected_rating(with_word) - rated_classifier.expected_rating(without))
    )
    assert planted_effect < -2.0  # the model was trained so that the word takes 5 stars to 1
    low, high = first.ci
    assert high < 0, first.ci  # the interval excludes 0
    assert low <= planted_effect <= high, (planted_effect, first.ci)
    assert abs(first.effect - planted_effect) < 1e-6  # occlusion removes the word: the same number, averaged
    assert all(NEGATIVE_WORD in e.text.split() for e in first.examples) and len(first.examples) == 3
    assert first.examples[0].effect <= first.examples[-1].effect  # most lowering example first


def test_stopwords_punctuation_and_rare_phrases_never_rank(planted):
    reviews, _, run = planted
    d = run.drivers
    assert sum("the" in r.text.split() for r in reviews) == len(reviews)  # the most frequent word of all
    for group in (d.overall, *d.by_predicted, *d.by_given):
        top = [x.phrase for x in (*group.lowering[:20], *group.raising[:20])]
        assert not any(w in STOPWORDS for p in top for w in p.split()), top
        assert all(x.reviews >= group.min_support for x in (*group.lowering, *group.raising))
    assert d.min_support == support_needed(len(reviews)) == 5
    assert "at least max(5, 0.5% of the reviews)" in d.support_rule


def test_levels_given_vs_predicted_and_surprising_reviews(planted, rated_classifier):
    reviews, _, run = planted
    d = run.drivers
    probs = rated_classifier.predict_proba([r.text for r in reviews])
    predicted = probs.argmax(axis=1)
    assert [g.name for g in d.by_predicted] == [
        f"predicted {rated_classifier.labels[i]}" for i in sorted(set(predicted.tolist()))
    ]
    assert sum(g.n_reviews for g in d.by_predicted) == len(reviews)
    gvp = d.given_vs_predicted
    assert gvp.counts[0][0] + gvp.counts[0][4] == sum(r.stars == 1 for r in reviews)
    assert sum(map(sum, gvp.counts)) == len(reviews)
    expected = probs @ np.asarray(rated_classifier.label_values)
    surprise = np.abs(np.array([r.stars for r in reviews]) - expected)
    top = sorted(range(len(reviews)), key=lambda i: -surprise[i])[: len(d.surprising)]
    assert [s.index for s in d.surprising] == top
    assert {4, 5} <= {s.index for s in d.surprising[:2]}  # given 1 star without the planted word
    assert d.surprising[0].surprise == pytest.approx(surprise[top[0]])


def test_json_shape(planted):
    _, _, run = planted
    data = json.loads(json.dumps(run.drivers.to_dict()))
    assert set(data) >= {"lowering", "raising", "settings"}
    for item in data["lowering"] + data["raising"]:
        assert set(item) == {"phrase", "effect", "reviews", "ci", "examples"}
        assert len(item["ci"]) == 2 and item["ci"][0] <= item["effect"] <= item["ci"][1]
        assert all(set(e) == {"index", "text", "effect"} for e in item["examples"])
    settings = data["settings"]
    assert settings["method"] == "occlusion" and settings["question"] == "what moved the rating"
    assert settings["min_support"] == 5 and settings["n_reviews"] == 60
    assert all(x["effect"] < 0 for x in data["lowering"]) and all(x["effect"] > 0 for x in data["raising"])


def test_a_rerun_recomputes_nothing(planted, rated_classifier):
    reviews, store, first = planted
    assert first.computed == len({r.text for r in reviews})
    before = rated_classifier.texts_evaluated
    again = corpus_drivers(rated_classifier, reviews, store, method="occlusion")
    assert again.computed == 0 and again.cached == first.computed
    assert rated_classifier.texts_evaluated == before
    assert again.drivers.to_dict() == first.drivers.to_dict()  # same seed, same intervals


@pytest.mark.parametrize(
    "words, kept, never",
    [
        ("it was not worth the money", {"not worth", "money"}, {"the", "was", "worth the"}),
        ("support never answered my emails", {"never answered", "answered"}, {"support never", "my"}),
        ("I didn ' t like it", {"didn't like", "didn't"}, {"didn", "t", "i"}),
        ("not a good buy", {"not a good", "good buy"}, {"a", "not a"}),
        ("great , terrible", {"great", "terrible"}, {"great terrible", ","}),
    ],
)
def test_phrases_keep_negations_whole(words, kept, never):
    words = words.split(" ")
    phrases = review_phrases(words, np.linspace(-1, 1, len(words)))
    assert kept <= set(phrases), phrases
    assert not (never & set(phrases)), phrases
    scores = dict(zip(words, np.linspace(-1, 1, len(words)), strict=True))
    if "not worth" in phrases:
        assert phrases["not worth"] == pytest.approx(scores["not"] + scores["worth"])


def fake(words, scores):
    """A stand-in explanation of the rating with chosen word scores."""
    from types import SimpleNamespace

    return SimpleNamespace(
        explains="rating",
        method="fake",
        question="what moved the rating",
        unit="stars",
        scored_whole_sentences=False,
        words=words,
        word_scores=np.asarray(scores, dtype=float),
        probabilities=np.array([0.1, 0.1, 0.2, 0.3, 0.3]),
        expected_rating=3.6,
    )


STAR_LABELS = ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]


def test_effect_is_the_mean_over_reviews_it_occurs_in():
    """Stand-in explanations with chosen scores: 'bad' scores -1 in each of 6 reviews (twice in one: -2)."""
    reviews, exps = [], []
    for i in range(6):
        words = ["bad", "food", "bad"] if i == 0 else ["bad", "food"]
        reviews.append(Review(" ".join(words)))
        exps.append(fake(words, [-1.0, 0.5, -1.0] if i == 0 else [-1.0, 0.5]))
    d = compute_drivers(reviews, exps, STAR_LABELS, resamples=200)
    bad = next(x for x in d.lowering if x.phrase == "bad")
    assert bad.effect == pytest.approx((-2 - 5) / 6) and bad.reviews == 6
    assert d.raising[0].phrase == "food" and d.raising[0].effect == pytest.approx(0.5)
    assert d.raising[0].ci == pytest.approx((0.5, 0.5))
    # "bad food": -1 + 0.5 in each of the 6 reviews; "food bad" occurs in one review only (below support)
    assert [(x.phrase, round(x.effect, 6)) for x in d.lowering] == [("bad", round(-7 / 6, 6)), ("bad food", -0.5)]
    assert d.given_vs_predicted is None and d.by_given == ()


def test_class_agnostic_method_is_refused(rated_classifier):
    with pytest.raises(UserError, match="class-agnostic"):
        corpus_drivers(rated_classifier, planted_corpus(6), ExplanationStore(":memory:"), method="attention")


@pytest.mark.parametrize(
    "content, args, message",
    [
        ("body,stars\ngreat,5\n", ["--text-col", "text"], "no column 'text'"),
        ("", ["--text-col", "text"], "no column"),
        ("text\n", ["--text-col", "text"], "no non-empty text"),
        ("text\ngreat\n", ["--text-col", "text", "--method", "attention"], "class-agnostic"),
        ("text\ngreat\n", ["--text-col", "text", "--format", "pdf"], "unknown format"),
    ],
)
def test_bad_input_is_one_line_exit_2(monkeypatch, capsys, tiny_bert_dir, tmp_path, content, args, message):
    data = tmp_path / "reviews.csv"
    data.write_text(content, encoding="utf-8")
    code, _, err = run_cli(
        monkeypatch, capsys, "drivers", data, *args, "--model", tiny_bert_dir, "--cache", tmp_path / "c.sqlite"
    )
    assert code == 2, err
    assert err.lower().startswith("error:") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def test_cli_writes_every_format_atomically(monkeypatch, capsys, tiny_bert_dir, tmp_path):
    data = tmp_path / "reviews.csv"
    rows = [f"great sound number {i},5" if i % 2 else f"terrible price number {i},1" for i in range(12)]
    data.write_text("text,stars\n" + "\n".join(rows) + "\n", encoding="utf-8")
    common = ["--text-col", "text", "--stars-col", "stars", "--model", tiny_bert_dir, "--cache", tmp_path / "c.db"]
    common += ["--method", "occlusion"]
    for suffix in ("json", "csv", "html", "txt"):
        target = tmp_path / f"drivers.{suffix}"
        code, _, err = run_cli(monkeypatch, capsys, "drivers", data, *common, "-o", target)
        assert code == 0, err
        assert target.exists() and not list(tmp_path.glob(".drivers.*"))  # no temporary file left behind
        assert target.stat().st_mode & 0o044  # readable by others as open() would make it, not mkstemp's 0600
        if suffix == "txt":
            assert "computed" in err
    assert "12 explanation(s) computed" not in err and "0 explanation(s) computed, 12 cached" in err
    data_json = json.loads((tmp_path / "drivers.json").read_text())
    assert data_json["settings"]["n_reviews"] == 12 and data_json["settings"]["method"] == "occlusion"
    page = (tmp_path / "drivers.html").read_text()
    assert (
        "<svg" in page
        and "rx-drivers-plot" in page
        and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    )
    assert (tmp_path / "drivers.csv").read_text().splitlines()[0].startswith("group,direction,rank,phrase,effect")
    code, out, _ = run_cli(monkeypatch, capsys, "drivers", data, *common, "--format", "text")
    assert code == 0 and "Drivers of the expected rating over 12 reviews" in out and "Support:" in out


def test_report_has_the_drivers_section(planted, rated_classifier):
    from explain.report import build_report, report_dict, report_html

    reviews, store, run = planted
    report = build_report(rated_classifier, reviews, ["occlusion"], store, attention_views=0)
    assert report.run.computed == 0  # the drivers' explanations were already in the store
    assert report.drivers.to_dict() == run.drivers.to_dict()
    page = report_html(report)
    assert 'class="rx-drivers"' in page and 'class="rx-drivers-plot"' in page
    first = run.drivers.lowering[0].examples[0].index
    assert f'href="#review-{first}"' in page and f'id="review-{first}"' in page  # an example opens its review
    assert report_dict(report)["drivers"]["lowering"][0]["phrase"] == NEGATIVE_WORD


def test_default_method_is_amortized_when_the_model_has_a_head(
    planted, rated_classifier, tiny_bert_dir, monkeypatch, tmp_path
):
    from explain.amortize import has_head
    from explain.classifier import Classifier
    from explain.corpus.drivers import default_method
    from explain.word_head import HEADS_ENV

    reviews, store, _ = planted
    assert has_head(rated_classifier)  # conftest fits one (occlusion as the teacher)
    run = corpus_drivers(rated_classifier, reviews, store)
    assert run.drivers.method == "amortized" and run.drivers.lowering[0].phrase == NEGATIVE_WORD
    assert (run.computed, run.cached) == (len(reviews), 0)
    from explain.store import make_key

    stored = store.get(make_key(rated_classifier, reviews[0].text, "amortized"))
    assert stored.diagnostics["forward_passes"] < 1  # one forward pass shared by a batch of reviews
    assert run.drivers.lowering[0].ci[1] < 0
    monkeypatch.setenv(HEADS_ENV, str(tmp_path))  # no head here
    assert default_method(Classifier.from_pretrained(tiny_bert_dir)) == "occlusion"


def test_a_stopped_run_resumes_where_it_stopped(rated_classifier):
    from explain.corpus import run_corpus

    reviews = planted_corpus(30, seed=5)
    with ExplanationStore(":memory:") as store:
        run_corpus(rated_classifier, [r.text for r in reviews[:12]], ["occlusion"], store)  # a run stopped at 12
        resumed = corpus_drivers(rated_classifier, reviews, store, method="occlusion")
        assert (resumed.cached, resumed.computed) == (12, len({r.text for r in reviews}) - 12)
        assert resumed.drivers.n_reviews == 30


def test_review_text_is_escaped_in_html_and_neutralized_in_csv():
    from explain.drivers_report import drivers_csv
    from explain.render.drivers_view import drivers_html

    texts = [f"<script>alert({i})</script> bad food" for i in range(5)] + ["=cmd() bad food"]
    reviews = [Review(t, 1) for t in texts]
    exps = []
    for t in texts:
        words = t.replace("<", " < ").replace(">", " > ").replace("(", " ( ").replace(")", " ) ").split()
        bad = -2.0 if t.startswith("=") else -1.0  # the formula-like review is bad's first example
        exps.append(fake(words, [bad if w == "bad" else 0.1 for w in words]))
    d = compute_drivers(reviews, exps, STAR_LABELS, resamples=100)
    page = drivers_html(d)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "bad" in [x.phrase for x in d.lowering]
    assert next(x for x in d.lowering if x.phrase == "bad").examples[0].text.startswith("=")
    rows = drivers_csv(d).splitlines()
    assert any("'=cmd() bad food" in row for row in rows)
    assert not any(cell.startswith("=") for row in rows for cell in row.split(","))


def test_amortized_without_a_head_is_one_line_before_any_work(monkeypatch, capsys, tiny_bert_dir, tmp_path):
    from explain.word_head import HEADS_ENV

    monkeypatch.setenv(HEADS_ENV, str(tmp_path / "no-heads"))
    data = tmp_path / "reviews.csv"
    data.write_text("text\ngreat\nawful\n", encoding="utf-8")
    code, _, err = run_cli(
        monkeypatch, capsys, "drivers", data, "--text-col", "text", "--method", "amortized",
        "--model", tiny_bert_dir, "--cache", tmp_path / "c.sqlite",
    )  # fmt: skip
    assert code == 2 and err.lower().startswith("error:") and "no amortized head" in err and "amortize" in err
    assert len(err.strip().splitlines()) == 1 and "0/2" not in err  # refused before the progress bar started


def test_batched_amortized_equals_one_review_at_a_time(rated_classifier):
    from explain.methods import explain
    from explain.methods.amortized_batch import amortized_many

    texts = planted_corpus(9, seed=7)
    texts = [r.text for r in texts] + ["terrible " + " ".join(["battery"] * 200)]  # the last: several windows
    batched = amortized_many(rated_classifier, texts, batch_size=4)
    assert batched[-1].diagnostics["windows"] > 1
    for text, got in zip(texts, batched, strict=True):
        one = explain(rated_classifier, text, method="amortized")
        assert got.words == one.words and got.tokens == one.tokens
        np.testing.assert_allclose(got.token_scores, one.token_scores, atol=1e-5)
        np.testing.assert_allclose(got.word_scores, one.word_scores, atol=1e-5)
        np.testing.assert_allclose(got.probabilities, one.probabilities, atol=1e-6)
        assert got.params == one.params and got.explains == one.explains == "rating" and got.unit == one.unit
        assert set(got.diagnostics) == set(one.diagnostics)
