"""Corpus summaries from finished explanations: predicted and given star distributions, a confusion
matrix, the words that push reviews toward each label, and the most confidently wrong reviews."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from explain.data import Review
from explain.explanation import Explanation
from explain.stopwords import STOPWORDS as STOPWORDS  # re-exported: callers read it from explain.corpus


@dataclass(frozen=True)
class WordStat:
    """A word's attributions toward one label, summed over the corpus."""

    word: str
    total: float  # sum of its scores
    count: int  # occurrences scored
    reviews: int  # distinct reviews it occurs in

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


@dataclass(frozen=True)
class WrongReview:
    """A review whose predicted label differs from its given stars."""

    index: int
    text: str
    given: int  # label index of the given stars
    predicted: int
    confidence: float  # probability of the predicted label
    given_probability: float


@dataclass(frozen=True)
class CorpusSummary:
    """Distributions, confusion matrix, top words per label and method, the most confidently wrong."""

    labels: tuple[str, ...]
    n_reviews: int  # reviews with at least one explanation
    predicted_counts: tuple[int, ...]
    given_counts: tuple[int, ...] | None = None  # reviews whose given stars map to a label
    confusion: tuple[tuple[int, ...], ...] | None = None  # rows: given label, columns: predicted label
    accuracy: float | None = None
    mae_stars: float | None = None
    unmapped_stars: int = 0  # given stars that match no label
    # method -> label -> its top words
    top_words: Mapping[str, Mapping[str, tuple[WordStat, ...]]] = field(default_factory=dict)
    confidently_wrong: tuple[WrongReview, ...] = ()

    def __repr__(self) -> str:  # short however large the corpus
        return f"CorpusSummary({self.n_reviews} reviews, methods {', '.join(self.top_words) or 'none'})"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["top_words"] = {
            m: {label: [asdict(w) | {"mean": w.mean} for w in words] for label, words in per.items()}
            for m, per in self.top_words.items()
        }
        return data


_LEADING_INT = re.compile(r"^\s*(\d+)")


def label_stars(labels: Sequence[str]) -> list[int | None]:
    """The star count each label names ("4 stars" -> 4), None where a label names none."""
    return [int(m.group(1)) if (m := _LEADING_INT.match(label)) else None for label in labels]


def word_key(word: str) -> str | None:
    """How words are grouped across reviews: lower-cased; punctuation-only words are left out."""
    return word.lower() if any(ch.isalnum() for ch in word) else None


def content_top_words(explanation: Explanation, k: int = 3, skip_stopwords: bool = True) -> list[tuple[str, float]]:
    """The k words with the largest |score|, leaving out punctuation and (optionally) STOPWORDS."""
    order = np.argsort(-np.abs(explanation.word_scores), kind="stable")
    out = []
    for i in order:
        key = word_key(explanation.words[i])
        if key is None or (skip_stopwords and key in STOPWORDS):
            continue
        out.append((explanation.words[i], float(explanation.word_scores[i])))
        if len(out) == k:
            break
    return out


def stars_surprise(labels: Sequence[str], predicted: int, given_stars: int | None) -> float | None:
    """|given - predicted| in stars (None when the review has no given stars or the label names no stars)."""
    predicted_stars = label_stars(labels)[predicted]
    if given_stars is None or predicted_stars is None:
        return None
    return float(abs(given_stars - predicted_stars))


def summarize(
    reviews: Sequence[Review],
    results: Sequence[Mapping[str, Explanation]],
    labels: Sequence[str],
    *,
    top_k: int = 10,
    wrong_k: int = 10,
    min_reviews: int = 2,
) -> CorpusSummary:
    """Aggregate a corpus's explanations (one {method: Explanation} per review, predicted label).

    Words toward a label: methods that score every label contribute each review's scores for every
    label; others contribute a review's scores for its explained label. Words in fewer than
    `min_reviews` reviews are left out; ranking is by summed score (only positive sums are listed).
    """
    if len(reviews) != len(results):
        raise ValueError(f"{len(reviews)} reviews but {len(results)} results")
    labels = tuple(labels)
    tally = _StarTally(labels)
    # method -> label -> word -> [total, count, reviews]
    sums: dict[str, list[dict[str, list[float]]]] = defaultdict(
        lambda: [defaultdict(lambda: [0.0, 0, 0]) for _ in range(len(labels))]
    )
    for index, (review, per_method) in enumerate(zip(reviews, results, strict=True)):
        if not per_method:
            continue
        tally.add(index, review, next(iter(per_method.values())).probabilities)
        for method, explanation in per_method.items():
            _add_words(sums[method], explanation)
    top_words = {
        method: {labels[label]: _top(per_label[label], top_k, min_reviews) for label in range(len(labels))}
        for method, per_label in sums.items()
    }
    return tally.summary(top_words, has_stars=any(r.stars is not None for r in reviews), wrong_k=wrong_k)


