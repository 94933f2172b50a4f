"""One answer from many methods: per word, which way each signed method points, and where they agree.

A word's *consensus sign* is the sign that at least two thirds of the signed methods give it (methods
with a zero score for it abstain from neither side: they count against agreement). Words that some
methods rank among their top words but that the methods do not agree on are *disputed*. Punctuation is left out
of the answer. Class-agnostic
(attention, rollout) and magnitude-only methods (saliency, gradient-weighted attention) carry no sign
and are left out. The result is data; `Consensus.sentence` is the one-line answer the CLI, reports and
the dashboard show, e.g. "4 of 4 methods: *died* and *never* lowered the rating; methods disagree on
*battery*".

When a signed method scored whole sentences or chunks (`units="sentence"`, or occlusion and LIME on a
review over 300 words), its words share their sentence's score evenly and no word stands out: the
consensus is then taken over sentences (each method's sentence roll-up, `Explanation.sentences`), and the
line names sentences: '2 of 2 methods: "The battery died after two days..." lowered the rating'.

Close calls are a property of the prediction: `close_call` flags top-two probabilities within 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explain.explanation import Explanation

AGREEMENT = 2 / 3  # share of signed methods that must agree on a word's sign
TOP_WORDS = 5  # a method's top words (by |score|) that the answer considers
TOP_SENTENCES = 2  # ...or its top sentences, when the consensus is over sentences
SENTENCE_CHARS = 60  # a sentence is quoted up to this many characters in the line
CLOSE_CALL = 0.05  # top-two probability gap below which a prediction is a close call


@dataclass(frozen=True)
class WordVerdict:
    """What the signed methods say about one word (or one sentence, when the consensus is over sentences)."""

    index: int  # word (or sentence) index in the explanations
    word: str  # the word, or the sentence's text
    signs: dict[str, int]  # method -> -1, 0 or +1
    ranks: dict[str, int]  # method -> rank by |score| (0 = most important)
    sign: int  # the consensus sign (0 when fewer than two thirds agree)
    agreeing: int  # how many methods give the consensus sign (or the larger side when there is none)

    @property
    def disputed(self) -> bool:
        return self.sign == 0

    @property
    def mean_rank(self) -> float:
        return float(np.mean(list(self.ranks.values())))


@dataclass(frozen=True)
class Consensus:
    """Per-word agreement of several signed explanations of one text and one question."""

    question: str
    direction_words: tuple[str, str]  # (what a positive score did, what a negative one did)
    methods: tuple[str, ...]  # the signed methods counted
    ignored: tuple[str, ...]  # explanations left out (no sign)
    words: tuple[WordVerdict, ...]  # the words some method ranks in its top words, most important first
    close_call: str | None = None
    level: str = "word"  # "word", or "sentence" when a method scored whole sentences

    def agreed(self, sign: int) -> list[WordVerdict]:
        """Top words the methods agree push the output up (+1) or down (-1), most important first."""
        return [w for w in self.words if w.sign == sign]

    @property
    def disputed(self) -> list[WordVerdict]:
        return [w for w in self.words if w.disputed]

    @property
    def sentence(self) -> str:
        """One line: which words the methods agree on, which way, and where they disagree."""
        n = len(self.methods)
        if n == 0:
            return "no signed method to compare (attention and rollout only say where the model looked)"
        up, down = self.agreed(+1)[:3], self.agreed(-1)[:3]
        parts = []
        for words, verb in ((down, self.direction_words[1]), (up, self.direction_words[0])):
            if words:
                least = min(w.agreeing for w in words)
                who = (
                    self.methods[0]  # one method: no agreement to count ("occlusion: *died* lowered the rating")
                    if n == 1
                    else f"{least} of {n} methods"
                    if least == n
                    else f"at least {least} of {n} methods"
                )
                parts.append(f"{who}: {self._join(words)} {verb}")
        disputed = self.disputed[:3]
        if disputed:
            parts.append(f"methods disagree on {self._join(disputed)}")
        if not parts:
            parts.append(f"the methods point to no {self.level} together")
        line = "; ".join(parts)
        return f"{line} ({self.close_call})" if self.close_call else line

    def _join(self, verdicts: Sequence[WordVerdict]) -> str:
        if self.level == "sentence":
            return _join([_quote(v.word) for v in verdicts], emphasis=False)
        return _join([v.word for v in verdicts])


def _quote(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    return f'"{sentence if len(sentence) <= SENTENCE_CHARS else sentence[: SENTENCE_CHARS - 3] + "..."}"'


def _is_word(word: str) -> bool:
    """Words with a letter or digit; punctuation is scored but left out of the answer."""
    return any(c.isalnum() for c in word)


def _join(words, emphasis: bool = True) -> str:
    words = [f"*{w}*" if emphasis else w for w in words]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def close_call(probabilities: Sequence[float], labels: Sequence[str], margin: float = CLOSE_CALL) -> str | None:
    """ "nearly tied with 1 star" when the top two probabilities are within `margin`, else None."""
    probs = np.asarray(probabilities, dtype=np.float64)
    if len(probs) < 2:
        return None
    first, second = np.argsort(-probs, kind="stable")[:2]
    if probs[first] - probs[second] <= margin:
        return f"close call: {labels[first]} {probs[first]:.2f} nearly tied with {labels[second]} {probs[second]:.2f}"
    return None


def _direction_words(exp: Explanation) -> tuple[str, str]:
    if exp.explains == "rating":
        return "raised the rating", "lowered the rating"
    if exp.contrast is not None:
        return f"pointed to {exp.target_label} over {exp.contrast_label}", f"pointed to {exp.contrast_label}"
    return f"pushed toward {exp.target_label}", f"pushed away from {exp.target_label}"


def is_signed(exp: Explanation) -> bool:
    """Does this explanation carry a direction (a class-specific method whose scores can be negative)?"""
    from explain.errors import UnknownMethodError
    from explain.methods import get_method

    if not exp.class_specific:
        return False
    try:
        return get_method(exp.method).signed
    except UnknownMethodError:  # an explanation from elsewhere: signed if it has negative scores
        return bool(np.any(exp.word_scores < 0))


def _level(signed: Sequence[Explanation]) -> str:
    """Sentences when any signed method scored whole sentences or chunks (its words carry no word-level rank)."""
    return "sentence" if any(e.scored_whole_sentences for e in signed) else "word"


def _items(exp: Explanation, level: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The explanation's words and word scores, or its sentences and their sums."""
    if level == "word":
        return exp.words, np.asarray(exp.word_scores)
    sentences = exp.sentences
    return tuple(s.text for s in sentences), np.array([s.score for s in sentences])


