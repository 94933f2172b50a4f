"""Metrics on constructed cases with known answers: a word-weight "model" whose reasons we know."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import numpy as np
import pytest

from explain.explanation import Explanation, spread
from explain.methods import explain
from explain.metrics import (
    BINS,
    METRICS,
    agreement,
    agreement_matrix,
    comprehensiveness,
    deletion_auc,
    deletion_curve,
    faithfulness,
    insertion_auc,
    kendall,
    leave_one_out,
    mean_agreement,
    metric_info,
    plausibility,
    random_baseline,
    rating_direction,
    sentence_spans,
    spearman,
    sufficiency,
    tau_loo,
    top_k_count,
    top_k_overlap,
)
from explain.metrics.perturbation import curve_counts
from explain.words import WORD_PATTERN, align

STARS = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")


class WordModel:
    """Two labels; p(positive) = sigmoid(sum of the weights of the words present). Counts its calls."""

    labels = ["negative", "positive"]
    name = "word-model"
    tokenizer = SimpleNamespace(mask_token="[MASK]")

    def __init__(self, weights: dict[str, float], max_words: int | None = None, probability=None):
        self.weights = weights
        self.max_words = max_words  # simulate truncation: the model sees only the first words
        self.probability = probability  # optional words -> p(positive), replacing the sigmoid
        self.calls = 0
        self.texts: list[str] = []

    def _words(self, text: str) -> list[str]:
        words = [w for w in WORD_PATTERN.findall(text) if w not in ("[", "]", "MASK")]
        return words[: self.max_words] if self.max_words else words

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts.extend(texts)
        out = []
        for t in texts:
            words = self._words(t)
            if self.probability:
                p = self.probability(words)
            else:
                p = 1 / (1 + math.exp(-sum(self.weights.get(w.lower(), 0.0) for w in words)))
            out.append([1 - p, p])
        return np.asarray(out)

    def align(self, text: str):
        spans = [m.span() for m in WORD_PATTERN.finditer(text)][: self.max_words or None]
        tokens = ["[CLS]"] + [text[s:e] for s, e in spans] + ["[SEP]"]
        offsets = [(0, 0)] + spans + [(0, 0)]
        special = [True] + [False] * len(spans) + [True]
        return align(text, tokens, offsets, special)


def make(model, text: str, word_scores, target: int = 1, labels=None, contrast=None) -> Explanation:
    """An explanation of `text` whose word scores we choose."""
    alignment = model.align(text)
    word_scores = np.asarray(word_scores, dtype=float)
    probs = model.predict_proba([text])[0] if labels is None else np.full(len(labels), 1 / len(labels))
    model.calls = 0
    return Explanation(
        text=text,
        model=model.name,
        method="constructed",
        labels=tuple(labels or model.labels),
        target=target,
        contrast=contrast,
        probabilities=probs,
        alignment=alignment,
        token_scores=spread(word_scores, alignment.token_to_word),
        word_scores=word_scores,
    )


WEIGHTS = {"great": 3.0, "superb": 2.5, "love": 2.0, "fine": 1.0, "dull": -1.5, "boring": -2.0}
TEXT = "the plot was dull but the acting was superb and i love the great score , it is fine overall"


@pytest.fixture
def model():
    return WordModel(WEIGHTS)


def true_scores(text: str) -> np.ndarray:
    return np.asarray([WEIGHTS.get(w.lower(), 0.0) for w in WORD_PATTERN.findall(text)])


# ---------------------------------------------------------------- AOPC bins
@pytest.mark.parametrize(
    ("fraction", "n", "k"),
    [
        (0.01, 30, 1),
        (0.05, 30, 2),
        (0.10, 30, 3),
        (0.20, 30, 6),
        (0.50, 30, 15),
        (0.01, 250, 3),
        (0.10, 10, 1),
        (0.20, 10, 2),
        (0.50, 3, 2),
        (0.50, 1, 1),
        (0.01, 0, 0),
        (1.0, 7, 7),
    ],
)
def test_top_k_count_is_ceil_at_least_one(fraction, n, k):
    assert top_k_count(fraction, n) == k


def test_aopc_bins_exact_on_a_linear_model():
    # p(positive) = share of the 30 words still present: removing k words drops it by exactly k/30.
    text = " ".join(f"w{i}" for i in range(30))
    lin = WordModel({}, probability=lambda words: len(words) / 30)
    exp = make(lin, text, np.arange(30, 0, -1))
    ks = [1, 2, 3, 6, 15]  # ceil(30 * {1, 5, 10, 20, 50}%); rounding would give 0 words for the 1% bin
    assert BINS == (0.01, 0.05, 0.10, 0.20, 0.50)
    assert comprehensiveness(lin, exp) == pytest.approx(np.mean(ks) / 30, abs=1e-12)  # 0.18
    assert sufficiency(lin, exp) == pytest.approx(1 - np.mean(ks) / 30, abs=1e-12)  # 0.82
    assert comprehensiveness(lin, exp, bins=(0.1,)) == pytest.approx(3 / 30)
    # deletion removes the top words: "w0 w1 ..." rank first, and the 1% text lacks exactly w0
    lin.texts.clear()
    comprehensiveness(lin, exp)
    assert lin.texts[1] == text.replace("w0", "", 1)  # deleted in place, as occlusion does
    assert deletion_auc(lin, exp) == pytest.approx(0.5) and insertion_auc(lin, exp) == pytest.approx(0.5)


def test_curve_counts_and_fractions():
    assert curve_counts(5, 20) == [0, 1, 2, 3, 4, 5]
    assert curve_counts(40, 20) == list(range(0, 41, 2))
    assert curve_counts(30, 20)[:4] == [0, 2, 3, 5] and curve_counts(30, 20)[-1] == 30
    lin = WordModel({}, probability=lambda words: len(words) / 40)
    curve = deletion_curve(lin, make(lin, " ".join(f"w{i}" for i in range(40)), np.zeros(40)))
    np.testing.assert_allclose(curve.fractions, np.linspace(0, 1, 21))
    np.testing.assert_allclose(curve.outputs, 1 - np.linspace(0, 1, 21))


# ---------------------------------------------------------------- known right ranking
def test_right_ranking_beats_reverse_and_random(model):
    right = make(model, TEXT, true_scores(TEXT))
    reverse = make(model, TEXT, -true_scores(TEXT))
    good, bad = faithfulness(model, right, random_rankings=10), faithfulness(model, reverse)
    chance = faithfulness(model, right, random_rankings=10, include_explanation=False).random
    assert good.random == chance  # seeded: the same random rankings either way
    for name, info in METRICS.items():
        if info.family != "faithfulness":
            continue
        better = (lambda a, b: a > b) if info.higher_is_better else (lambda a, b: a < b)
        assert better(good.values[name], bad.values[name]), name
        assert better(good.values[name], chance[name]), name
    # exact numbers: 20 words, weights sum to 7; bins remove/keep the top 1, 1, 2, 4, 10 words
    # (great 3, superb 2.5, love 2, fine 1, then zero-weight words; dull -1.5 ranks last)
    sig = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert good.values["comprehensiveness"] == pytest.approx(
        sig(7) - np.mean([sig(4), sig(4), sig(1.5), sig(-1.5), sig(-1.5)])
    )
    assert good.values["sufficiency"] == pytest.approx(sig(7) - np.mean([sig(3), sig(3), sig(5.5), sig(8.5), sig(8.5)]))
    assert good.values["tau_loo"] > 0.8 and bad.values["tau_loo"] < -0.8


def test_one_model_call_per_explanation(model):
    exp = make(model, TEXT, true_scores(TEXT))
    result = faithfulness(model, exp, random_rankings=5)
    assert model.calls == 1
    n = len(exp.words)
    per_ranking = (1 + 5) * 2 + 2 * (min(n, 20) + 1)  # comp + suff (x + 5 bins each), deletion + insertion curves
    assert result.texts_scored == 6 * per_ranking + 1 + n  # explanation + 5 random rankings, and LOO
    model.calls = 0
    comprehensiveness(model, exp)
    assert model.calls == 1


def test_random_baseline_is_seeded(model):
    exp = make(model, TEXT, true_scores(TEXT))
    a = random_baseline(model, exp, "comprehensiveness", n=4, seed=3)
    assert a == random_baseline(model, exp, "comprehensiveness", n=4, seed=3)
    assert a != random_baseline(model, exp, "comprehensiveness", n=4, seed=4)
    assert abs(random_baseline(model, exp, "tau_loo", n=50, seed=0)) < 0.15


def test_tau_loo_is_one_for_leave_one_out_itself(model):
    exp = make(model, TEXT, true_scores(TEXT))
    drops = leave_one_out(model, exp)
    assert tau_loo(model, make(model, TEXT, drops)) == pytest.approx(1.0)
    assert tau_loo(model, make(model, TEXT, -drops)) == pytest.approx(-1.0)
    assert math.isnan(tau_loo(model, make(model, TEXT, np.ones(len(drops)))))  # constant scores: undefined


def test_tau_loo_is_one_for_occlusion_on_a_real_model(tiny_bert):
    exp = explain(tiny_bert, "The battery died after two days, what a waste of money.", method="occlusion")
    assert tau_loo(tiny_bert, exp) == pytest.approx(1.0)
    np.testing.assert_allclose(leave_one_out(tiny_bert, exp), exp.word_scores, atol=1e-6)


def test_mask_mode_replaces_words_with_the_mask_token(model):
    exp = make(model, "great phone , dull case", [5.0, 0.0, 0.0, -1.0, 0.0])
    model.texts.clear()
    comprehensiveness(model, exp, bins=(0.2,), mode="mask")
    assert model.texts == ["great phone , dull case", "[MASK] phone , dull case"]
    model.texts.clear()
    sufficiency(model, exp, bins=(0.2,), mode="mask")
    assert model.texts[1] == "great [MASK] [MASK] [MASK] [MASK]"
    model.texts.clear()
    sufficiency(model, exp, bins=(0.2,))
    assert model.texts[1].split() == ["great"]


def test_unseen_text_after_truncation_is_never_pulled_in():
    model = WordModel(WEIGHTS, max_words=4)
    exp = make(model, "great phone and case but boring boring boring", [1.0, 0.5, 0.0, 0.0])
    assert len(exp.words) == 4
    model.texts.clear()
    faithfulness(model, exp)
    assert all("boring" not in t for t in model.texts)


def test_contrastive_output_is_target_minus_contrast(model):
    exp = make(model, "great", [1.0], target=1, contrast=0)
    p = 1 / (1 + math.exp(-3.0))
    # removing the only word leaves an empty text: p = 0.5 for both labels
    assert comprehensiveness(model, exp) == pytest.approx((p - (1 - p)) - 0.0)


# ---------------------------------------------------------------- agreement
def test_agreement_known_values(model):
    base = make(model, TEXT, true_scores(TEXT) + np.linspace(0, 0.01, len(TEXT.split())))
    same, rev = make(model, TEXT, base.word_scores * 2), make(model, TEXT, -base.word_scores)
    assert spearman(base, same) == pytest.approx(1.0) and kendall(base, same) == pytest.approx(1.0)
    assert spearman(base, rev) == pytest.approx(-1.0) and kendall(base, rev) == pytest.approx(-1.0)
    assert top_k_overlap(base, same, k=3) == 1.0 and top_k_overlap(base, rev, k=3) == 0.0
    a = make(model, "a b c d", [4.0, 3.0, 2.0, 1.0])
    b = make(model, "a b c d", [4.0, 1.0, 3.0, 2.0])
    assert top_k_overlap(a, b, k=2) == 0.5  # {a, b} vs {a, c}
    assert top_k_overlap(a, b, k=10) == 1.0  # k capped at the 4 words
    assert spearman(a, b) == pytest.approx(0.4)  # d^2 = 0 + 4 + 1 + 1 -> 1 - 6*6/(4*15)
    assert agreement(a, b)["kendall"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="different words"):
        spearman(a, make(model, "a b c e", [1.0, 2.0, 3.0, 4.0]))


def test_agreement_matrix_symmetric_with_unit_diagonal(model):
    rng = np.random.default_rng(0)
    exps = {name: make(model, TEXT, rng.standard_normal(len(TEXT.split()))) for name in ("x", "y", "z", "w")}
    for measure in ("spearman", "kendall", "top_k_overlap"):
        mat = agreement_matrix(exps, measure, k=5)
        np.testing.assert_allclose(mat.values, mat.values.T)
        np.testing.assert_allclose(np.diag(mat.values), 1.0)
        assert mat.methods == ("x", "y", "z", "w")
        assert mat.values[0, 1] == pytest.approx(agreement(exps["x"], exps["y"], k=5)[measure])
    m1 = agreement_matrix({"x": np.array([1.0, 2, 3]), "y": np.array([1.0, 2, 3])})
    m2 = agreement_matrix({"x": np.array([1.0, 2, 3]), "y": np.array([3.0, 2, 1]), "z": np.array([1.0, 3, 2])})
    mean = mean_agreement([m1, m2], ["x", "y", "z"])
    assert mean.values[0, 1] == pytest.approx(0.0) and mean.values[0, 2] == pytest.approx(0.5)
    assert mean.counts[0, 1] == 2 and mean.counts[0, 2] == 1
    np.testing.assert_allclose(mean.values, mean.values.T)


# ---------------------------------------------------------------- plausibility
SENTENCES = ("Great screen.", "The battery is weak.", "Shipping was fine.", "I love it!")
RATINGS = (2.5, -1.5, 0.5, 3.0)


def _sentence_explanation(model, sentence_totals, target):
    text = " ".join(SENTENCES)
    spans = sentence_spans(text, SENTENCES)
    alignment = model.align(text)
    scores = []
    for start, _ in alignment.word_offsets:
        i = next(j for j, (s, e) in enumerate(spans) if s <= start < e)
        n_in = sum(1 for s2, _ in alignment.word_offsets if spans[i][0] <= s2 < spans[i][1])
        scores.append(sentence_totals[i] / n_in)
    return make(model, text, scores, target=target, labels=STARS)


def test_sentence_spans_follow_the_joined_text():
    text = " ".join(SENTENCES)
    assert [text[s:e] for s, e in sentence_spans(text, SENTENCES)] == list(SENTENCES)
    with pytest.raises(ValueError):
        sentence_spans(text, ("not here",))


def test_plausibility_signed_toward_the_class(model):
    order_like_humans = [2.0, -1.0, 0.1, 3.0]  # same ranks as RATINGS
    five = _sentence_explanation(model, order_like_humans, target=4)
    assert plausibility(model, five, SENTENCES, RATINGS) == pytest.approx(1.0)
    one = _sentence_explanation(model, order_like_humans, target=0)
    assert plausibility(model, one, SENTENCES, RATINGS) == pytest.approx(-1.0)
    # 3 stars: calm sentences support it most: -|rating| ranks = [.., .., fine, ..]
    three = _sentence_explanation(model, [-2.5, -1.5, -0.5, -3.0], target=2)
    assert plausibility(model, three, SENTENCES, RATINGS) == pytest.approx(1.0)
    partly = _sentence_explanation(model, [1.0, 2.0, 3.0, 4.0], target=4)  # ranks 1,2,3,4 vs 3,1,2,4
    assert plausibility(model, partly, SENTENCES, RATINGS) == pytest.approx(0.4)


def test_plausibility_needs_three_sentences_and_known_labels(model):
    text = "Great screen. Weak battery."
    exp = make(model, text, [1.0, 0.0, 0.0, -1.0, 0.0, 0.0], target=4, labels=STARS)
    assert math.isnan(plausibility(model, exp, ("Great screen.", "Weak battery."), (2.0, -1.0)))
    assert rating_direction("5 stars") == 2 and rating_direction("1 star") == -2 and rating_direction("negative") == -1
    from explain.errors import UserError

    with pytest.raises(UserError, match="which way"):
        rating_direction("sports")


# ---------------------------------------------------------------- metadata
def test_metric_metadata_is_complete():
    expected = {
        "comprehensiveness": True,
        "sufficiency": False,
        "deletion_auc": False,
        "insertion_auc": True,
        "tau_loo": True,
        "plausibility": True,
        "spearman": True,
        "kendall": True,
        "top_k_overlap": True,
    }
    assert {name: info.higher_is_better for name, info in METRICS.items()} == expected
    for fn in (comprehensiveness, sufficiency, deletion_auc, insertion_auc, tau_loo, plausibility, spearman):
        assert fn.info is metric_info(fn.info.name) and fn.info.reference and fn.info.min_value < fn.info.max_value
    assert metric_info("sufficiency").lower_is_better and metric_info("sufficiency").best({"a": 0.1, "b": -0.2}) == "b"
    assert metric_info("comprehensiveness").best({"a": 0.1, "b": float("nan")}) == "a"
    assert re.fullmatch(r"[↑↓]", metric_info("tau_loo").arrow)


@pytest.mark.parametrize("mode", ["delete", "mask"])
def test_every_architecture_and_removal_mode(tiny_classifier, mode):
    text = "Great sound, terrible price! It's not bad."
    exp = explain(tiny_classifier, text, method="occlusion", mode=mode, target="predicted")
    result = faithfulness(tiny_classifier, exp, mode=mode, random_rankings=2)
    assert (
        set(result.values)
        == set(result.random)
        == {"comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc", "tau_loo"}
    )
    assert all(np.isfinite(v) for v in result.values.values())
    assert result.values["tau_loo"] == pytest.approx(1.0)  # occlusion with the same removal IS leave-one-out
    assert 0.0 <= result.values["deletion_auc"] <= 1.0 and 0.0 <= result.values["insertion_auc"] <= 1.0
    assert result.curves["deletion"].outputs[0] == pytest.approx(exp.probabilities[exp.target], abs=1e-5)
    rating = explain(tiny_classifier, text, method="occlusion", mode=mode)  # the default question: in stars
    in_stars = faithfulness(tiny_classifier, rating, mode=mode)
    assert in_stars.curves["deletion"].outputs[0] == pytest.approx(rating.expected_rating, abs=1e-5)
    assert 1.0 <= in_stars.values["deletion_auc"] <= 5.0 and in_stars.values["tau_loo"] == pytest.approx(1.0)
