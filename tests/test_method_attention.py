"""Raw attention, attention rollout and gradient-weighted attention (Chefer et al. 2021), checked by hand."""

import numpy as np
import pytest
import torch

from explain.errors import UserError
from explain.methods import explain
from explain.methods.attention import attention_maps, relevance_matrix, rollout_matrix
from explain.target import Target

REVIEW = "The battery died after two days, what a waste of money."


def test_attention_maps_shape_tokens_and_rows(tiny_classifier):
    maps = attention_maps(tiny_classifier, REVIEW)
    tokens = tiny_classifier.tokenize([REVIEW]).tokens[0]
    config = tiny_classifier.model.config
    assert maps.tokens == tuple(tokens) == tiny_classifier.align(REVIEW).tokens
    assert maps.attentions.shape == (config.num_hidden_layers, config.num_attention_heads, len(tokens), len(tokens))
    np.testing.assert_allclose(maps.attentions.sum(axis=-1), 1.0, atol=1e-5)
    assert maps.head_mean().shape == (maps.n_layers, len(tokens), len(tokens))


def test_raw_attention_is_the_cls_row_of_a_layer(tiny_classifier):
    maps = attention_maps(tiny_classifier, REVIEW)
    last = explain(tiny_classifier, REVIEW, method="attention")
    first = explain(tiny_classifier, REVIEW, method="attention", layer=0)
    np.testing.assert_allclose(last.token_scores, maps.attentions[-1].mean(axis=0)[0], atol=1e-7)
    np.testing.assert_allclose(first.token_scores, maps.attentions[0].mean(axis=0)[0], atol=1e-7)
    assert last.token_scores.sum() == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(first.token_scores, last.token_scores)
    assert last.diagnostics["class_specific"] is False
    other = explain(tiny_classifier, REVIEW, method="attention", target="1 star", contrast="5 stars")
    np.testing.assert_array_equal(other.token_scores, last.token_scores)  # class-agnostic


def test_raw_attention_rejects_a_missing_layer(tiny_bert):
    with pytest.raises(UserError, match="2 layers"):
        explain(tiny_bert, REVIEW, method="attention", layer=2)


def test_rollout_rows_sum_to_one(tiny_classifier):
    rollout = rollout_matrix(attention_maps(tiny_classifier, REVIEW).attentions)
    np.testing.assert_allclose(rollout.sum(axis=1), 1.0, atol=1e-10)
    assert np.all(rollout >= 0)
    exp = explain(tiny_classifier, REVIEW, method="rollout")
    np.testing.assert_allclose(exp.token_scores, rollout[0], atol=1e-12)
    assert exp.token_scores.sum() == pytest.approx(1.0, abs=1e-10)


def test_rollout_formula_by_hand():
    rng = np.random.default_rng(0)
    raw = rng.random((2, 3, 4, 4))  # two layers, three heads, rows not yet normalised
    attentions = raw / raw.sum(axis=-1, keepdims=True)
    eye = np.eye(4)
    a1 = 0.5 * attentions[0].mean(axis=0) + 0.5 * eye
    a2 = 0.5 * attentions[1].mean(axis=0) + 0.5 * eye
    np.testing.assert_allclose(rollout_matrix(attentions), a2 @ a1, atol=1e-12)  # first layer on the right
    assert not np.allclose(a2 @ a1, a1 @ a2)  # the order matters for this example
    np.testing.assert_allclose(rollout_matrix(np.broadcast_to(eye, (3, 2, 4, 4))), eye)  # identity attention
    with pytest.raises(ValueError, match="layers, heads, seq, seq"):
        rollout_matrix(attentions[0])


def _chefer_by_hand(clf, text: str, target: int) -> np.ndarray:
    """The recurrence of Chefer et al. 2021 written independently: backward() + retain_grad() on the HF model."""
    enc = clf.tokenizer([text], return_tensors="pt")
    inputs = {k: v for k, v in enc.items() if k != "token_type_ids" or clf.has_token_types}
    out = clf.model(**inputs, output_attentions=True)
    for attention in out.attentions:
        attention.retain_grad()
    clf.model.zero_grad()
    out.logits[0, target].backward()
    clf.model.zero_grad()
    n = enc["input_ids"].shape[1]
    relevance = torch.eye(n)
    for attention in out.attentions:
        cam = (attention.grad[0] * attention[0]).clamp(min=0).mean(dim=0)
        relevance = relevance + cam @ relevance
    return relevance.detach().numpy()


def test_grad_attn_matches_the_recurrence(tiny_classifier):
    relevance = relevance_matrix(tiny_classifier, REVIEW, Target.of_label(3))
    np.testing.assert_allclose(relevance, _chefer_by_hand(tiny_classifier, REVIEW, 3), rtol=1e-4, atol=1e-9)
    tiny_classifier.model.zero_grad(set_to_none=True)
    exp = explain(tiny_classifier, REVIEW, method="grad_attn", target=3)
    expected = relevance[0].copy()
    expected[0] -= 1.0  # the identity's starting relevance of [CLS] is not credited
    np.testing.assert_allclose(exp.token_scores, expected, atol=1e-12)
    assert np.all(exp.token_scores >= 0) and np.any(exp.word_scores > 0)
    assert all(p.grad is None for p in tiny_classifier.model.parameters())  # no side effect on the model


def test_grad_attn_depends_on_the_target(tiny_classifier):
    one = explain(tiny_classifier, REVIEW, method="grad_attn", target="1 star")
    five = explain(tiny_classifier, REVIEW, method="grad_attn", target="5 stars")
    gap = np.abs(one.token_scores - five.token_scores).max()
    assert gap > 0.05 * max(np.abs(one.token_scores).max(), np.abs(five.token_scores).max())
    contrast = explain(tiny_classifier, REVIEW, method="grad_attn", target="5 stars", contrast="1 star")
    assert not np.allclose(contrast.token_scores, five.token_scores, rtol=0.01, atol=0)
    assert contrast.diagnostics["class_specific"] is True
