"""Subword -> word grouping: which tokens make up which word of the review; and the coarser units.

A word is a run of letters/digits or a single other non-space character (`\\w+|[^\\w\\s]`), the
split BERT's pre-tokenizer makes too. Each non-special token belongs to the word holding its first
character; words that one token spans (e.g. RoBERTa's `'t`) are merged so every token sits in exactly
one word. Under `long="truncate"` words the model never sees are left out; under windows (the
default) `Classifier.align` covers the whole text. LIME is handed these
words, so perturbation methods and token methods agree on what a word is.

Units (`perturbation_units`): perturbation methods (occlusion, LIME) remove one word at a time up to
`WORD_UNITS_UP_TO` (300) words; above that, whole sentences (as `explain.sentences` splits them) up to
`SENTENCE_UNITS_UP_TO` (150) sentences; above that, `CHUNK_UNITS` (150) chunks of consecutive words
of about equal size (`units="auto"`). `units="sentence"` removes whole sentences at any length (the
question "which sentence cost stars?" asked directly), `units="word"` single words at any length. A unit's
score is spread evenly over its words, so a sentence's score is still the sum of its words' scores. The unit
used is in the explanation's diagnostics.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explain.errors import UserError
from explain.sentences import sentence_spans

WORD_PATTERN = re.compile(r"\w+|[^\w\s]")
REMOVAL_MODES = ("delete", "mask")  # how perturbation methods and metrics take a word out of a text


@dataclass(frozen=True)
class Alignment:
    """Tokens of one text, the words they form, and the map between them."""

    tokens: tuple[str, ...]
    token_offsets: tuple[tuple[int, int], ...]
    special: tuple[bool, ...]
    words: tuple[str, ...]
    word_offsets: tuple[tuple[int, int], ...]
    token_to_word: tuple[int, ...]  # -1 for special tokens

    def word_tokens(self, word: int) -> list[int]:
        return [t for t, w in enumerate(self.token_to_word) if w == word]


def regex_words(text: str) -> list[tuple[int, int]]:
    """Character spans of the words of `text`, before token-driven merging."""
    return [m.span() for m in WORD_PATTERN.finditer(text)]


class _UnionFind:
    """Disjoint sets over 0..n-1 (regex words merged when one token spans several)."""

    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, first: int, last: int) -> None:
        """Merge the words first..last into first's set."""
        for w in range(first + 1, last + 1):
            self.parent[self.find(w)] = self.find(first)


def _word_at(spans: Sequence[tuple[int, int]], char: int) -> int | None:
    """Index of the span holding character `char` (spans sorted and disjoint), or None."""
    lo, hi = 0, len(spans) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if spans[mid][1] <= char:
            lo = mid + 1
        elif spans[mid][0] > char:
            hi = mid - 1
        else:
            return mid
    return None


def _token_word(text: str, spans: Sequence[tuple[int, int]], starts: Sequence[int], start: int, end: int):
    """(first, last) regex words a token's characters touch; a token of spaces or of characters no word holds
    attaches to the next word; (None, None) when there is no word at all."""
    while start < end and text[start].isspace():
        start += 1
    first, last = (_word_at(spans, start), _word_at(spans, end - 1)) if end > start else (None, None)
    if first is None:
        first = min(bisect.bisect_left(starts, start), len(spans) - 1) if spans else None
        last = first
    return first, last


def align(text: str, tokens: Sequence[str], offsets: Sequence[tuple[int, int]], special: Sequence[bool]) -> Alignment:
    """Group tokens (with character offsets) into words of `text`."""
    spans = regex_words(text)
    starts = [s for s, _ in spans]
    words_of = _UnionFind(len(spans))  # regex words spanned by one token become one word
    token_regex_word: list[int | None] = []
    for (start, end), is_special in zip(offsets, special, strict=True):
        first, last = (None, None) if is_special else _token_word(text, spans, starts, start, end)
        if first is not None and last is not None:
            words_of.union(first, last)
        token_regex_word.append(first)

    used = sorted({words_of.find(w) for w in token_regex_word if w is not None})
    groups = {root: i for i, root in enumerate(used)}
    members: dict[int, list[int]] = {}
    for w in range(len(spans)):
        members.setdefault(words_of.find(w), []).append(w)
    word_offsets = tuple((spans[min(members[r])][0], spans[max(members[r])][1]) for r in used)
    words = tuple(text[s:e] for s, e in word_offsets)
    token_to_word = tuple(-1 if w is None else groups[words_of.find(w)] for w in token_regex_word)
    return Alignment(
        tuple(tokens), tuple(tuple(o) for o in offsets), tuple(special), words, word_offsets, token_to_word
    )


