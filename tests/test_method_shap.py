"""SHAP: parity with shap's own transformers-pipeline path, additivity, token mapping, seeds, truncation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from fakes import KeywordClassifier

from explain.classifier import Classifier
from explain.methods import explain

REVIEW = "The battery died after two days, what a waste of money."


def sensitive(folder) -> Classifier:
    """A tiny model whose output depends on the words: its weights scaled up 10x.

    The conftest models are so flat that their SHAP values are ~1e-5, below any useful tolerance;
    scaled, values reach ~0.05, so a 1e-4 parity tolerance means something.
    """
    classifier = Classifier.from_pretrained(folder)
    with torch.no_grad():
        for name, weight in classifier.model.named_parameters():
            if weight.dim() == 2 and "embeddings" not in name:
                weight.mul_(10.0)
    return classifier


@pytest.fixture(scope="module", params=["bert", "roberta"])
def sensitive_classifier(request) -> Classifier:
    return sensitive(request.getfixturevalue(f"tiny_{request.param}_dir"))


def shap_default_path(clf: Classifier, text: str, max_evals: int, seed: int = 0):
    """shap as its users run it: `shap.Explainer(f, shap.maskers.Text(tokenizer))`, shap's default batch size."""
    import shap

    reference = shap.Explainer(clf.predict_proba, shap.maskers.Text(clf.tokenizer), output_names=list(clf.labels))
    assert type(reference).__name__ == "PartitionExplainer"
    saved = np.random.get_state()
    np.random.seed(seed)  # shap breaks priority ties with numpy's global generator
    try:
        return reference([text], max_evals=max_evals, silent=True)
    finally:
        np.random.set_state(saved)


