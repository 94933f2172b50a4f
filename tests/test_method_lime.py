"""LIME: word split agrees with our words, one engine call, removal modes, every label, seeds, a one-word model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from fakes import KeywordClassifier

from explain.classifier import Classifier
from explain.methods import explain
from explain.methods.lime import word_splitter

REVIEW = "The battery died after two days, what a waste of money."
AWKWARD = [
    "It's not bad, but I wouldn't buy it again.",
    "good good bad good good",
    "I ❤️ this 👍🏽 phone!!",
    "<script>alert('x')</script> bad <b>bold</b>",
    "Café   naïve\t\tresumé\n\nok...!!! ;-)",
    "e-mail @user #tag $5.99 50% don't don't",
]


@pytest.mark.parametrize("text", AWKWARD)
def test_lime_words_are_our_words(tiny_classifier, text):
    """Masking LIME's word i replaces exactly our word i's characters (punctuation, apostrophes, repeats, emoji)."""
    from lime.lime_text import IndexedString

    alignment = tiny_classifier.align(text)
    mask = tiny_classifier.tokenizer.mask_token
    indexed = IndexedString(text, split_expression=word_splitter(text, alignment), bow=False, mask_string=mask)
    assert indexed.num_words() == len(alignment.words)
    for i, (start, end) in enumerate(alignment.word_offsets):
        assert indexed.inverse_removing([i]) == text[:start] + mask + text[end:]


def test_repeated_words_are_separate_features(tiny_bert):
    exp = explain(tiny_bert, "good good bad good", method="lime", num_samples=200)
    assert exp.words == ("good", "good", "bad", "good")
    assert len(set(np.round(exp.word_scores, 12))) == 4  # one coefficient per position, not per word type


def test_finds_the_one_word_that_matters(tiny_bert):
    keyword = KeywordClassifier(tiny_bert.model, tiny_bert.tokenizer, name="keyword")
    exp = explain(keyword, "Great sound, terrible price, honestly!", method="lime", target="5 stars", num_samples=500)
    hit = exp.words.index("terrible")
    assert 0.3 < exp.word_scores[hit] <= 0.4
    assert np.abs(np.delete(exp.word_scores, hit)).max() < 0.02
    assert exp.diagnostics["score"] > 0.9
    # every label is fitted: the other labels fall by 0.1 when the word goes
    np.testing.assert_allclose(
        exp.label_token_scores[exp.tokens.index("terrible"), :4], -exp.word_scores[hit] / 4, atol=0.01
    )


def test_samples_go_to_the_engine_in_one_call(tiny_bert, monkeypatch):
    """One predict_proba call for every sample, so the engine de-duplicates across all of them."""
    sizes: list[int] = []
    real = tiny_bert.predict_proba

    def recording(texts):
        texts = list(texts)  # LIME's samples come as a stream (a generator): read it here to count them
        sizes.append(len(texts))
        return real(texts)

    monkeypatch.setattr(tiny_bert, "predict_proba", recording)
    exp = explain(tiny_bert, "great phone, awful battery", method="lime", num_samples=300)
    assert 300 in sizes and sum(s for s in sizes if s > 1) == 300
    # 5 words have 2**5 - 1 = 31 subsets with at least one word kept (plus the empty text): far fewer than 300
    assert exp.diagnostics["model_evaluations"] <= 2**5 + 2


@pytest.mark.parametrize("mode", ["delete", "mask"])
def test_mode_deletes_or_masks_words(tiny_bert, monkeypatch, mode):
    seen: list[str] = []
    real = tiny_bert.predict_proba

    def recording(texts):
        texts = list(texts)  # a stream of LIME's samples
        seen.extend(texts)
        return real(texts)

    monkeypatch.setattr(tiny_bert, "predict_proba", recording)
    exp = explain(tiny_bert, REVIEW, method="lime", num_samples=50, mode=mode)
    assert exp.diagnostics["mode"] == mode
    variants = [t for t in seen if t != REVIEW]
    assert variants and all(len(t) < len(REVIEW) for t in variants) == (mode == "delete")
    assert any(tiny_bert.tokenizer.mask_token in t for t in variants) == (mode == "mask")


def test_bad_mode_is_a_user_error(tiny_bert):
    from explain.errors import UserError

    with pytest.raises(UserError, match="removal mode"):
        explain(tiny_bert, REVIEW, method="lime", num_samples=50, mode="blank")


def test_seed_makes_it_reproducible(tiny_bert):
    a = explain(tiny_bert, REVIEW, method="lime", num_samples=200, seed=3)
    b = explain(tiny_bert, REVIEW, method="lime", num_samples=200, seed=3)
    c = explain(tiny_bert, REVIEW, method="lime", num_samples=200, seed=4)
    np.testing.assert_array_equal(a.label_token_scores, b.label_token_scores)
    assert np.abs(a.word_scores - c.word_scores).max() > 0


def test_every_label_contrast_and_diagnostics(tiny_bert):
    exp = explain(tiny_bert, REVIEW, method="lime", target="5 stars", contrast="1 star", num_samples=200)
    words = np.array([exp.label_token_scores[exp.alignment.word_tokens(w)].sum(axis=0) for w in range(len(exp.words))])
    assert np.all(np.abs(words).max(axis=0) > 0)  # every label has coefficients
    np.testing.assert_allclose(exp.word_scores, words[:, 4] - words[:, 0], atol=1e-12)
    intercepts = np.asarray(exp.diagnostics["intercepts"])
    assert exp.diagnostics["intercept"] == pytest.approx(intercepts[4] - intercepts[0], abs=1e-12)
    local_pred = exp.diagnostics["intercept"] + exp.word_scores.sum()  # every word kept: all-ones sample
    assert exp.diagnostics["local_pred"] == pytest.approx(local_pred, abs=1e-9)
    alone = explain(tiny_bert, REVIEW, method="lime", target="5 stars", num_samples=200)
    np.testing.assert_allclose(alone.word_scores, words[:, 4], atol=1e-12)  # same samples, same fit
    assert alone.diagnostics["score"] <= 1.0


def test_long_text_explains_what_the_model_sees(tiny_bert):
    text = "great battery, awful screen. " * 60
    truncate = Classifier(tiny_bert.model, tiny_bert.tokenizer, long="truncate")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp = explain(truncate, text, method="lime", num_samples=100)
    assert exp.diagnostics["truncated"] is True
    assert len(exp.tokens) == tiny_bert.max_length and len(exp.words) == len(exp.word_scores) < 60 * 6


def test_long_text_is_read_whole_with_sentences_as_features(tiny_bert):
    text = "great battery, awful screen. " * 60  # 360 words: above 300, sentences are LIME's features
    exp = explain(tiny_bert, text, method="lime", num_samples=100)
    assert exp.diagnostics["truncated"] is False and exp.diagnostics["unit"] == "sentence"
    assert exp.diagnostics["units"] == 60 and len(exp.words) == 60 * 6
    per_sentence = exp.word_scores.reshape(60, 6)
    np.testing.assert_allclose(per_sentence, per_sentence[:, :1].repeat(6, axis=1))  # a unit's score, evenly


@pytest.mark.parametrize("mode", ["delete", "mask"])
def test_equals_lime_text_explainer_with_a_plain_predict(tiny_bert, mode):
    """Our adapter is LimeTextExplainer (same words, removal, seed); only the model calls go through the engine."""
    import copy

    import torch
    from lime.lime_text import LimeTextExplainer

    from explain.classifier import Classifier
    from explain.words import removal_string

    model = copy.deepcopy(tiny_bert.model)  # weights redrawn at std 0.2: outputs that move with the words
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in (p for p in model.parameters() if p.dim() == 2):
            weight.normal_(0.0, 0.2, generator=generator)
    clf = Classifier(model, tiny_bert.tokenizer, name="tiny-bert (std 0.2)")

    def plain_predict(texts):
        enc = clf.tokenizer(list(texts), padding=True, return_tensors="pt")
        with torch.no_grad():
            return torch.softmax(clf.model(**enc).logits, dim=-1).numpy()

    ours = explain(clf, REVIEW, method="lime", target="5 stars", num_samples=300, mode=mode)
    reference = LimeTextExplainer(
        class_names=list(clf.labels),
        split_expression=word_splitter(REVIEW, ours.alignment),
        bow=False,
        mask_string=removal_string(clf.tokenizer, mode),
        feature_selection="none",
        random_state=0,
    )
    result = reference.explain_instance(
        REVIEW, plain_predict, labels=[4], num_features=len(ours.words), num_samples=300
    )
    theirs = np.zeros(len(ours.words))
    for word, weight in result.local_exp[4]:
        theirs[word] = weight
    assert np.abs(theirs).max() > 0.01
    np.testing.assert_allclose(ours.word_scores, theirs, atol=1e-5)
