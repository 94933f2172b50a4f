"""Sentences of a review, as character spans: the coarsest unit explanations are rolled up to.

A sentence ends at ".", "!", "?" or "…" (runs of them, and closing quotes or brackets after them) or at
a line break. A full stop does not end a sentence inside a number ("3.5"), after a common abbreviation
("Mr.", "e.g.", "approx.") or a single initial ("J. Smith", "U.S."); a sentence that starts right after a
full stop without a space ("great.Terrible") is still split when it starts with a capital letter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_ABBREVIATIONS = """mr mrs ms dr prof sr jr st vs etc eg e.g ie i.e approx appt apt dept est fig inc ltd co corp no nos
vol jan feb mar apr jun jul aug sep sept oct nov dec mon tue wed thu fri sat sun min max mt ft oz lb lbs incl cf al ca
resp hr hrs sec secs"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS.split())
_TERMINATOR = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*|\n+")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a text, with the sum of its words' scores (in the explanation's unit)."""

    start: int
    end: int
    text: str
    score: float = 0.0


def _word_before(text: str, end: int) -> str:
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] == "."):
        start -= 1
    return text[start:end].lower().strip(".")


def _ends_sentence(text: str, match: re.Match) -> bool:
    start, end = match.span()
    if end >= len(text) or not text[end:].strip():
        return False  # the text's own end closes the last sentence
    mark = match.group()
    if "\n" in mark or any(c in mark for c in "!?\u2026") or mark.startswith(".."):
        return True
    before = text[start - 1] if start else " "
    after = text[end]
    if before.isdigit() and after.isdigit():
        return False  # a decimal number: 3.5
    word = _word_before(text, start)
    if word in ABBREVIATIONS or all(len(part) == 1 and part.isalpha() for part in word.split(".")):
        return False  # "Mr.", "e.g.", an initial or initialism ("J.", "U.S.")
    if after.isspace():
        return True
    return after.isupper() and before.isalpha()  # "great.Terrible": a missing space


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text`, whitespace trimmed, in order; [] for a blank text."""
    cuts = [m.end() for m in _TERMINATOR.finditer(text) if _ends_sentence(text, m)]
    spans = []
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def span_totals(
    word_offsets: Sequence[tuple[int, int]], scores: Sequence[float], spans: Sequence[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the scores of the words starting inside each span, and whether each span holds any word."""
    starts = np.asarray([s for s, _ in spans])
    totals = np.zeros(len(spans))
    has_words = np.zeros(len(spans), dtype=bool)
    for (start, _), score in zip(word_offsets, scores, strict=True):
        i = int(np.searchsorted(starts, start, side="right")) - 1
        if i >= 0 and start < spans[i][1]:
            totals[i] += score
            has_words[i] = True
    return totals, has_words
