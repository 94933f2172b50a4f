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


@pytest.mark.parametrize("max_evals", [64, 500])
def test_parity_with_shap_pipeline(sensitive_classifier, max_evals):
    """Same model, text and max_evals: our values equal shap.Explainer(pipeline(top_k=None))'s within 1e-4."""
    import shap
    import transformers

    clf = sensitive_classifier
    ours = explain(clf, REVIEW, method="shap", max_evals=max_evals, seed=0)
    pipe = transformers.pipeline(
        "text-classification", model=clf.model, tokenizer=clf.tokenizer, top_k=None, batch_size=64
    )  # batching only speeds the reference up
    reference = shap.Explainer(pipe)
    assert type(reference).__name__ == "PartitionExplainer"
    # With a budget too small to expand the whole partition tree, which nodes get expanded depends on
    # the batch size (queue popped per batch) and on numpy's global generator (priority ties): match
    # both. At 500 the tree (358 masks here) is expanded fully and shap's default batch size is kept.
    np.random.seed(0)
    call = {"batch_size": max_evals} if max_evals < 358 else {}
    theirs = reference([REVIEW], max_evals=max_evals, silent=True, **call)
    assert list(theirs.output_names) == clf.labels  # pipeline dicts put back in label-id order
    assert theirs.values[0].shape == ours.label_token_scores.shape
    assert np.abs(ours.label_token_scores).max() > 0.01  # values far above the tolerance
    np.testing.assert_allclose(ours.label_token_scores, theirs.values[0], rtol=0, atol=1e-4)
    np.testing.assert_allclose(ours.diagnostics["base_values"], theirs.base_values[0], rtol=0, atol=1e-4)


def test_parity_tolerance_can_fail(sensitive_classifier):
    """The parity tolerance separates budgets: values at max_evals=64 and 500 differ by far more than 1e-4."""
    small = explain(sensitive_classifier, REVIEW, method="shap", max_evals=64)
    full = explain(sensitive_classifier, REVIEW, method="shap", max_evals=500)
    assert np.abs(small.label_token_scores - full.label_token_scores).max() > 1e-3


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


def test_long_text_explains_what_the_model_sees(sensitive_classifier):
    text = "great battery, awful screen. " * 60
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp = explain(sensitive_classifier, text, method="shap", max_evals=100)
        probs = sensitive_classifier.predict_proba([text])[0]
    assert exp.diagnostics["truncated"] is True
    assert len(exp.tokens) == sensitive_classifier.max_length
    assert exp.token_scores.sum() + exp.diagnostics["base_value"] == pytest.approx(
        float(exp.target_spec.from_proba(probs)), abs=1e-5
    )
