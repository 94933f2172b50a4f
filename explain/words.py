"""Subword -> word grouping: which tokens make up which word of the review.

A word is a run of letters/digits or a single other non-space character (`\\w+|[^\\w\\s]`), the
split BERT's pre-tokenizer makes too. Each non-special token belongs to the word holding its first
character; words that one token spans (e.g. RoBERTa's `'t`) are merged so every token sits in exactly
one word. Words the model never saw (past truncation) are left out. LIME is handed these
words, so perturbation methods and token methods agree on what a word is.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

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


def align(text: str, tokens: Sequence[str], offsets: Sequence[tuple[int, int]], special: Sequence[bool]) -> Alignment:
    """Group tokens (with character offsets) into words of `text`."""
    spans = regex_words(text)
    starts = [s for s, _ in spans]
    parent = list(range(len(spans)))  # union-find over regex words spanned by one token

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def word_at(char: int) -> int | None:
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

    token_regex_word: list[int | None] = []
    for (start, end), is_special in zip(offsets, special, strict=True):
        if is_special:
            token_regex_word.append(None)
            continue
        while start < end and text[start].isspace():
            start += 1
        first, last = (word_at(start), word_at(end - 1)) if end > start else (None, None)
        if first is None:  # empty span, or characters no word holds: attach to the next word
            first = min(bisect.bisect_left(starts, start), len(spans) - 1) if spans else None
            last = first
        if first is not None and last is not None:
            for w in range(first + 1, last + 1):
                parent[find(w)] = find(first)
        token_regex_word.append(first)

    groups: dict[int, int] = {}
    used = sorted({find(w) for w in token_regex_word if w is not None})
    for i, root in enumerate(used):
        groups[root] = i
    members: dict[int, list[int]] = {}
    for w in range(len(spans)):
        members.setdefault(find(w), []).append(w)
    word_offsets = tuple((spans[min(members[r])][0], spans[max(members[r])][1]) for r in used)
    words = tuple(text[s:e] for s, e in word_offsets)
    token_to_word = tuple(-1 if w is None else groups[find(w)] for w in token_regex_word)
    return Alignment(
        tuple(tokens), tuple(tuple(o) for o in offsets), tuple(special), words, word_offsets, token_to_word
    )


# ---------------------------------------------------------------- removing words from a text
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