# ---------------------------------------------------------------- removing words from a text
def check_removal(mode: object = "delete", units: object = "auto") -> None:
    """A removal `mode` and `units` checked before any work (the tokenizer's mask token is checked when used)."""
    if mode not in REMOVAL_MODES:
        raise UserError(f"removal mode {mode!r} is not one of {', '.join(REMOVAL_MODES)}")
    if units not in UNIT_CHOICES:
        raise UserError(f"units must be one of {', '.join(UNIT_CHOICES)} (got {units!r})")


def removal_string(tokenizer, mode: str = "delete") -> str:
    """What a removed word's characters become: "" (`mode="delete"`) or the tokenizer's mask token (`"mask"`)."""
    from explain.errors import UserError

    if mode not in REMOVAL_MODES:
        raise UserError(f"removal mode {mode!r} is not one of {', '.join(REMOVAL_MODES)}")
    if mode == "delete":
        return ""
    mask = getattr(tokenizer, "mask_token", None)
    if not mask:
        raise UserError("this model's tokenizer has no mask token; use mode 'delete'")
    return mask


def remove_words(text: str, spans: Sequence[tuple[int, int]], replacement: str = "") -> str:
    """`text` with the character spans (sorted, disjoint) deleted or replaced by `replacement`.

    Only the word's own characters go; the spaces around it stay (BERT-style tokenizers ignore the extra
    space). A word glued to its neighbours without spaces ("good,bad") lets them touch ("goodbad").
    """
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


# ---------------------------------------------------------------- coarser units for long texts
WORD_UNITS_UP_TO = 300  # perturbation methods remove single words up to this many words...
SENTENCE_UNITS_UP_TO = 150  # ...then whole sentences up to this many sentences...
CHUNK_UNITS = 150  # ...then this many chunks of consecutive sentences (about equal in words)
UNIT_CHOICES = ("auto", "word", "sentence")


@dataclass(frozen=True)
class Units:
    """What a perturbation method removes at a time: words, sentences or chunks, each a run of whole words."""

    kind: str  # "word", "sentence" or "chunk"
    word_ranges: tuple[tuple[int, int], ...]  # per unit, its words [first, last + 1) in the alignment

    def __len__(self) -> int:
        return len(self.word_ranges)

    def spans(self, alignment: Alignment) -> list[tuple[int, int]]:
        """Each unit's character span in the text (first word's start to last word's end)."""
        return [(alignment.word_offsets[a][0], alignment.word_offsets[b - 1][1]) for a, b in self.word_ranges]

    def word_to_unit(self) -> np.ndarray:
        out = np.empty(self.word_ranges[-1][1] if self.word_ranges else 0, dtype=np.intp)
        for unit, (a, b) in enumerate(self.word_ranges):
            out[a:b] = unit
        return out

    def spread(self, unit_scores: np.ndarray) -> np.ndarray:
        """Word scores from unit scores (first axis): each unit's score split evenly over its words (sums kept)."""
        unit_scores = np.asarray(unit_scores, dtype=np.float64)
        sizes = np.array([b - a for a, b in self.word_ranges], dtype=np.float64)
        shape = (-1,) + (1,) * (unit_scores.ndim - 1)
        return (unit_scores / sizes.reshape(shape))[self.word_to_unit()]


def sentence_word_ranges(text: str, alignment: Alignment) -> list[tuple[int, int]]:
    """The words of each sentence (`explain.sentences.sentence_spans`), as [first, last + 1) ranges; words
    between sentences (none, unless the text holds only punctuation there) join the sentence before."""
    starts = [s for s, _ in alignment.word_offsets]
    ranges, first = [], 0
    for _, end in sentence_spans(text):
        last = bisect.bisect_left(starts, end)  # words starting before the sentence's end
        if last > first:
            ranges.append((first, last))
            first = last
    if first < len(starts):
        ranges.append((first, len(starts)))
    return ranges


def perturbation_units(text: str, alignment: Alignment, units: str = "auto") -> Units:
    """`units="auto"`: words up to `WORD_UNITS_UP_TO` words, else sentences up to `SENTENCE_UNITS_UP_TO`, else
    `CHUNK_UNITS` chunks; `"word"` or `"sentence"`: that unit at any length."""
    if units not in UNIT_CHOICES:
        raise UserError(f"units must be one of {', '.join(UNIT_CHOICES)} (got {units!r})")
    n = len(alignment.words)
    if units == "word" or (units == "auto" and n <= WORD_UNITS_UP_TO):
        return Units("word", tuple((i, i + 1) for i in range(n)))
    sentences = sentence_word_ranges(text, alignment)
    if units == "sentence" or len(sentences) <= SENTENCE_UNITS_UP_TO:
        return Units("sentence", tuple(sentences))
    bounds = np.linspace(0, n, CHUNK_UNITS + 1).round().astype(int)
    return Units("chunk", tuple((int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a))
