import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from explain.corpus import load_results, run_corpus, summarize
from explain.data import Review
from explain.errors import UserError
from explain.explanation import Explanation
from explain.methods import explain
from explain.store import ExplanationStore
from explain.words import Alignment

TEXTS = [
    f"review number {i}: the {adj} battery lasted {i} days"
    for i, adj in enumerate(
        ["great", "awful", "fine", "poor", "superb", "weak", "solid", "cheap", "lovely", "broken"] * 2
    )
]


def test_run_skips_cached_and_dedups(tiny_bert, tmp_path):
    texts = ["Great sound, terrible price!", "I really loved that movie", "Great sound, terrible price!"]
    with ExplanationStore(tmp_path / "c.sqlite") as store:
        first = run_corpus(tiny_bert, texts, ["occlusion", "loo"], store, progress=False)
        assert (first.items, first.cached, first.computed, first.failed) == (2, 0, 2, [])
        calls = tiny_bert.texts_evaluated
        again = run_corpus(tiny_bert, texts + ["a new one"], ["occlusion"], store, progress=False)
        assert (again.items, again.cached, again.computed) == (3, 2, 1)
        # each word removed, the whole text, and explain()'s own probabilities (the rating needs no predicted label)
        assert tiny_bert.texts_evaluated - calls == len(tiny_bert.align("a new one").words) + 1 + 1
        results = load_results(store, tiny_bert, texts, ["occlusion"])
        direct = explain(tiny_bert, texts[1], method="occlusion")
        assert np.allclose(results[1]["occlusion"].word_scores, direct.word_scores)
        assert results[0]["occlusion"].text == results[2]["occlusion"].text == texts[0]


def test_bad_input_is_a_user_error(tiny_bert):
    store = ExplanationStore(":memory:")
    with pytest.raises(UserError, match="review 2 is empty"):
        run_corpus(tiny_bert, ["fine", "  "], ["occlusion"], store, progress=False)
    with pytest.raises(UserError, match="unknown engine"):
        run_corpus(tiny_bert, ["fine"], ["occlusion"], store, engine="spark", progress=False)
    with pytest.raises(UserError, match="not among the methods"):
        run_corpus(tiny_bert, ["fine"], ["occlusion"], store, params={"shap": {"max_evals": 10}}, progress=False)


SLOW_RUN = textwrap.dedent("""
    import sys, time
    from explain.classifier import Classifier
    from explain.corpus import run_corpus
    from explain.store import ExplanationStore
    texts = [line for line in open(sys.argv[3], encoding="utf-8").read().splitlines() if line]
    clf = Classifier.from_pretrained(sys.argv[1])
    original = clf.predict_proba
    def slow(batch):
        time.sleep(0.15)
        return original(batch)
    clf.predict_proba = slow
    run_corpus(clf, texts, ["occlusion"], ExplanationStore(sys.argv[2]), progress=False)
    print("finished", flush=True)
""")


def test_sigkill_midway_then_resume_loses_and_duplicates_nothing(tiny_bert, tiny_bert_dir, tmp_path):
    cache, texts_file = tmp_path / "c.sqlite", tmp_path / "texts.txt"
    texts_file.write_text("\n".join(TEXTS), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN, str(tiny_bert_dir), str(cache), str(texts_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ | {"TOKENIZERS_PARALLELISM": "false"},
    )
    deadline = time.monotonic() + 240
    done = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if cache.exists():
            with ExplanationStore(cache) as peek:
                done = len(peek)
            if done >= 4:
                break
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.communicate()}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with ExplanationStore(cache) as store:
        stored_before = len(store)
        assert 4 <= stored_before < len(TEXTS)
        stats = run_corpus(tiny_bert, TEXTS, ["occlusion"], store, progress=False)
        assert stats.cached == stored_before and stats.computed == len(TEXTS) - stored_before
        assert store.integrity() == "ok"
        rows = list(store.rows())
        assert len(rows) == len(TEXTS)
        assert sorted(payload["text"] for _, payload in rows) == sorted(TEXTS)  # each text exactly once
        killed_run = rows[0][1]  # written by the killed process: same result as computing it here
        assert np.allclose(killed_run["word_scores"], explain(tiny_bert, killed_run["text"], "occlusion").word_scores)


# ---------------------------------------------------------------------------- aggregation
LABELS = ("1 star", "2 stars", "3 stars")


def fake(text: str, probs, word_scores, target=None, label_scores=None) -> Explanation:
    """An explanation with one token per word (no specials), built by hand."""
    words = tuple(text.split())
    offsets, start = [], 0
    for w in words:
        start = text.index(w, start)
        offsets.append((start, start + len(w)))
        start += len(w)
    alignment = Alignment(
        tokens=words,
        token_offsets=tuple(offsets),
        special=(False,) * len(words),
        words=words,
        word_offsets=tuple(offsets),
        token_to_word=tuple(range(len(words))),
    )
    probs = np.asarray(probs, dtype=float)
    return Explanation(
        text=text,
        model="m",
        method="fake",
        labels=LABELS,
        target=int(np.argmax(probs)) if target is None else target,
        probabilities=probs,
        alignment=alignment,
        token_scores=np.asarray(word_scores, float),
        word_scores=np.asarray(word_scores, float),
        label_token_scores=None if label_scores is None else np.asarray(label_scores, float),
    )


