"""The answer first: one line saying what the model predicted, how sure it is, which words drove it and how
that was found ("2 stars (2.3 expected), close call: 1 star only 0.004 behind · died, never · occlusion 0.21 s").

A close call is a prediction whose two most probable labels are within `CLOSE_CALL_MARGIN` of each other:
its explanation answers a near coin-flip, and the reader should know.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explain.corpus import content_top_words, label_stars
from explain.explanation import Explanation

CLOSE_CALL_MARGIN = 0.05
N_WORDS = 3


def expected_stars(labels: Sequence[str], probabilities: np.ndarray) -> float | None:
    """Sum of stars x probability when every label names its stars ("1 star" .. "5 stars"), else None."""
    stars = label_stars(labels)
    if any(s is None for s in stars):
        return None
    return float(np.asarray(probabilities, dtype=np.float64) @ np.asarray(stars, dtype=np.float64))


def is_close_call(probabilities: np.ndarray, margin: float = CLOSE_CALL_MARGIN) -> bool:
    """True when the two most probable labels are within `margin` of each other."""
    p = np.sort(np.asarray(probabilities, dtype=np.float64))[::-1]
    return len(p) > 1 and float(p[0] - p[1]) <= margin


@dataclass(frozen=True)
class Answer:
    """What the model predicted for one review and what drove it, ready to be said in one line."""

    labels: tuple[str, ...]
    probabilities: np.ndarray
    expected: float | None  # expected stars (None when the labels are not star ratings)
    words: tuple[str, ...]  # the words pushing most toward the prediction (punctuation and stopwords left out)
    method: str | None  # which explanation found them
    seconds: float | None  # and how long it took

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def runner_up(self) -> int:
        return int(np.argsort(-self.probabilities, kind="stable")[1])

    @property
    def margin(self) -> float:
        return float(self.probabilities[self.predicted] - self.probabilities[self.runner_up])

    @property
    def close_call(self) -> bool:
        return is_close_call(self.probabilities)

    def parts(self) -> dict[str, str]:
        """The line's pieces: rating, certainty (close call or not), words, method."""
        label = self.labels[self.predicted]
        rating = label if self.expected is None else f"{label} ({self.expected:.1f} expected)"
        if self.close_call:
            certainty = (
                f"close call: {self.labels[self.runner_up]} is only {self.margin:.3f} behind "
                f"({self.probabilities[self.predicted]:.2f} vs {self.probabilities[self.runner_up]:.2f})"
            )
        else:
            certainty = f"probability {self.probabilities[self.predicted]:.2f}"
        words = ", ".join(self.words) if self.words else "no single word stands out"
        how = "" if self.method is None else self.method + ("" if self.seconds is None else f", {self.seconds:.2f} s")
        return {"rating": rating, "certainty": certainty, "words": words, "method": how}

    def sentence(self) -> str:
        p = self.parts()
        line = f"{p['rating']}, {p['certainty']}; driven by {p['words']}"
        return line + (f" ({p['method']})" if p["method"] else "")


def answer(
    labels: Sequence[str], probabilities: np.ndarray, explanation: Explanation | None = None, k: int = N_WORDS
) -> Answer:
    """The answer for one review: its probabilities, and the top words of `explanation` (of the prediction)."""
    probs = np.asarray(probabilities, dtype=np.float64)
    words: tuple[str, ...] = ()
    if explanation is not None:
        words = tuple(w for w, s in content_top_words(explanation, k * 3) if s > 0)[:k]
    return Answer(
        labels=tuple(labels),
        probabilities=probs,
        expected=expected_stars(labels, probs),
        words=words,
        method=None if explanation is None else explanation.method,
        seconds=None if explanation is None else explanation.diagnostics.get("seconds"),
    )
