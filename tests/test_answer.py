"""The one-line answer (explain.answer): rating, close-call flag, words, method."""

from __future__ import annotations

import numpy as np
import pytest

from explain.answer import CLOSE_CALL_MARGIN, answer, expected_stars, is_close_call
from explain.methods import explain

LABELS = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")


def near_ties(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n probability vectors whose top two labels are within the margin, and n whose are not."""
    rng = np.random.default_rng(seed)
    tied, clear = [], []
    while len(tied) < n or len(clear) < n:
        p = rng.dirichlet(np.ones(5))
        top = np.sort(p)[::-1]
        gap = top[0] - top[1]
        if gap <= CLOSE_CALL_MARGIN and len(tied) < n:
            tied.append(p)
        elif gap > CLOSE_CALL_MARGIN + 1e-9 and len(clear) < n:
            clear.append(p)
    return np.array(tied), np.array(clear)


def test_close_calls_are_flagged_in_every_near_tie():
    tied, clear = near_ties(300)
    assert all(is_close_call(p) for p in tied)  # 100 % of near ties flagged
    assert not any(is_close_call(p) for p in clear)
    assert is_close_call(np.array([0.488, 0.484, 0.01, 0.01, 0.008]))  # the 2 stars vs 1 star


def test_the_answer_line_says_rating_close_call_words_and_method(tiny_bert):
    text = "I hate very cold, and cloudy winter days"
    exp = explain(tiny_bert, text, method="occlusion")
    probs = tiny_bert.predict_proba([text])[0]
    a = answer(tiny_bert.labels, probs, exp)
    assert a.predicted == int(probs.argmax())
    assert a.expected == pytest.approx(float(probs @ np.arange(1, 6)))
    positive = [w for w, s in zip(exp.words, exp.word_scores, strict=True) if s > 0 and w.isalpha()]
    assert set(a.words) <= set(positive) and len(a.words) <= 3
    line = a.sentence()
    assert line.startswith(f"{LABELS[a.predicted]} ({a.expected:.1f} expected), ")
    assert f"(occlusion, {exp.diagnostics['seconds']:.2f} s)" in line
    assert ("close call" in line) == a.close_call
    tie = answer(LABELS, np.array([0.30, 0.02, 0.03, 0.32, 0.33]))
    assert tie.close_call and tie.runner_up == 3 and tie.margin == pytest.approx(0.01)
    assert tie.sentence().startswith("5 stars (3.4 expected), close call: 4 stars is only 0.010 behind (0.33 vs 0.32)")
    assert expected_stars(("neg", "pos"), np.array([0.5, 0.5])) is None