@pytest.mark.parametrize("max_evals", [40, 64, 150, 500])
def test_parity_with_shap_default_path(sensitive_classifier, max_evals):
    """Same model, text and max_evals: our values equal shap's default path within 1e-4.

    Below a full expansion of the partition tree (358 masks here), which nodes get expanded depends on
    shap's batch size and its tie-breaking draws; ours follows both, so the values are the same.
    """
    clf = sensitive_classifier
    ours = explain(clf, REVIEW, method="shap", max_evals=max_evals, seed=0)
    theirs = shap_default_path(clf, REVIEW, max_evals)
    assert theirs.values[0].shape == ours.label_token_scores.shape
    assert np.abs(ours.label_token_scores).max() > 0.01  # values far above the tolerance
    np.testing.assert_allclose(ours.label_token_scores, theirs.values[0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours.diagnostics["base_values"], theirs.base_values[0], rtol=0, atol=1e-4)
    assert ours.diagnostics["exact"] is (max_evals >= 358)
    assert ours.diagnostics["evals"] <= max_evals


def test_parity_with_shap_pipeline(sensitive_classifier):
    """The same with shap.Explainer(transformers.pipeline(top_k=None)), the textbook call."""
    import shap
    import transformers

    clf = sensitive_classifier
    pipe = transformers.pipeline("text-classification", model=clf.model, tokenizer=clf.tokenizer, top_k=None)
    np.random.seed(0)
    theirs = shap.Explainer(pipe)([REVIEW], max_evals=150, silent=True)
    assert list(theirs.output_names) == clf.labels  # pipeline dicts put back in label-id order
    ours = explain(clf, REVIEW, method="shap", max_evals=150, seed=0)
    np.testing.assert_allclose(ours.label_token_scores, theirs.values[0], rtol=0, atol=1e-4)


def test_parity_tolerance_can_fail(sensitive_classifier):
    """The parity tolerance separates budgets and batch sizes: both move the values by far more than 1e-4."""
    import shap

    small = explain(sensitive_classifier, REVIEW, method="shap", max_evals=64)
    full = explain(sensitive_classifier, REVIEW, method="shap", max_evals=500)
    assert np.abs(small.label_token_scores - full.label_token_scores).max() > 1e-3
    reference = shap.Explainer(sensitive_classifier.predict_proba, shap.maskers.Text(sensitive_classifier.tokenizer))
    np.random.seed(0)
    other_batch = reference([REVIEW], max_evals=64, batch_size=64, silent=True)
    assert np.abs(small.label_token_scores - other_batch.values[0]).max() > 1e-3


def test_additivity(tiny_classifier):
    """Per label, token values + base value == the classifier's probability (within 1e-5)."""
    exp = explain(tiny_classifier, REVIEW, method="shap", max_evals=200)
    probs = tiny_classifier.predict_proba([REVIEW])[0]
    totals = exp.label_token_scores.sum(axis=0) + np.asarray(exp.diagnostics["base_values"])
    np.testing.assert_allclose(totals, probs, rtol=0, atol=1e-5)
    assert exp.diagnostics["fx"] == pytest.approx(float(exp.target_spec.from_proba(probs)), abs=1e-7)
    assert exp.diagnostics["additivity_error"] < 1e-5
    assert exp.word_scores.sum() + exp.diagnostics["base_value"] == pytest.approx(exp.diagnostics["fx"], abs=1e-5)


def test_additivity_on_a_sensitive_model(sensitive_classifier):
    exp = explain(sensitive_classifier, REVIEW, method="shap", max_evals=100)
    assert np.abs(exp.word_scores).max() > 0.01
    assert exp.token_scores.sum() + exp.diagnostics["base_value"] == pytest.approx(exp.diagnostics["fx"], abs=1e-5)


def test_contrast_is_difference_of_labels(sensitive_classifier):
    exp = explain(sensitive_classifier, REVIEW, method="shap", target="5 stars", contrast="1 star", max_evals=100)
    lts = exp.label_token_scores
    np.testing.assert_allclose(exp.token_scores, lts[:, 4] - lts[:, 0], atol=1e-12)
    probs = sensitive_classifier.predict_proba([REVIEW])[0]
    assert exp.diagnostics["fx"] == pytest.approx(float(probs[4] - probs[0]), abs=1e-7)
    base = exp.diagnostics["base_values"]
    assert exp.diagnostics["base_value"] == pytest.approx(base[4] - base[0], abs=1e-12)
    assert exp.diagnostics["additivity_error"] < 1e-5
    same = explain(sensitive_classifier, REVIEW, method="shap", target="5 stars", max_evals=100)
    np.testing.assert_allclose(exp.for_label(4).token_scores, same.token_scores, atol=1e-12)


def test_values_land_on_the_right_token(tiny_bert):
    """A model that reads one word: that token gets the whole change, every other token (specials too) 0."""
    keyword = KeywordClassifier(tiny_bert.model, tiny_bert.tokenizer, name="keyword")
    text = "Great sound, terrible price, honestly!"
    exp = explain(keyword, text, method="shap", target="5 stars", max_evals=500)
    hit = exp.words.index("terrible")
    assert exp.word_scores[hit] == pytest.approx(0.4, abs=1e-6)
    assert np.abs(np.delete(exp.word_scores, hit)).max() < 1e-6
    token = exp.tokens.index("terrible")
    np.testing.assert_allclose(exp.label_token_scores[token], [-0.1, -0.1, -0.1, -0.1, 0.4], atol=1e-6)
    assert np.abs(exp.label_token_scores[list(exp.alignment.special)]).max() == 0
    assert exp.diagnostics["base_value"] == pytest.approx(0.2, abs=1e-6)


def test_word_score_is_sum_of_its_tokens(sensitive_classifier):
    text = "I hate very cold, and cloudy winter days"
    exp = explain(sensitive_classifier, text, method="shap", max_evals=200)
    for w in range(len(exp.words)):
        members = exp.alignment.word_tokens(w)
        assert exp.word_scores[w] == pytest.approx(exp.token_scores[members].sum(), abs=1e-12)
    assert np.abs(exp.token_scores[list(exp.alignment.special)]).max() < 1e-6


def test_seed_reproducible_and_global_rng_untouched(sensitive_classifier):
    np.random.seed(123)
    expected_draw = np.random.rand()
    np.random.seed(123)
    a = explain(sensitive_classifier, REVIEW, method="shap", max_evals=64, seed=7)
    assert np.random.rand() == expected_draw
    b = explain(sensitive_classifier, REVIEW, method="shap", max_evals=64, seed=7)
    np.testing.assert_array_equal(a.label_token_scores, b.label_token_scores)


def test_masker_token_mismatch_fails_loudly(tiny_bert, monkeypatch):
    import shap

    real = shap.maskers.Text.token_segments

    def one_token_short(self, s):
        parts, ids = real(self, s)
        return parts[:-2] + parts[-1:], list(ids[:-2]) + list(ids[-1:])

    monkeypatch.setattr(shap.maskers.Text, "token_segments", one_token_short)
    with pytest.raises(ValueError, match="Text masker"):
        explain(tiny_bert, REVIEW, method="shap", max_evals=16)


@pytest.mark.parametrize("long", ["truncate", "windows"])
def test_long_text_explains_what_the_model_sees(sensitive_classifier, long):
    text = "great battery, awful screen. " * 60
    clf = Classifier(sensitive_classifier.model, sensitive_classifier.tokenizer, long=long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp = explain(clf, text, method="shap", max_evals=100)
        probs = clf.predict_proba([text])[0]
    assert exp.diagnostics["truncated"] is (long == "truncate")
    if long == "truncate":
        assert len(exp.tokens) == clf.max_length
    else:
        assert len(exp.words) == 60 * 6 and len(exp.tokens) > clf.max_length
    # additive on the windowed prediction too (shap's masker rebuilds a long RoBERTa text slightly differently)
    tolerance = 1e-5 if long == "truncate" else 5e-4
    assert exp.token_scores.sum() + exp.diagnostics["base_value"] == pytest.approx(
        float(exp.target_spec.from_proba(probs)), abs=tolerance
    )


# ---------------------------------------------------------------- the Partition algorithm itself
def toy_game(n: int = 12, seed: int = 3):
    """A nonlinear set function (masks (k, n) -> 2 outputs) and a shap text clustering of n tokens."""
    import shap

    rng = np.random.default_rng(seed)
    w, pair = rng.normal(size=n), rng.normal(size=(n, n)) / n

    def model(masks: np.ndarray) -> np.ndarray:
        x = masks.astype(float)
        z = x @ w + np.einsum("ki,ij,kj->k", x, pair, x)
        p = 1 / (1 + np.exp(-z))
        return np.stack([p, 1 - p], axis=1)

    words = ["the", "battery", "died", "after", "two", "days", ",", "what", "a", "waste", "of", "money", ".", "really"][
        :n
    ]
    clustering = shap.maskers._text.partition_tree(words, [])
    clustering[:, 2] = clustering[:, 3] / clustering[:, 3].max()
    return model, clustering


def test_exact_path_equals_the_full_queue_run():
    """The one-call full tree equals shap's queue algorithm run to completion, and is additive."""
    from explain.methods.partition import Tree, owen_values

    model, clustering = toy_game()
    full = Tree(clustering).full_tree_evals()
    exact = owen_values(model, clustering, full)
    queued = owen_values(model, clustering, full, exact_if_fits=False, lookahead=False)
    assert exact.exact and queued.exact and exact.evals == queued.evals == full
    assert exact.model_calls == 1 and queued.model_calls > 10
    np.testing.assert_allclose(exact.values, queued.values, rtol=0, atol=1e-12)
    np.testing.assert_allclose(exact.values.sum(axis=0) + exact.base, exact.fx, rtol=0, atol=1e-12)
    short = owen_values(model, clustering, full - 2)
    assert not short.exact and np.abs(short.values - exact.values).max() > 1e-4


def test_linear_model_owen_values_are_its_weights():
    """For a linear set function every Owen value is the feature's weight (known answer)."""
    from explain.methods.partition import owen_values

    _, clustering = toy_game()
    w = np.linspace(-1, 1, 12)
    result = owen_values(lambda m: (m.astype(float) @ w)[:, None], clustering, 10_000)
    assert result.exact
    np.testing.assert_allclose(result.values[:, 0], w, rtol=0, atol=1e-12)


@pytest.mark.parametrize("max_evals", [30, 60, 100])  # the whole tree: 108
def test_lookahead_changes_model_calls_not_values(max_evals):
    from explain.methods.partition import owen_values

    model, clustering = toy_game()
    plain = owen_values(model, clustering, max_evals, lookahead=False, seed=4)
    ahead = owen_values(model, clustering, max_evals, lookahead=True, seed=4)
    np.testing.assert_allclose(plain.values, ahead.values, rtol=0, atol=1e-12)  # batch composition: ulps
    assert plain.evals == ahead.evals <= max_evals and plain.model_evals == plain.evals
    assert ahead.model_calls < plain.model_calls


def test_half_budget_values_are_the_run_at_half_the_budget():
    """The error estimate compares with a real run: the values the first half of the evaluations give."""
    from explain.methods.partition import owen_values

    model, clustering = toy_game()
    result = owen_values(model, clustering, 100, seed=1)
    assert not result.exact and 51 <= result.half_evals < 60
    half = owen_values(model, clustering, result.half_evals, seed=1)
    np.testing.assert_allclose(result.half_values, half.values, rtol=0, atol=1e-12)
    assert np.abs(result.values - result.half_values).max() > 1e-4


def test_budget_diagnostics_and_note(sensitive_classifier):
    """Exact when the tree fits (no estimate to show); otherwise an estimated error and a 'raise max_evals' note."""
    from explain.render.terminal import explanation_notes

    exact = explain(sensitive_classifier, REVIEW, method="shap", max_evals=500)
    assert exact.diagnostics["exact"] is True and exact.diagnostics["estimated_error"] == 0.0
    assert exact.diagnostics["model_calls"] == 1
    assert not any("max_evals" in note for note in explanation_notes(exact))
    rough = explain(sensitive_classifier, REVIEW, method="shap", max_evals=64)
    d = rough.diagnostics
    assert d["exact"] is False and d["estimated_error"] > 1e-3 and d["full_tree_evals"] == exact.diagnostics["evals"]
    error = np.abs(rough.token_scores - exact.token_scores).max()
    assert error / 10 < d["estimated_error"] < 10 * error  # an estimate of the true error's size, not a bound
    note = next(note for note in explanation_notes(rough) if "max_evals" in note)
    assert f"{d['estimated_error']:.4f}" in note and "shap.max_evals=128" in note
