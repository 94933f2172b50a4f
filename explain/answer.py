"""The answer first: one line saying what the model predicted, how sure it is, which words drove it by how
much, and how that was found ('1 star (1.6 stars expected) · probability 0.62 · "died" (-0.90 stars) and
"never" (-0.41 stars) lowered the rating · occlusion, 0.21 s').

The words are the consensus of the given explanations with its noise floor (`explain.metrics.consensus`,
the one rule: a word is named only when the methods agree on its direction and it moves the output by at
least the floor, checked by removing it); below the floor the line says so ('no single word moves this
4.9-star rating by more than 0.02 stars ...'). `Answer.named` lists what the line names. The close-call flag
is consensus's too (top two probabilities within 0.05).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from explain.explanation import Explanation
from explain.labels import format_rating
from explain.metrics.consensus import Consensus, close_call, consensus


@dataclass(frozen=True)
class Answer:
    """What the model predicted for one review and what drove it, ready to be said in one line."""

    labels: tuple[str, ...]
    probabilities: np.ndarray
    expected: float | None  # expected rating (None when the labels have no values)
    rating_unit: str
    close_call: str | None  # "close call: 2 stars 0.49 nearly tied with 1 star 0.48", or None
    words: str  # the consensus sentence, without its close-call note
    methods: tuple[str, ...]
    seconds: float
    named: tuple[tuple[str, float], ...] = ()  # (word or sentence, effect in `unit`) the line names; () below the floor
    named_at: tuple[int, ...] = ()  # their word (or sentence, `level`) indices in the explanations
    level: str = "word"
    unit: str = ""  # the effects' unit ("stars", "probability")
    floor: float = 0.0  # the noise floor in that unit
    checked: bool = False  # were the named words' effects checked by removing them from the text?

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))

    def parts(self) -> dict[str, str]:
        """The line's pieces: rating, certainty (close call or not), words, method and time."""
        label = self.labels[self.predicted]
        expected = "" if self.expected is None else f" ({format_rating(self.expected, self.rating_unit)} expected)"
        certainty = self.close_call or f"probability {self.probabilities[self.predicted]:.2f}"
        how = f"{', '.join(self.methods)}, {self.seconds:.2f} s" if self.methods else ""
        return {"rating": label + expected, "certainty": certainty, "words": self.words, "method": how}

    def __repr__(self) -> str:
        return f"Answer({self.sentence()})"

    def sentence(self) -> str:
        p = self.parts()
        return f"{p['rating']} · {p['certainty']} · {p['words']}" + (f" · {p['method']}" if p["method"] else "")


def answer(explanations: Sequence[Explanation], rating_unit: str = "", *, classifier=None, removal=None) -> Answer:
    """The answer for one review from one or more explanations of it (same text, same question).

    With `classifier` (or an occlusion explanation among them, or `removal` effects given) each candidate
    word's removal effect is measured, so the line never names a word that does not move the output by the
    floor, or names it in the wrong direction.
    """
    if not explanations:
        raise ValueError("the answer needs at least one explanation of the review")
    first = explanations[0]
    agreed: Consensus = consensus(explanations, classifier=classifier, removal=removal)
    named = agreed.named
    return Answer(
        labels=tuple(first.labels),
        probabilities=np.asarray(first.probabilities, dtype=np.float64),
        expected=first.expected_rating,
        rating_unit=rating_unit,
        close_call=close_call(first.probabilities, first.labels),
        words=replace(agreed, close_call=None).sentence,
        methods=tuple(e.method for e in explanations),
        seconds=float(sum(e.diagnostics.get("seconds", 0.0) for e in explanations)),
        named=tuple((v.word, v.effect) for v in named),
        named_at=tuple(v.index for v in named),
        level=agreed.level,
        unit=agreed.unit,
        floor=agreed.floor,
        checked=agreed.checked,
    )
