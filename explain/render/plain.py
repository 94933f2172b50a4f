"""Plain-text lines shared by the terminal, HTML reports and the dashboard (no rich, no HTML)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def answer_line(labels: Sequence[str], probabilities: np.ndarray, label_values=None, unit: str = "stars") -> str:
    """ "1.6 stars expected (most likely 2 stars, 0.49)", plus a close-call flag when the top two are within 0.05."""
    from explain.labels import expected_rating, format_rating
    from explain.metrics.consensus import close_call

    top = int(np.argmax(probabilities))
    line = f"most likely {labels[top]}, {probabilities[top]:.2f}"
    if label_values is not None:
        rating = expected_rating(probabilities, label_values)
        line = f"{format_rating(rating, unit)} expected ({line})"
    flag = close_call(probabilities, labels)
    return f"{line}; {flag}" if flag else line


def score_text(score: float, unit: str) -> str:
    """A signed score with its unit: "-0.90 stars", "+0.012 probability"."""
    digits = 2 if unit in ("stars", "logit") else 3
    return f"{score:+.{digits}f} {unit}".rstrip()


def top_sentences(explanation, limit: int = 3) -> list[tuple[str, str]]:
    """The sentences that moved the explained output most, as (signed score with unit, sentence); none for a
    class-agnostic explanation or a one-sentence text."""
    if not explanation.class_specific:
        return []
    ranked = explanation.top_sentences(None)  # every sentence, computed once
    if len(ranked) < 2:
        return []
    return [(score_text(score, explanation.unit), text) for text, score in ranked if score][:limit]
