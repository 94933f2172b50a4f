"""The answer first: one line saying what the model predicted, how sure it is, which words drove it and how
that was found ("1 star (1.6 stars expected) · close call: ... · *died* and *never* lowered the rating ·
occlusion 0.21 s").

The words are the consensus of the given explanations (`explain.metrics.consensus`); the close-call flag
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

    def sentence(self) -> str:
        p = self.parts()
        return f"{p['rating']} · {p['certainty']} · {p['words']}" + (f" · {p['method']}" if p["method"] else "")


def answer(explanations: Sequence[Explanation], rating_unit: str = "") -> Answer:
    """The answer for one review from one or more explanations of it (same text, same question)."""
    if not explanations:
        raise ValueError("the answer needs at least one explanation of the review")
    first = explanations[0]
    agreed: Consensus = consensus(explanations)
    return Answer(
        labels=tuple(first.labels),
        probabilities=np.asarray(first.probabilities, dtype=np.float64),
        expected=first.expected_rating,
        rating_unit=rating_unit,
        close_call=close_call(first.probabilities, first.labels),
        words=replace(agreed, close_call=None).sentence,
        methods=tuple(e.method for e in explanations),
        seconds=float(sum(e.diagnostics.get("seconds", 0.0) for e in explanations)),
    )
