"""The one-line answer (explain.answer): rating, close-call flag, consensus words, method and time."""

from __future__ import annotations

import numpy as np
import pytest

from explain.answer import answer
from explain.methods import explain
from explain.metrics.consensus import CLOSE_CALL, close_call

LABELS = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")


def near_ties(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n probability vectors whose top two labels are within the margin, and n whose are not."""
    rng = np.random.default_rng(seed)
    tied, clear = [], []
    while len(tied) < n or len(clear) < n:
        p = rng.dirichlet(np.ones(5))
        top = np.sort(p)[::-1]
        gap = top[0] - top[1]
        if gap <= CLOSE_CALL and len(tied) < n:
            tied.append(p)
        elif gap > CLOSE_CALL + 1e-9 and len(clear) < n:
            clear.append(p)
    return np.array(tied), np.array(clear)


def test_close_calls_are_flagged_in_every_near_tie():
    tied, clear = near_ties(300)
    assert all(close_call(p, LABELS) for p in tied)  # 100 % of near ties flagged
    assert not any(close_call(p, LABELS) for p in clear)


def test_the_answer_line_says_rating_close_call_words_and_method(tiny_bert):
    text = "I hate very cold, and cloudy winter days"
    occlusion = explain(tiny_bert, text, method="occlusion")
    ig = explain(tiny_bert, text, method="ig", n_steps=8)
    probs = tiny_bert.predict_proba([text])[0]
    a = answer([occlusion, ig], tiny_bert.rating_unit)
    assert a.predicted == int(probs.argmax())
    assert a.expected == pytest.approx(float(probs @ np.arange(1, 6)))
    line = a.sentence()
    assert line.startswith(f"{LABELS[a.predicted]} ({a.expected:.1f} stars expected) · ")
    seconds = occlusion.diagnostics["seconds"] + ig.diagnostics["seconds"]
    assert line.endswith(f" · occlusion, ig, {seconds:.2f} s")
    assert (a.close_call is not None) == ("close call" in line)
    assert "close call" not in a.words  # said once, as the flag
    assert "lowered the rating" in a.words or "raised the rating" in a.words or "disagree" in a.words


def test_a_close_call_is_the_line_s_flag(tiny_bert):
    text = "fine"
    exp = explain(tiny_bert, text, method="occlusion")
    tied = np.array([0.30, 0.02, 0.03, 0.32, 0.33])
    from dataclasses import replace

    a = answer([replace(exp, probabilities=tied)], "stars")
    assert a.close_call == "close call: 5 stars 0.33 nearly tied with 4 stars 0.32"
    assert a.sentence().startswith("5 stars (3.4 stars expected) · close call: 5 stars 0.33 nearly tied")


def test_one_method_is_named_not_counted(tiny_bert):
    """With one method there is no agreement to count: the line names it ("occlusion: ..."), never "1 of 1"."""
    exp = explain(tiny_bert, "I hate very cold, and cloudy winter days", method="occlusion")
    words = answer([exp], tiny_bert.rating_unit).words
    assert words.startswith("occlusion: *") and " of 1 " not in words