def consensus(
    explanations: Sequence[Explanation], *, top: int | None = None, agreement: float = AGREEMENT
) -> Consensus:
    """Per-word (or per-sentence) signs and ranks of the signed explanations of one text, and where they agree."""
    if not explanations:
        raise ValueError("consensus needs at least one explanation")
    first = explanations[0]
    for exp in explanations[1:]:
        if exp.words != first.words:
            raise ValueError(f"{exp.method} and {first.method} explain different words; use one text and one model")
    signed = [e for e in explanations if is_signed(e)]
    questions = {(e.explains, e.target, e.contrast) for e in signed}
    if len(questions) > 1:
        raise ValueError("the explanations answer different questions; explain every method with the same target")
    ignored = tuple(e.method for e in explanations if e not in signed)
    level = _level(signed)
    top = top if top is not None else TOP_WORDS if level == "word" else TOP_SENTENCES
    verdicts: list[WordVerdict] = []
    if signed:
        per_method = {e.method: _items(e, level) for e in signed}
        items = per_method[signed[0].method][0]  # the same words (checked above), so the same sentences
        scores = {m: values for m, (_, values) in per_method.items()}
        ranks = {m: np.argsort(np.argsort(-np.abs(v), kind="stable"), kind="stable") for m, v in scores.items()}
        candidates = sorted({int(i) for r in ranks.values() for i in np.flatnonzero(r < top) if _is_word(items[i])})
        need = math.ceil(agreement * len(signed) - 1e-9)
        for i in candidates:
            signs = {m: int(np.sign(v[i])) for m, v in scores.items()}
            ups, downs = sum(s > 0 for s in signs.values()), sum(s < 0 for s in signs.values())
            sign = +1 if ups >= need and ups > downs else -1 if downs >= need and downs > ups else 0
            verdicts.append(
                WordVerdict(i, items[i], signs, {m: int(r[i]) for m, r in ranks.items()}, sign, max(ups, downs))
            )
        verdicts.sort(key=lambda v: (v.mean_rank, v.index))
    reference = signed[0] if signed else first
    return Consensus(
        question=reference.question,
        direction_words=_direction_words(reference) if signed else ("", ""),
        methods=tuple(e.method for e in signed),
        ignored=ignored,
        words=tuple(verdicts),
        close_call=close_call(first.probabilities, first.labels),
        level=level,
    )
