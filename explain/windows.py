"""Sliding windows: how a text longer than the model's maximum is read whole, and how its windows are combined.

A text whose tokens (special tokens excluded) do not fit in the model is split into overlapping
windows of at most `size` content tokens; each window gets the model's own special tokens ([CLS] ...
[SEP], <s> ... </s>) and is classified like a short text. `plan_windows` chooses the windows greedily,
left to right: the next window starts between half a stride and a stride (default: half a window)
after the previous one, at the last sentence start in that range, else at the last word start, else
at exactly one stride. So every window starts on a word boundary (a sentence boundary where one is near),
consecutive windows overlap by at least `size - stride` tokens, and the windows cover every token.

Because a start depends only on the tokens between the previous start and one stride after it,
deleting a sentence from a long text leaves every window before it unchanged, and the windows after it
fall back onto the same sentence starts as soon as a stride no longer reaches across the deletion;
the engine evaluates each distinct window once per call, so perturbation methods pay mostly for the
windows their change touches.

Aggregation rule (`window_weights`): the text's probabilities are the weighted mean of its windows'
probabilities, a window's weight being the number of tokens it *owns*: each token is owned by the
window containing it whose centre is nearest (ties: the earlier window), so every token of the text
counts exactly once, whatever the overlap. Weights sum to 1. The aggregate is linear in the windows'
probabilities, so the expected rating (linear in the probabilities) of a long text is the same
weighted mean of its windows' ratings, and gradient methods combine their windows' token scores with
the same weights (the gradient of the aggregate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LONG_MODES = ("windows", "truncate")  # what the engine does with a text longer than the model's maximum
SENTENCE_END = ".!?"


@dataclass(frozen=True)
class Window:
    """One window of a long text: content tokens [start, end) (specials excluded) and its aggregation weight."""

    start: int
    end: int
    weight: float

    @property
    def n_tokens(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, eq=False)
class WindowedText:
    """A long text as the engine reads it: its content token ids and offsets (no specials) and its windows."""

    ids: list[int]
    offsets: list[tuple[int, int]]
    windows: tuple[Window, ...]


def window_positions(window: Window, n_before: int, n_after: int, n_content: int) -> np.ndarray:
    """Where a window's tokens (its specials included) sit in the whole text's tokens ([CLS] all tokens [SEP])."""
    return np.concatenate(
        [
            np.arange(n_before),
            n_before + np.arange(window.start, window.end),
            n_before + n_content + np.arange(n_after),
        ]
    )


def token_boundaries(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Per content token: does a word start with it, and does a sentence start with it?

    A word starts at a token when whitespace precedes it or the character before it is not a letter
    or digit (or the token itself does not begin with one); a sentence starts at a word start that
    follows `.`, `!` or `?` or a line break.
    """
    n = len(offsets)
    word = np.zeros(n, dtype=bool)
    sentence = np.zeros(n, dtype=bool)
    for i, (start, _) in enumerate(offsets):
        if i == 0:
            word[i] = sentence[i] = True
            continue
        prev_end = offsets[i - 1][1]
        gap = text[prev_end:start]
        first = text[start : start + 1]
        before = text[prev_end - 1 : prev_end] if prev_end > 0 else ""
        word[i] = bool(gap) or not (first.isalnum() and before.isalnum())
        if word[i]:
            sentence[i] = "\n" in gap or (before in SENTENCE_END and before != "")
    return word, sentence


def plan_windows(
    word_start: np.ndarray, sentence_start: np.ndarray, size: int, stride: int | None = None
) -> list[Window]:
    """Overlapping windows of at most `size` tokens covering all `len(word_start)` tokens (see the module doc)."""
    n = len(word_start)
    if size < 2:
        raise ValueError(f"a window needs at least 2 tokens (got {size})")
    stride = max(1, min(stride or size // 2, size))
    spans: list[tuple[int, int]] = []
    start = 0
    while start + size < n:
        spans.append((start, start + size))
        lo, hi = start + max(1, stride // 2), start + stride
        start = _last_true(sentence_start, lo, hi)
        if start is None:
            start = _last_true(word_start, lo, hi)
        if start is None:
            start = hi
    spans.append((start, n))
    weights = window_weights(spans, n)
    return [Window(s, e, float(w)) for (s, e), w in zip(spans, weights, strict=True)]


def _last_true(flags: np.ndarray, lo: int, hi: int) -> int | None:
    """The largest index i in [lo, hi] with flags[i], or None."""
    hits = np.flatnonzero(flags[lo : hi + 1])
    return int(lo + hits[-1]) if len(hits) else None


def window_weights(spans: Sequence[tuple[int, int]], n_tokens: int) -> np.ndarray:
    """Each window's share of the text: the tokens it owns (nearest window centre) over all tokens.

    Windows come in order and overlap, so ownership passes from one window to the next at the midpoint
    of their centres (a token exactly between them stays with the earlier one).
    """
    if len(spans) == 1:
        return np.ones(1)
    starts = np.array([s for s, _ in spans], dtype=np.float64)
    ends = np.array([e for _, e in spans], dtype=np.float64)
    centres = (starts + ends - 1) / 2.0
    first = np.floor((centres[:-1] + centres[1:]) / 2.0) + 1  # first token owned by windows 1..K-1
    first = np.clip(first, starts[1:], ends[:-1])
    bounds = np.concatenate([[0.0], first, [float(n_tokens)]])
    counts = np.diff(bounds)
    return counts / counts.sum()


def aggregate_windows(window_probs: np.ndarray, windows: Sequence[Window]) -> np.ndarray:
    """A long text's probabilities: its windows' probabilities (n_windows, n_labels) weighted by `Window.weight`."""
    weights = np.array([w.weight for w in windows], dtype=np.float64)
    return (weights @ np.asarray(window_probs, dtype=np.float64)).astype(np.float32)
