"""What-if: how an edit changes the prediction, and the smallest change that moves the predicted stars.

`compare_edit` scores a review and an edited version of it together and lists the word diff.
`smallest_change` proposes words to remove in the order an explanation of the predicted label ranks
them (the words that push hardest toward it first), tries every combination of 1, 2, ... of the top
candidates with the model, and returns the fewest removed words that change the predicted label,
as verified by `predict_proba`, or None when no combination within the budget does.
"""

from __future__ import annotations

import difflib
import itertools
from dataclasses import dataclass

import numpy as np

from explain.classifier import Classifier
from explain.corpus import word_key
from explain.explanation import Explanation
from explain.words import regex_words, remove_words

MAX_CANDIDATES = 8  # words, taken from the top of the explanation's ranking
MAX_REMOVED = 4  # at most this many words removed together (C(8,4) = 70 texts for the largest size)


@dataclass(frozen=True)
class Prediction:
    """The model's answer for one text: label index, probabilities and expected stars (None without stars)."""

    text: str
    label: int
    probabilities: np.ndarray
    expected_stars: float | None  # expected rating (label values x probabilities)


def predictions(classifier: Classifier, texts: list[str]) -> list[Prediction]:
    """Predictions for several texts from one `predict_proba` call."""
    probs = classifier.predict_proba(texts)
    values = classifier.label_values
    return [
        Prediction(t, int(np.argmax(p)), p, None if values is None else float(p @ np.asarray(values)))
        for t, p in zip(texts, probs, strict=True)
    ]


@dataclass(frozen=True)
class WhatIf:
    """A review before and after an edit, with the word diff (("-" | "+" | " ", word), ...)."""

    before: Prediction
    after: Prediction
    diff: tuple[tuple[str, str], ...]

    @property
    def label_changed(self) -> bool:
        return self.before.label != self.after.label

    @property
    def removed(self) -> tuple[str, ...]:
        return tuple(w for op, w in self.diff if op == "-")

    @property
    def added(self) -> tuple[str, ...]:
        return tuple(w for op, w in self.diff if op == "+")


def word_diff(before: str, after: str) -> tuple[tuple[str, str], ...]:
    """Word-level diff: (" ", word) kept, ("-", word) removed, ("+", word) added, in reading order."""
    a = [before[s:e] for s, e in regex_words(before)]
    b = [after[s:e] for s, e in regex_words(after)]
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out += [(" ", w) for w in a[i1:i2]]
        else:
            out += [("-", w) for w in a[i1:i2]] + [("+", w) for w in b[j1:j2]]
    return tuple(out)


def compare_edit(classifier: Classifier, text: str, edited: str) -> WhatIf:
    """The prediction for `text` and for `edited` (one model call), and what changed in the words."""
    before, after = predictions(classifier, [text, edited])
    return WhatIf(before, after, word_diff(text, edited))


@dataclass(frozen=True)
class SmallestChange:
    """The fewest words whose removal changes the predicted label, verified with the model."""

    removed: tuple[int, ...]  # word indices in the explanation
    words: tuple[str, ...]
    before: Prediction
    after: Prediction  # the model's prediction for the edited text
    texts_tried: int

    @property
    def text(self) -> str:
        return self.after.text

    def sentence(self, labels: tuple[str, ...]) -> str:
        """'without *died* and *never*: 3 stars (2.9 expected)'."""
        names = [f"*{w}*" for w in self.words]
        listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        expected = "" if self.after.expected_stars is None else f" ({self.after.expected_stars:.1f} expected)"
        return f"without {listed}: {labels[self.after.label]}{expected}"


def removal_candidates(explanation: Explanation, k: int = MAX_CANDIDATES) -> list[int]:
    """Word indices to try removing: the words pushing hardest toward the explained label, no punctuation."""
    order = np.argsort(-explanation.word_scores, kind="stable")
    picked = [int(i) for i in order if explanation.word_scores[i] > 0 and word_key(explanation.words[i]) is not None]
    return picked[:k]


def smallest_change(
    classifier: Classifier,
    explanation: Explanation,
    *,
    max_candidates: int = MAX_CANDIDATES,
    max_removed: int = MAX_REMOVED,
) -> SmallestChange | None:
    """The fewest words (from the explanation's top candidates) whose removal changes the predicted label.

    For n = 1, 2, ... `max_removed`, every set of n candidates is scored by the model in one call; the
    first n where some set changes the label wins, and among those sets the one that leaves the least
    probability on the original label. None when no set within the budget changes the label.
    """
    text = explanation.text
    offsets = explanation.alignment.word_offsets
    (before,) = predictions(classifier, [text])
    if explanation.explains != "label" or explanation.target != before.label or explanation.contrast is not None:
        raise ValueError(
            "smallest_change needs an explanation of the predicted label (explain(..., target='predicted'))"
        )
    candidates = removal_candidates(explanation, max_candidates)
    tried = 0
    for n in range(1, min(max_removed, len(candidates)) + 1):
        sets = list(itertools.combinations(candidates, n))
        texts = [remove_words(text, sorted(offsets[i] for i in chosen)) for chosen in sets]
        results = predictions(classifier, texts)
        tried += len(texts)
        changed = [(r.probabilities[before.label], chosen, r) for chosen, r in zip(sets, results, strict=True)]
        changed = [c for c in changed if c[2].label != before.label]
        if changed:
            _, chosen, after = min(changed, key=lambda c: c[0])
            ordered = tuple(sorted(chosen))
            return SmallestChange(ordered, tuple(explanation.words[i] for i in ordered), before, after, tried)
    return None
