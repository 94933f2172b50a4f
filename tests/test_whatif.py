"""What-if edits and the smallest change (explain.whatif), on a model whose answer is known."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from explain.classifier import Classifier
from explain.methods import explain
from explain.whatif import compare_edit, removal_candidates, smallest_change, word_diff
from explain.words import remove_words

REVIEW = "Battery died in a week and support never answered."


class TwoWordClassifier(Classifier):
    """'died' and 'never' each add 0.2 to P(1 star): with either the review stays 1 star, with neither 4 stars."""

    def predict_proba(self, texts):
        texts = list(texts)
        self.texts_evaluated += len(texts)
        out = []
        for t in texts:
            neg = len(re.findall(r"\b(died|never)\b", t))
            p1, p4 = 0.2 + 0.2 * neg, 0.5 - 0.15 * neg
            rest = (1 - p1 - p4) / 3
            out.append([p1, rest, rest, p4, rest])
        return np.array(out, dtype=np.float64)


@pytest.fixture
def two_word(tiny_bert) -> Classifier:
    return TwoWordClassifier(tiny_bert.model, tiny_bert.tokenizer, name="two-word")


def test_smallest_change_needs_both_words_and_is_verified_by_the_model(two_word):
    exp = explain(two_word, REVIEW, method="occlusion", target="predicted")
    assert exp.predicted == 0
    change = smallest_change(two_word, exp)
    assert change is not None
    assert change.words == ("died", "never")
    assert change.before.label == 0 and change.after.label == 3
    probs = two_word.predict_proba([change.text])[0]  # re-checked against the model itself
    assert int(probs.argmax()) == change.after.label == 3
    np.testing.assert_allclose(change.after.probabilities, probs)
    assert "died" not in change.text and "never" not in change.text and "Battery" in change.text
    assert change.after.expected_stars == pytest.approx(float(probs @ np.arange(1, 6)))
    assert (
        change.sentence(two_word.labels)
        == f"without *died* and *never*: 4 stars ({probs @ np.arange(1, 6):.1f} expected)"
    )
    # minimal among the candidates: no single candidate word changes the label
    offsets = exp.alignment.word_offsets
    for (i,) in itertools.combinations(removal_candidates(exp), 1):
        assert two_word.predict_proba([remove_words(REVIEW, [offsets[i]])])[0].argmax() == 0


def test_the_explanation_must_be_of_the_predicted_label(two_word):
    rating = explain(two_word, REVIEW, method="occlusion")  # the default question: the expected rating
    with pytest.raises(ValueError, match="predicted label"):
        smallest_change(two_word, rating)


def test_no_change_within_the_budget_gives_none(two_word):
    exp = explain(two_word, REVIEW, method="occlusion", target="predicted")
    assert smallest_change(two_word, exp, max_removed=1) is None  # one word never suffices here


def test_compare_edit_reports_both_ratings_and_the_word_diff(two_word):
    edit = compare_edit(two_word, REVIEW, "Battery lasted a week and support never answered.")
    assert edit.before.label == 0 and edit.after.label == 0 and not edit.label_changed
    assert edit.removed == ("died", "in") and edit.added == ("lasted",)
    assert edit.after.expected_stars > edit.before.expected_stars  # one negative word fewer
    flipped = compare_edit(two_word, REVIEW, "Battery lasted a week and support always answered.")
    assert flipped.label_changed and flipped.after.label == 3
    assert word_diff("a b c", "a c d") == ((" ", "a"), ("-", "b"), (" ", "c"), ("+", "d"))
