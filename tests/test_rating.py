"""The expected rating as the explained quantity: values, the default question, additivity, a known answer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import NEGATIVE_WORD

from explain import Classifier, Target, consensus, explain
from explain.errors import UserError
from explain.labels import label_values_from_names, parse_label_value
from explain.methods import get_method, methods
from explain.metrics.consensus import close_call

REVIEW = f"The screen is nice but the battery was {NEGATIVE_WORD} and support never answered."
FAST = {"shap": {"max_evals": 300}, "lime": {"num_samples": 300}, "ig": {"n_steps": 50}}
SIGNED = [m.name for m in methods() if m.signed]
CLASS_AGNOSTIC = [m.name for m in methods() if not m.class_specific]


@pytest.mark.parametrize(
    "labels, values",
    [
        (["1 star", "2 stars", "3 stars", "4 stars", "5 stars"], (1, 2, 3, 4, 5)),
        ([str(i) for i in range(1, 11)], tuple(range(1, 11))),
        (["1/5", "2/5", "3/5"], (1, 2, 3)),
        (["negative", "neutral", "positive"], (-1, 0, 1)),
        (["Very Negative", "Negative", "Neutral", "Positive", "Very Positive"], (-2, -1, 0, 1, 2)),
        (["LABEL_0", "LABEL_1"], None),
        (["sports", "politics"], None),
        (["1 star", "1 star"], None),
    ],
)
def test_label_values_are_read_from_names(labels, values):
    found = label_values_from_names(labels)
    assert found == (None if values is None else tuple(float(v) for v in values))
    assert parse_label_value("4.5 stars") == 4.5 and parse_label_value("3 out of 5") == 3.0


def test_expected_rating_is_the_sum_of_value_times_probability(tiny_bert):
    texts = ["I really loved that movie", "awful, broke in a day", "meh"]
    probs = tiny_bert.predict_proba(texts).astype(np.float64)
    np.testing.assert_allclose(tiny_bert.expected_rating(texts), probs @ np.arange(1, 6), atol=1e-9)
    trace = tiny_bert.trace(texts[0])
    assert trace.expected_rating == pytest.approx(float(probs[0] @ np.arange(1, 6)), abs=1e-5)
    assert trace.answer.startswith(f"{trace.expected_rating:.1f} stars expected (most likely ")


def test_given_label_values_and_models_without_a_rating(tiny_bert):
    given = Classifier(tiny_bert.model, tiny_bert.tokenizer, label_values="0,0,5,10,10")
    probs = given.predict_proba(["fine"]).astype(np.float64)
    assert given.expected_rating(["fine"])[0] == pytest.approx(float(probs[0] @ [0, 0, 5, 10, 10]))
    assert given.rating_unit == "" and tiny_bert.rating_unit == "stars"  # star labels on another scale: no stars
    assert explain(given, "fine", method="occlusion").unit == "rating points"
    with pytest.raises(UserError, match="2 label values given for 5 labels"):
        Classifier(tiny_bert.model, tiny_bert.tokenizer, label_values=[1, 2])
    unordered = Classifier(tiny_bert.model, tiny_bert.tokenizer)
    unordered.labels = ["sports", "politics", "tech", "food", "art"]
    unordered.label_values = None
    with pytest.raises(UserError, match="no numeric order") as info:
        unordered.expected_rating(["fine"])
    assert "\n" not in str(info.value)
    assert unordered.target(None, None, "fine") == Target.of_label(int(unordered.predict_proba(["fine"])[0].argmax()))


def test_the_rating_is_the_default_question(tiny_bert):
    assert tiny_bert.target() == Target.rating((1, 2, 3, 4, 5))
    assert tiny_bert.target("rating") == tiny_bert.target(None)
    assert tiny_bert.target("2 stars", "4 stars") == Target.of_label(1, 3)
    predicted = int(tiny_bert.predict_proba([REVIEW])[0].argmax())
    assert tiny_bert.target("predicted", None, REVIEW) == Target.of_label(predicted)
    with pytest.raises(UserError, match="contrast"):
        tiny_bert.target("rating", "4 stars")


def test_target_maps_probabilities_and_logits_alike():
    logits = torch.tensor([[0.3, -1.0, 2.0], [1.0, 0.0, -0.5]], dtype=torch.float64)
    probs = torch.softmax(logits, -1).numpy()
    rating = Target.rating((1, 2, 3))
    np.testing.assert_allclose(rating.from_logits(logits).numpy(), rating.from_proba(probs))
    contrast = Target.of_label(2, 0)
    np.testing.assert_allclose(contrast.from_proba(probs), probs[:, 2] - probs[:, 0])
    np.testing.assert_allclose(contrast.from_logits(logits).numpy(), (logits[:, 2] - logits[:, 0]).numpy())


def test_shap_stays_additive_in_stars(rated_classifier):
    exp = explain(rated_classifier, REVIEW, method="shap", max_evals=500)
    assert exp.explains == "rating" and exp.unit == "stars"
    rating = rated_classifier.expected_rating([REVIEW])[0]
    assert exp.diagnostics["fx"] == pytest.approx(rating, abs=1e-5)
    assert exp.diagnostics["base_value"] + exp.token_scores.sum() == pytest.approx(rating, abs=1e-4)
    assert exp.diagnostics["additivity_error"] <= 1e-4


def test_ig_is_complete_in_stars(rated_classifier):
    exp = explain(rated_classifier, REVIEW, method="ig", n_steps=50)
    rating = rated_classifier.expected_rating([REVIEW])[0]
    assert exp.diagnostics["fx"] == pytest.approx(rating, abs=1e-4)
    assert abs(exp.diagnostics["delta"]) <= 0.02  # stars
    assert exp.token_scores.sum() == pytest.approx(exp.diagnostics["fx"] - exp.diagnostics["base_value"], abs=0.02)


def test_the_known_negative_word_lowers_the_rating_most_for_every_signed_method(rated_classifier):
    clean = rated_classifier.expected_rating([REVIEW.replace(NEGATIVE_WORD, "fine")])[0]
    assert clean - rated_classifier.expected_rating([REVIEW])[0] > 1.0  # the model really learned it
    explanations = [explain(rated_classifier, REVIEW, method=m, **FAST.get(m, {})) for m in SIGNED]
    for exp in explanations:
        assert exp.words[int(np.argmin(exp.word_scores))] == NEGATIVE_WORD, exp.method
    answer = consensus(explanations)
    lowered = [w.word for w in answer.agreed(-1)]
    assert lowered and lowered[0] == NEGATIVE_WORD
    assert f'"{NEGATIVE_WORD}" (-' in answer.sentence and "lowered the rating" in answer.sentence


@pytest.mark.parametrize("method", CLASS_AGNOSTIC)
def test_class_agnostic_methods_never_carry_a_question(tiny_bert, method):
    for target in (None, "rating", "2 stars"):
        exp = explain(tiny_bert, REVIEW, method=method, target=target)
        assert exp.explains == "none" and exp.target is None and exp.contrast is None
        assert exp.question == "where the model looked (no direction)" and exp.target_spec is None


@pytest.mark.parametrize("method", [m.name for m in methods() if m.per_label])
def test_per_label_methods_give_the_class_scores_they_gave_before(tiny_bert, method):
    """A class question is label_token_scores[:, target] - [:, contrast], as before the rating existed."""
    rating = explain(tiny_bert, REVIEW, method=method, **FAST.get(method, {}))
    lts = rating.label_token_scores
    np.testing.assert_allclose(rating.token_scores, lts @ np.arange(1, 6), atol=1e-12)
    for target, contrast in ((1, None), (4, 0)):
        exp = rating.for_label(target, contrast)
        expected = lts[:, target] - (lts[:, contrast] if contrast is not None else 0)
        np.testing.assert_allclose(exp.token_scores, expected, atol=1e-12)
        direct = explain(tiny_bert, REVIEW, method=method, target=target, contrast=contrast, **FAST.get(method, {}))
        np.testing.assert_allclose(direct.word_scores, exp.word_scores, atol=1e-6)


def test_sentence_scores_add_up_the_words():
    exp = explain_fake("It broke. Mr. Smith at the U.S. store said 3.5 days.Terrible support! ok")
    sentences = exp.sentences
    assert [s.text for s in sentences] == [
        "It broke.",
        "Mr. Smith at the U.S. store said 3.5 days.",
        "Terrible support!",
        "ok",
    ]
    assert sum(s.score for s in sentences) == pytest.approx(exp.word_scores.sum())
    assert sentences[0].score == pytest.approx(exp.word_scores[:3].sum())  # It, broke, .


def explain_fake(text: str):
    from explain.explanation import Explanation
    from explain.words import align, regex_words

    spans = regex_words(text)
    alignment = align(text, [text[s:e] for s, e in spans], spans, [False] * len(spans))
    scores = np.arange(len(alignment.words), dtype=float) - 3
    return Explanation(
        text=text,
        model="fake",
        method="occlusion",
        labels=("1 star", "2 stars"),
        target=None,
        probabilities=np.array([0.3, 0.7]),
        alignment=alignment,
        token_scores=scores,
        word_scores=scores,
        explains="rating",
        label_values=(1, 2),
    )


def test_close_calls_are_flagged():
    labels = ["1 star", "2 stars", "3 stars"]
    assert close_call([0.484, 0.488, 0.028], labels).startswith("close call: 2 stars 0.49 nearly tied with 1 star")
    assert close_call([0.2, 0.7, 0.1], labels) is None


def test_consensus_flags_disagreement(tiny_bert):
    a = explain(tiny_bert, REVIEW, method="occlusion")
    b = a.__class__(**{**a.__dict__, "method": "shap", "word_scores": -a.word_scores, "token_scores": -a.token_scores})
    answer = consensus([a, b], floor=0.0)  # the random tiny model moves nothing by the 0.05-star floor
    assert answer.methods == ("occlusion", "shap") and answer.words
    assert all(w.disputed for w in answer.words if w.signs["occlusion"] != 0)
    assert "methods disagree on" in answer.sentence
    assert get_method("saliency").signed is False and get_method("attention").class_specific is False


def test_consensus_over_sentences_when_a_method_scored_sentences(rated_classifier):
    """With whole sentences removed, words share their sentence's score and no word stands out: the answer
    names the sentence that lowered the rating (in every method's sentence roll-up), not arbitrary words."""
    text = f"The screen is nice. The battery was {NEGATIVE_WORD} and support never answered. The sound is good."
    by_sentence = [
        explain(rated_classifier, text, method=m, units="sentence", **FAST.get(m, {})) for m in ("occlusion", "lime")
    ]
    by_word = explain(rated_classifier, text, method="ig", **FAST["ig"])
    answer = consensus([*by_sentence, by_word])
    assert answer.level == "sentence" and answer.methods == ("occlusion", "lime", "ig")
    lowered = answer.agreed(-1)
    assert lowered and lowered[0].word == f"The battery was {NEGATIVE_WORD} and support never answered."
    assert lowered[0].agreeing == 3
    assert answer.sentence.startswith(f'"The battery was {NEGATIVE_WORD} and support never answered." (-')
    assert answer.named[0].removal == pytest.approx(by_sentence[0].sentences[1].score)  # occlusion's own removal
    assert consensus([by_word]).level == "word"  # word units: the words themselves
