"""What every registered method must satisfy, on BERT, DistilBERT and RoBERTa (Captum-style contract tests)."""

import json

import numpy as np
import pytest

from explain.errors import EmptyTextError, UnknownLabelError, UnknownMethodError, UserError
from explain.explanation import Explanation
from explain.methods import explain, get_method, methods

ALL = [m.name for m in methods()]
# Small budgets keep the contract fast; each method's own tests check accuracy.
FAST = {"shap": {"max_evals": 64}, "lime": {"num_samples": 64}, "ig": {"n_steps": 8}}
REVIEW = "The battery died after two days, what a waste of money."


@pytest.mark.parametrize("method", ALL)
def test_explanation_shape_and_probabilities(tiny_classifier, method):
    exp = explain(tiny_classifier, REVIEW, method=method, **FAST.get(method, {}))
    assert isinstance(exp, Explanation)
    np.testing.assert_allclose(exp.probabilities, tiny_classifier.predict_proba([REVIEW])[0], atol=1e-6)
    if get_method(method).class_specific:  # the default question of a star-rated model: the rating
        assert exp.explains == "rating" and exp.target is None and exp.question == "what moved the rating"
        assert exp.label_values == (1.0, 2.0, 3.0, 4.0, 5.0)
    else:  # attention and rollout answer no question
        assert exp.explains == "none" and exp.target is None and exp.contrast is None
        assert exp.question == "where the model looked (no direction)"
    assert len(exp.token_scores) == len(exp.tokens) and len(exp.word_scores) == len(exp.words)
    assert exp.words[:3] == ("The", "battery", "died")
    assert np.all(np.isfinite(exp.word_scores)) and np.any(exp.word_scores != 0)
    assert exp.method == get_method(method).name
    assert exp.diagnostics["seconds"] > 0 and exp.diagnostics["model_evaluations"] >= 1


def differ(a, b) -> bool:
    """More than 1 % apart (relative to the larger scores): the tiny models' scores can be ~1e-6 in size."""
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))), 1e-12)
    return float(np.max(np.abs(a - b))) > 0.01 * scale


@pytest.mark.parametrize("method", ALL)
def test_target_is_honoured(tiny_bert, method):
    """The scores themselves answer the target: not only the label `explain()` writes on them."""
    two = explain(tiny_bert, REVIEW, method=method, target="2 stars", **FAST.get(method, {}))
    five = explain(tiny_bert, REVIEW, method=method, target="5 stars", **FAST.get(method, {}))
    m = get_method(method)
    if m.class_specific:
        assert two.target == 1 and two.target_label == "2 stars" and two.explains == "label"
        assert differ(two.token_scores, five.token_scores), "the target did not change the scores"
    else:  # a question never sticks to a class-agnostic explanation, nor changes its scores
        assert two.target is None and two.explains == "none" and two.target_label is None
        np.testing.assert_allclose(two.token_scores, five.token_scores, atol=1e-9)
    if m.per_label:  # the label's own column of the per-label scores
        np.testing.assert_allclose(two.token_scores, two.label_token_scores[:, 1], atol=1e-9)
        np.testing.assert_allclose(five.token_scores, five.label_token_scores[:, 4], atol=1e-9)


@pytest.mark.parametrize("method", ALL)
def test_json_round_trip(tiny_bert, method):
    exp = explain(tiny_bert, REVIEW, method=method, **FAST.get(method, {}))
    back = Explanation.from_dict(json.loads(json.dumps(exp.to_dict())))
    assert back.to_dict() == exp.to_dict()


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize(
    "text", ["ok", "I ❤️ this 👍🏽 phone!!", "<script>alert('x')</script> bad <b>bold</b>", "great battery " * 120]
)
def test_awkward_texts(tiny_bert, method, text):
    exp = explain(tiny_bert, text, method=method, **FAST.get(method, {}))
    assert len(exp.word_scores) == len(exp.words) >= 1
    for (start, end), word in zip(exp.alignment.word_offsets, exp.words, strict=True):
        assert text[start:end] == word


@pytest.mark.parametrize("method", ALL)
def test_empty_text_is_a_user_error(tiny_bert, method):
    with pytest.raises(EmptyTextError):
        explain(tiny_bert, "  \n ", method=method)


def test_unknown_method_lists_valid_ones(tiny_bert):
    with pytest.raises(UnknownMethodError, match="occlusion"):
        explain(tiny_bert, REVIEW, method="magic")


def test_unknown_target_and_parameter(tiny_bert):
    with pytest.raises(UnknownLabelError, match="1 star"):
        explain(tiny_bert, REVIEW, method="occlusion", target="7 stars")
    with pytest.raises(UserError, match="mode"):
        explain(tiny_bert, REVIEW, method="occlusion", n_steps=3)
    with pytest.raises(UserError, match="differ"):
        explain(tiny_bert, REVIEW, method="occlusion", target="1 star", contrast="1 star")


@pytest.mark.parametrize("method", ALL)
def test_contrast_changes_the_question(tiny_bert, method):
    """A contrast is target minus contrast in the scores, not only in the question's wording."""
    exp = explain(tiny_bert, REVIEW, method=method, target="5 stars", contrast="1 star", **FAST.get(method, {}))
    alone = explain(tiny_bert, REVIEW, method=method, target="5 stars", **FAST.get(method, {}))
    m = get_method(method)
    expected = "why 5 stars rather than 1 star" if m.class_specific else "where the model looked"
    assert exp.question.startswith(expected)
    if m.per_label:
        lts = exp.label_token_scores
        np.testing.assert_allclose(exp.token_scores, lts[:, 4] - lts[:, 0], atol=1e-9)
    if m.class_specific:
        assert differ(exp.token_scores, alone.token_scores), "the contrast did not change the scores"


def test_param_parsing_for_one_method_or_every_method_that_takes_it():
    from explain.methods import parse_params

    assert parse_params(["loo.mode=mask", "max_evals=200"], ["occlusion", "shap"]) == {
        "occlusion": {"mode": "mask"},
        "shap": {"max_evals": 200},
    }
    assert parse_params(["seed=3"], ["shap", "lime"]) == {"shap": {"seed": 3}, "lime": {"seed": 3}}
    with pytest.raises(UserError, match="no such parameter"):
        parse_params(["occlusion.n_steps=3"], ["occlusion"])
    with pytest.raises(UserError, match="not among the chosen methods"):
        parse_params(["ig.n_steps=3"], ["occlusion"])
    with pytest.raises(UserError, match="NAME=VALUE"):
        parse_params(["occlusion"], ["occlusion"])


@pytest.mark.parametrize(
    "method, params, message",
    [
        ("shap", {"max_evals": "abc"}, "max_evals must be an integer"),
        ("lime", {"seed": "abc"}, "seed must be an integer"),
        ("ig", {"n_steps": 2.5}, "n_steps must be an integer"),
        ("occlusion", {"mode": 3}, "mode must be a string"),
        ("lime", {"num_sample": 10}, "no parameter num_sample"),
    ],
)
def test_wrongly_typed_or_unknown_parameters_are_user_errors(tiny_bert, method, params, message):
    with pytest.raises(UserError, match=message):
        explain(tiny_bert, "a fine phone", method=method, **params)


def test_numpy_integers_are_integers(tiny_bert):
    import numpy as np

    exp = explain(tiny_bert, "a fine phone", method="lime", num_samples=np.int64(20))
    assert exp.params["num_samples"] == 20