def test_summary_on_a_constructed_corpus():
    reviews = [
        Review("bad bad service", 1),
        Review("good service", 3),
        Review("bad but good", 3),
        Review("okay stuff", None),
        Review("fine thing", 7),
    ]
    results = [
        {"fake": fake("bad bad service", [0.8, 0.1, 0.1], [0.3, 0.2, -0.1])},  # right
        {"fake": fake("good service", [0.1, 0.2, 0.7], [0.5, 0.05])},  # right
        {"fake": fake("bad but good", [0.9, 0.05, 0.05], [0.4, 0.0, -0.2])},  # wrong: given 3, p=0.9
        {"fake": fake("okay stuff", [0.2, 0.6, 0.2], [0.1, 0.1])},  # no stars
        {"fake": fake("fine thing", [0.3, 0.4, 0.3], [0.2, 0.1])},  # 7 stars: no such label
    ]
    s = summarize(reviews, results, LABELS, top_k=5, min_reviews=1)
    assert s.n_reviews == 5
    assert s.predicted_counts == (2, 2, 1)
    assert s.given_counts == (1, 0, 2)
    assert s.confusion == ((1, 0, 0), (0, 0, 0), (1, 0, 1))
    assert s.accuracy == pytest.approx(2 / 3)
    assert s.mae_stars == pytest.approx((0 + 0 + 2) / 3)
    assert s.unmapped_stars == 1
    one_star = {w.word: w for w in s.top_words["fake"]["1 star"]}
    assert one_star["bad"].total == pytest.approx(0.3 + 0.2 + 0.4)
    assert (one_star["bad"].count, one_star["bad"].reviews) == (3, 2)
    assert "good" not in one_star  # its only score toward 1 star sums to -0.2
    assert [w.word for w in s.top_words["fake"]["1 star"]] == ["bad"]  # "but" sums to 0, "service" below 0
    assert [w.word for w in s.top_words["fake"]["2 stars"]] == ["fine", "okay", "stuff", "thing"]  # ties by word
    assert [w.word for w in s.top_words["fake"]["3 stars"]] == ["good", "service"]
    assert [(w.index, w.given, w.predicted) for w in s.confidently_wrong] == [(2, 2, 0)]
    assert s.confidently_wrong[0].confidence == pytest.approx(0.9)
    assert s.confidently_wrong[0].given_probability == pytest.approx(0.05)
    at_least_two = summarize(reviews, results, LABELS, min_reviews=2).top_words["fake"]
    assert [w.word for w in at_least_two["1 star"]] == ["bad"] and at_least_two["3 stars"] == ()


def test_per_label_scores_count_toward_every_label():
    label_scores = [[0.5, -0.1, -0.4], [-0.2, 0.0, 0.3]]  # (words, labels)
    exp = fake("awful product", [0.6, 0.3, 0.1], [0.5, -0.2], label_scores=label_scores)
    s = summarize([Review("awful product")], [{"fake": exp}], LABELS, min_reviews=1)
    assert s.given_counts is None and s.confusion is None and s.confidently_wrong == ()
    assert [(w.word, round(w.total, 6)) for w in s.top_words["fake"]["1 star"]] == [("awful", 0.5)]
    assert s.top_words["fake"]["2 stars"] == ()
    assert [(w.word, round(w.total, 6)) for w in s.top_words["fake"]["3 stars"]] == [("product", 0.3)]


def test_failed_reviews_are_left_out_of_the_summary():
    exp = fake("good", [0.1, 0.1, 0.8], [0.4])
    s = summarize([Review("x", 1), Review("good", 3)], [{}, {"fake": exp}], LABELS, min_reviews=1)
    assert s.n_reviews == 1 and s.predicted_counts == (0, 0, 1) and s.confusion[2][2] == 1


# ---------------------------------------------------------------------------- Ray
def test_ray_local_stores_the_same_results_as_local(tiny_bert, tmp_path):
    ray = pytest.importorskip("ray")
    texts = ["Great sound, terrible price!", "I really loved that movie", "It's not bad.", "five stars"]
    with ExplanationStore(tmp_path / "local.sqlite") as local, ExplanationStore(tmp_path / "ray.sqlite") as remote:
        run_corpus(tiny_bert, texts, ["occlusion"], local, progress=False)
        run_corpus(tiny_bert, texts[3:], ["occlusion"], remote, progress=False)  # the Ray run must skip this one
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            stats = run_corpus(
                tiny_bert, texts, ["occlusion"], remote, engine="ray", actors=2, batch_size=1, progress=False
            )
        finally:
            ray.shutdown()
        assert (stats.cached, stats.computed, stats.failed) == (1, 3, [])
        assert len(remote) == len(local) == 4
        mine = {k: p for k, p in local.rows()}
        theirs = {k: p for k, p in remote.rows()}
        assert mine.keys() == theirs.keys()
        for key, payload in mine.items():
            other = theirs[key]
            assert other["model"] == payload["model"] and other["words"] == payload["words"]
            assert np.allclose(other["word_scores"], payload["word_scores"], atol=1e-6)
            assert np.allclose(other["probabilities"], payload["probabilities"], atol=1e-6)
