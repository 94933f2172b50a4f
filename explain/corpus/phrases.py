"""The phrases of one review a corpus driver can be: content words, adjacent pairs of them, and a negation
with what it negates ("not worth", "never answered", "didn't work", "not a good"), never across punctuation;
stopwords (`explain.stopwords`) and punctuation are never phrases of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explain.stopwords import STOPWORDS

MAX_GAP = 2  # function words allowed between a negation and the word it negates
# Words that negate what follows them; `n't` contractions arrive split as "didn", "'", "t" (or "didn", "'t"),
# and these stems start one.
NEGATIONS = frozenset(
    ["not", "no", "never", "nor", "none", "nothing", "nobody", "nowhere", "neither", "cannot", "without", "hardly"]
)
_NT_STEMS = frozenset(
    ["don", "doesn", "didn", "isn", "wasn", "aren", "weren", "won", "wouldn", "couldn", "shouldn", "hasn", "haven"]
    + ["hadn", "can", "ain", "mustn", "needn"]
)


@dataclass(frozen=True)
class _Unit:
    text: str  # lower-cased; a split "didn ' t" joined to "didn't"
    score: float
    kind: str  # "content", "negation", "stop" or "break" (punctuation)


def _units(words: Sequence[str], scores: Sequence[float]) -> list[_Unit]:
    out, i = [], 0
    while i < len(words):
        n = _contraction(words, i)
        if n:
            out.append(_Unit(words[i].lower() + "'t", float(sum(scores[i : i + n])), "negation"))
            i += n
            continue
        key = words[i].lower()
        if not any(ch.isalnum() for ch in key):
            kind = "break"
        elif key in NEGATIONS or key.endswith("n't") or key.endswith("n\u2019t"):
            kind = "negation"
        elif key in STOPWORDS or key == "t":
            kind = "stop"
        else:
            kind = "content"
        out.append(_Unit(key, float(scores[i]), kind))
        i += 1
    return out


def _contraction(words: Sequence[str], i: int) -> int:
    """Words at `i` that spell one `n't` contraction: "didn" "'" "t" -> 3, "didn" "'t" -> 2, else 0."""
    if words[i].lower() not in _NT_STEMS:
        return 0
    rest = [w.lower().replace("\u2019", "'") for w in words[i + 1 : i + 3]]
    if rest[:1] == ["'t"]:
        return 2
    if rest[:2] == ["'", "t"]:
        return 3
    return 0


def review_phrases(words: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
    """{phrase: summed score of its words over its occurrences} for one review: content words and negations,
    adjacent pairs of them, and a negation with the next content word (up to `MAX_GAP` function words between)."""
    units = _units(words, scores)
    found: dict[str, float] = {}

    def add(phrase: str, score: float) -> None:
        found[phrase] = found.get(phrase, 0.0) + score

    for i, u in enumerate(units):
        if u.kind not in ("content", "negation"):
            continue
        add(u.text, u.score)
        nxt = units[i + 1] if i + 1 < len(units) else None
        if nxt is not None and nxt.kind == "content":  # a negation attaches to what follows it, never before
            add(f"{u.text} {nxt.text}", u.score + nxt.score)
        elif u.kind == "negation" and nxt is not None and nxt.kind == "stop":
            span = [u]
            for v in units[i + 1 : i + 2 + MAX_GAP]:
                span.append(v)
                if v.kind != "stop":
                    break
            if span[-1].kind == "content":
                add(" ".join(v.text for v in span), sum(v.score for v in span))
    return found