class _StarTally:
    """Predicted labels, and against given stars: the confusion matrix, errors and wrong reviews."""

    def __init__(self, labels: tuple[str, ...]):
        self.labels = labels
        self.stars_of = label_stars(labels)
        self.star_to_label = {s: i for i, s in enumerate(self.stars_of) if s is not None}
        self.n = 0
        self.predicted_counts = np.zeros(len(labels), dtype=int)
        self.confusion = np.zeros((len(labels), len(labels)), dtype=int)
        self.unmapped = 0
        self.wrong: list[WrongReview] = []
        self.abs_errors: list[int] = []

    def add(self, index: int, review: Review, probs: np.ndarray) -> None:
        self.n += 1
        predicted = int(np.argmax(probs))
        self.predicted_counts[predicted] += 1
        if review.stars is None:
            return
        given = self.star_to_label.get(review.stars)
        if given is None:
            self.unmapped += 1
            return
        self.confusion[given, predicted] += 1
        if self.stars_of[predicted] is not None:
            self.abs_errors.append(abs(self.stars_of[predicted] - review.stars))
        if given != predicted:
            self.wrong.append(
                WrongReview(index, review.text, given, predicted, float(probs[predicted]), float(probs[given]))
            )

    def summary(self, top_words: dict, *, has_stars: bool, wrong_k: int) -> CorpusSummary:
        self.wrong.sort(key=lambda w: (-w.confidence, w.index))
        mapped = int(self.confusion.sum())
        return CorpusSummary(
            labels=self.labels,
            n_reviews=self.n,
            predicted_counts=tuple(int(c) for c in self.predicted_counts),
            given_counts=tuple(int(c) for c in self.confusion.sum(axis=1)) if has_stars else None,
            confusion=tuple(tuple(int(c) for c in row) for row in self.confusion) if has_stars else None,
            accuracy=float(np.trace(self.confusion) / mapped) if mapped else None,
            mae_stars=float(np.mean(self.abs_errors)) if self.abs_errors else None,
            unmapped_stars=self.unmapped,
            top_words=top_words,
            confidently_wrong=tuple(self.wrong[:wrong_k]),
        )


def _label_word_scores(explanation: Explanation) -> Iterator[tuple[int, np.ndarray]]:
    if explanation.label_token_scores is not None and explanation.contrast is None:
        for label in range(len(explanation.labels)):
            yield label, explanation.for_label(label).word_scores
    elif explanation.target is not None:  # a rating or class-agnostic explanation points to no star
        yield explanation.target, explanation.word_scores


def _add_words(per_label: list[dict[str, list[float]]], explanation: Explanation) -> None:
    keys = [word_key(w) for w in explanation.words]
    for label, scores in _label_word_scores(explanation):
        seen = set()
        table = per_label[label]
        for key, score in zip(keys, scores, strict=True):
            if key is None:
                continue
            entry = table[key]
            entry[0] += float(score)
            entry[1] += 1
            if key not in seen:
                entry[2] += 1
                seen.add(key)


def _top(table: Mapping[str, list[float]], k: int, min_reviews: int) -> tuple[WordStat, ...]:
    stats = [
        WordStat(word, total, int(count), int(reviews))
        for word, (total, count, reviews) in table.items()
        if reviews >= min_reviews and total > 0
    ]
    stats.sort(key=lambda s: (-s.total, s.word))
    return tuple(stats[:k])
