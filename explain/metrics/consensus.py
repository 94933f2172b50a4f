"""One answer from many methods: per word, which way each signed method points, how much it moves the output,
and whether that clears the noise floor.

A word's *consensus sign* is the sign that at least two thirds of the signed methods give it (methods
with a zero score for it abstain from neither side: they count against agreement). Its *effect* is the
signed methods' mean score in the question's unit (stars for the rating, probability for a class; methods in
another unit, such as integrated gradients' logits for a class, count for the sign only). Its *removal effect*
is the drop in the explained output when the word (or sentence) is deleted from the text, measured with
`predict_proba` (`removal_effects`) or read from an occlusion explanation among the given ones.

The rule (one place; the CLI, reports and the dashboard only draw its result):

- Only content words are candidates: punctuation and stopwords (`explain.stopwords`) are left out, negations
  kept; a method's top `TOP_WORDS` candidates by |score| (or `TOP_SENTENCES` sentences) are considered.
- A word is *named* when the methods agree on its sign, its effect is at least the noise floor in that
  direction, and its removal effect (when known) is at least the floor in the same direction.
- A word the methods disagree on, or whose removal moves the output the other way, is *disputed* when its
  removal effect (or, unmeasured, its largest score) clears the floor; every other word is *below the floor*.
- The noise floor (`noise_floor`) is 0.05 stars on a 1-5 rating (1.25 % of the rating's range), 0.01 for a
  probability, 0.05 for a logit. Below it the line says that no single word moves the output, with the largest
  measured amount, instead of naming noise: near a saturated 4.9-star rating every word's effect is a few
  hundredths of a star and its sign is noise.

Class-agnostic (attention, rollout) and magnitude-only methods (saliency, gradient-weighted attention) carry
no sign and are left out. The result is data; `Consensus.sentence` is the line, e.g.
'"died" (-0.90 stars) and "never" (-0.41 stars) lowered the rating; methods disagree on "battery"'.

When a signed method scored whole sentences or chunks (`units="sentence"`, or occlusion and LIME on a
review over 300 words), its words share their sentence's score evenly and no word stands out: the
consensus is then taken over sentences (each method's sentence roll-up, `Explanation.sentences`), and the
line names sentences with their effects.

Close calls are a property of the prediction: `close_call` flags top-two probabilities within 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from explain.explanation import Explanation
from explain.metrics.effects import amount, at_most, noise_floor, signed_amount
from explain.stopwords import STOPWORDS

AGREEMENT = 2 / 3  # share of signed methods that must agree on a word's sign
TOP_WORDS = 5  # a method's top words (by |score|) that the answer considers
TOP_SENTENCES = 2  # ...or its top sentences, when the consensus is over sentences
SENTENCE_CHARS = 60  # a sentence is quoted up to this many characters in the line
CLOSE_CALL = 0.05  # top-two probability gap below which a prediction is a close call
NAMED_PER_DIRECTION = 3  # the line names at most this many words that lowered (and that raised) the output


@dataclass(frozen=True)
class WordVerdict:
    """What the signed methods say about one word (or one sentence, when the consensus is over sentences)."""

    index: int  # word (or sentence) index in the explanations
    word: str  # the word, or the sentence's text
    signs: dict[str, int]  # method -> -1, 0 or +1
    ranks: dict[str, int]  # method -> rank by |score| among the candidates (0 = most important)
    sign: int  # the consensus sign (0 when fewer than two thirds agree)
    agreeing: int  # how many methods give the consensus sign (or the larger side when there is none)
    effect: float = 0.0  # the methods' mean score in the question's unit
    removal: float | None = None  # the drop in the output without this word (None: not measured)
    status: str = "below"  # "named", "disputed" or "below" (the floor), by the rule above

    @property
    def disputed(self) -> bool:
        return self.sign == 0

    @property
    def mean_rank(self) -> float:
        return float(np.mean(list(self.ranks.values())))

    @property
    def moves(self) -> float:
        """How far this word moves the output: |removal effect| when measured, else |effect|."""
        return abs(self.removal) if self.removal is not None else abs(self.effect)


@dataclass(frozen=True)
class Consensus:
    """Per-word agreement of several signed explanations of one text and one question."""

    question: str
    direction_words: tuple[str, str]  # (what a positive score did, what a negative one did)
    methods: tuple[str, ...]  # the signed methods counted
    ignored: tuple[str, ...]  # explanations left out (no sign)
    words: tuple[WordVerdict, ...]  # the candidate words some method ranks in its top words, most important first
    close_call: str | None = None
    level: str = "word"  # "word", or "sentence" when a method scored whole sentences
    unit: str = ""  # the unit of the effects ("stars", "probability", ...)
    floor: float = 0.0  # the noise floor in that unit
    output: str = "the output"  # what the effects move, for the line: "this 4.9-star rating"
    checked: bool = False  # were removal effects known for every candidate?

    def agreed(self, sign: int) -> list[WordVerdict]:
        """Top words the methods agree push the output up (+1) or down (-1), most important first."""
        return [w for w in self.words if w.sign == sign]

    @property
    def named(self) -> list[WordVerdict]:
        """The words the line names with an effect, in its order: up to 3 that lowered the output, then up to 3
        that raised it, most important first."""
        clear = _first_of_each([w for w in self.words if w.status == "named"])
        return [w for sign in (-1, +1) for w in [v for v in clear if v.sign == sign][:NAMED_PER_DIRECTION]]

    @property
    def disputed(self) -> list[WordVerdict]:
        """Words that move the output past the floor, but the methods (or removal) disagree on which way."""
        return [w for w in self.words if w.status == "disputed"]

    def __repr__(self) -> str:  # the line, not every candidate's verdict
        return f"Consensus({self.sentence})"

    @property
    def sentence(self) -> str:
        """One line: the words that clear the floor with their effects, where methods disagree, or that none does."""
        n = len(self.methods)
        if n == 0:
            return "no signed method to compare (attention and rollout only say where the model looked)"
        parts = []
        named = self.named
        for sign, verb in ((-1, self.direction_words[1]), (+1, self.direction_words[0])):
            words = [w for w in named if w.sign == sign]
            if words:
                least = min(w.agreeing for w in words)
                who = "" if least == n else f" ({least} of {n} methods)"
                parts.append(f"{_join([self._phrase(w) for w in words])} {verb}{who}")
        disputed = _first_of_each(self.disputed)[:NAMED_PER_DIRECTION]
        if disputed:
            parts.append(f"methods disagree on {_join([self._quote(w) for w in disputed])}")
        if not parts:
            most = max((w.moves for w in self.words), default=0.0)
            parts.append(
                f"no single {self.level} moves {self.output} by more than {at_most(most, self.unit)} "
                f"(the floor is {amount(self.floor, self.unit)}); the whole review does"
            )
        line = "; ".join(parts)
        return f"{line} ({self.close_call})" if self.close_call else line

    def _quote(self, verdict: WordVerdict) -> str:
        return _quote(verdict.word) if self.level == "sentence" else f'"{verdict.word}"'

    def _phrase(self, verdict: WordVerdict) -> str:
        return f"{self._quote(verdict)} ({signed_amount(verdict.effect, self.unit)})"


def _first_of_each(verdicts: Sequence[WordVerdict]) -> list[WordVerdict]:
    """The verdicts with a word the line has not named yet (a repeated word is named once, where it matters most)."""
    seen: set[str] = set()
    out = []
    for v in verdicts:
        key = " ".join(v.word.lower().split())
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _quote(sentence: str) -> str:
    sentence = " ".join(sentence.split())
    return f'"{sentence if len(sentence) <= SENTENCE_CHARS else sentence[: SENTENCE_CHARS - 3] + "..."}"'


def is_content_word(word: str) -> bool:
    """May the answer name this word? It has a letter or digit and is no stopword (negations always may)."""
    return any(c.isalnum() for c in word) and word.lower() not in STOPWORDS


def _join(words: Sequence[str]) -> str:
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


def _output(exp: Explanation, unit: str) -> str:
    """What the effects move, for the line: "this 4.9-star rating", "the probability of 5 stars (0.97)"."""
    probs = exp.probabilities
    if exp.explains == "rating":
        rating = float(exp.expected_rating)
        return f"this {rating:.1f}-star rating" if unit == "stars" else f"this rating ({rating:.1f} {unit})".strip()
    if exp.contrast is not None:
        gap = probs[exp.target] - probs[exp.contrast]
        return f"the probability of {exp.target_label} over {exp.contrast_label} ({gap:+.2f})"
    return f"the probability of {exp.target_label} ({probs[exp.target]:.2f})"


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


def question_unit(signed: Sequence[Explanation]) -> str:
    """The unit effects are stated in: the rating's (stars) for the rating, "probability" for a class; the
    methods' own unit when none of them is in it (e.g. only integrated gradients' logits)."""
    first = signed[0]
    wanted = first.unit if first.explains == "rating" else "probability"
    units = [e.unit for e in signed]
    return wanted if wanted in units else units[0]


def _occlusion_removal(signed: Sequence[Explanation], level: str) -> np.ndarray | None:
    """Removal effects read from an occlusion explanation that deleted exactly these units, else None."""
    for e in signed:
        deleted = e.method == "occlusion" and e.params.get("mode", "delete") == "delete"
        if deleted and e.diagnostics.get("unit", "word") == level:
            return _items(e, level)[1]
    return None


def removal_effects(
    classifier, explanation: Explanation, indices: Sequence[int], level: str = "word"
) -> dict[int, float]:
    """Each word's (or sentence's) removal effect: the drop in the explained output when it is deleted from
    the text, measured with one batched `predict_proba` call (index -> effect in the question's unit)."""
    from explain.words import remove_words

    indices = list(indices)
    if not indices:
        return {}
    if level == "word":
        spans = [explanation.alignment.word_offsets[i] for i in indices]
    else:
        sentences = explanation.sentences
        spans = [(sentences[i].start, sentences[i].end) for i in indices]
    variants = [remove_words(explanation.text, [span]) for span in spans]
    probs = np.asarray(classifier.predict_proba(variants), dtype=np.float64)
    weights = explanation.target_spec.weights(len(explanation.labels))
    drops = (explanation.probabilities[None, :] - probs) @ weights
    return {i: float(d) for i, d in zip(indices, drops, strict=True)}


def _status(sign: int, effect: float, removal: float | None, floor: float) -> str:
    """named / disputed / below, by the rule in the module docstring."""
    moves = abs(removal) if removal is not None else abs(effect)
    if moves < floor or moves == 0:
        return "below"
    if sign != 0 and sign * effect >= floor and (removal is None or sign * removal >= floor):
        return "named"
    if sign == 0 or (removal is not None and sign * removal < 0):
        return "disputed"
    return "below"  # agreed, but smaller than the floor by the methods' own account


def _signed(explanations: Sequence[Explanation]) -> list[Explanation]:
    """The signed explanations, after checking that all explain the same words and the same question."""
    if not explanations:
        raise ValueError("consensus needs at least one explanation")
    first = explanations[0]
    for exp in explanations[1:]:
        if exp.words != first.words:
            raise ValueError(f"{exp.method} and {first.method} explain different words; use one text and one model")
    signed = [e for e in explanations if is_signed(e)]
    if len({(e.explains, e.target, e.contrast) for e in signed}) > 1:
        raise ValueError("the explanations answer different questions; explain every method with the same target")
    return signed


def _ranks(scores: Mapping[str, np.ndarray], eligible: np.ndarray) -> dict[str, np.ndarray]:
    """Each method's rank of every item by |score| among the eligible ones ("and" takes no top-5 place)."""
    ranks = {}
    for m, v in scores.items():
        key = np.where(eligible, -np.abs(v), np.inf)
        ranks[m] = np.argsort(np.argsort(key, kind="stable"), kind="stable")
    return ranks


def _removal(signed, level, candidates, removal, classifier) -> dict[int, float] | None:
    """Removal effects of the candidates: given, read from occlusion, or measured with the model (or None)."""
    if removal is not None:
        return dict(removal)
    read = _occlusion_removal(signed, level)
    if read is not None:
        return {i: float(read[i]) for i in candidates}
    if classifier is not None:
        return removal_effects(classifier, signed[0], candidates, level)
    return None


def consensus(
    explanations: Sequence[Explanation],
    *,
    top: int | None = None,
    agreement: float = AGREEMENT,
    classifier=None,
    removal: Mapping[int, float] | None = None,
    floor: float | None = None,
) -> Consensus:
    """Per-word (or per-sentence) signs, effects and ranks of the signed explanations of one text, where they
    agree, and which words clear the noise floor.

    Removal effects come from `removal` (index -> effect), else from an occlusion explanation among the given
    ones that deleted the same units, else are measured for the candidates with `classifier` (one batched call);
    without any of these the floor is applied to the methods' mean score alone (`Consensus.checked` is False).
    """
    signed = _signed(explanations)
    first = explanations[0]
    reference = signed[0] if signed else first
    level = _level(signed)
    top = top if top is not None else TOP_WORDS if level == "word" else TOP_SENTENCES
    verdicts: list[WordVerdict] = []
    unit = question_unit(signed) if signed else ""
    limit = (noise_floor(reference, unit) if signed else 0.0) if floor is None else floor
    known = None
    if signed:
        per_method = {e.method: _items(e, level) for e in signed}
        items = per_method[reference.method][0]  # the same words (checked above), so the same sentences
        eligible = np.array([level == "sentence" or is_content_word(w) for w in items], dtype=bool)
        scores = {m: values for m, (_, values) in per_method.items()}
        in_unit = [e.method for e in signed if e.unit == unit]
        ranks = _ranks(scores, eligible)
        candidates = sorted({int(i) for r in ranks.values() for i in np.flatnonzero((r < top) & eligible)})
        known = _removal(signed, level, candidates, removal, classifier)
        need = math.ceil(agreement * len(signed) - 1e-9)
        for i in candidates:
            signs = {m: int(np.sign(v[i])) for m, v in scores.items()}
            ups, downs = sum(s > 0 for s in signs.values()), sum(s < 0 for s in signs.values())
            sign = +1 if ups >= need and ups > downs else -1 if downs >= need and downs > ups else 0
            effect = float(np.mean([scores[m][i] for m in in_unit]))
            measured = None if known is None or i not in known else float(known[i])
            status = _status(sign, effect, measured, limit)
            rank = {m: int(r[i]) for m, r in ranks.items()}
            verdicts.append(WordVerdict(i, items[i], signs, rank, sign, max(ups, downs), effect, measured, status))
        verdicts.sort(key=lambda v: (v.mean_rank, v.index))
    return Consensus(
        question=reference.question,
        direction_words=_direction_words(reference) if signed else ("", ""),
        methods=tuple(e.method for e in signed),
        ignored=tuple(e.method for e in explanations if e not in signed),
        words=tuple(verdicts),
        close_call=close_call(first.probabilities, first.labels),
        level=level,
        unit=unit,
        floor=limit,
        output=_output(reference, unit) if signed else "the output",
        checked=known is not None and all(v.removal is not None for v in verdicts),
    )
