"""The statistics behind corpus drivers: per phrase, the reviews it occurs in and its effect in each (compact
arrays), the support rule, the ranking by the bootstrap interval's end nearest zero, and the most surprising
reviews in a bounded heap. `explain.corpus.drivers` states the rules; this module applies them.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections.abc import Sequence

import numpy as np

from explain.corpus.driver_types import CONFIDENCE, Driver, Example, GivenVsPredicted, SurprisingReview
from explain.data import Review

MIN_REVIEWS = 5
MIN_SHARE = 0.005  # 0.5 % of the reviews


class PhraseTable:
    """Per phrase: the reviews it occurs in and its effect in each (compact arrays, no explanations kept)."""

    def __init__(self) -> None:
        self.owners: dict[str, array] = {}
        self.values: dict[str, array] = {}

    def add(self, index: int, phrases: dict[str, float]) -> None:
        for phrase, value in phrases.items():
            owners = self.owners.get(phrase)
            if owners is None:
                owners = self.owners[phrase] = array("q")
                self.values[phrase] = array("d")
            owners.append(index)
            self.values[phrase].append(value)


def support_needed(n_reviews: int, min_reviews: int = MIN_REVIEWS, min_share: float = MIN_SHARE) -> int:
    """Reviews a phrase must occur in to be ranked: max(min_reviews, ceil(min_share x n_reviews))."""
    return max(min_reviews, math.ceil(min_share * n_reviews))


def rank_group(
    table: PhraseTable,
    member: np.ndarray | None,
    n_group: int,
    reviews: Sequence[Review],
    *,
    top_k: int,
    n_examples: int,
    min_reviews: int,
    min_share: float,
    rng: np.random.Generator,
    resamples: int,
) -> tuple[int, tuple[Driver, ...], tuple[Driver, ...]]:
    """(support needed, lowering, raising) for the reviews where `member` is True (all when None)."""
    need = support_needed(n_group, min_reviews, min_share)
    z = 1.959963984540054
    candidates: list[tuple[str, np.ndarray, np.ndarray, float, float]] = []  # phrase, owners, values, mean, se
    for phrase, owners_raw in table.owners.items():
        if len(owners_raw) < need:
            continue
        owners = np.frombuffer(owners_raw, dtype=np.int64)
        values = np.frombuffer(table.values[phrase], dtype=np.float64)
        if member is not None:
            keep = member[owners]
            if int(keep.sum()) < need:
                continue
            owners, values = owners[keep], values[keep]
        mean = float(values.mean())
        se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
        candidates.append((phrase, owners, values, mean, se))
    lowering = _top(candidates, -1, top_k, n_examples, reviews, rng, resamples, z)
    raising = _top(candidates, +1, top_k, n_examples, reviews, rng, resamples, z)
    return need, lowering, raising


def _top(candidates, sign: int, top_k: int, n_examples: int, reviews, rng, resamples: int, z: float):
    """The top_k phrases in one direction, by the bootstrap interval's end nearest zero."""
    side = [c for c in candidates if sign * c[3] > 0]
    # pre-select with the normal approximation (cheap), then bootstrap the few that can rank
    side.sort(key=lambda c: (-(sign * c[3] - z * c[4]), c[0]))
    drivers = []
    for phrase, owners, values, mean, _ in side[: 3 * top_k + 10]:
        low, high = _bootstrap(values, rng, resamples)
        order = np.argsort(sign * -values, kind="stable")[:n_examples]
        examples = tuple(Example(int(owners[i]), reviews[int(owners[i])].text, float(values[i])) for i in order)
        drivers.append(Driver(phrase, mean, len(values), (low, high), examples))
    drivers.sort(key=lambda d: (-(sign * (d.ci[0] if sign > 0 else d.ci[1])), -sign * d.effect, d.phrase))
    return tuple(drivers[:top_k])


def _bootstrap(values: np.ndarray, rng: np.random.Generator, resamples: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (resampling reviews), in chunks so memory stays small."""
    n, means = len(values), []
    chunk = max(1, 2_000_000 // max(n, 1))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        means.append(values[rng.integers(0, n, size=(size, n))].mean(axis=1))
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(np.concatenate(means), [alpha, 1 - alpha])
    return float(low), float(high)


class Surprises:
    """The k reviews with the largest |given - expected|, kept in a bounded heap."""

    def __init__(self, k: int):
        self.k, self.heap = k, []

    def add(self, index: int, given: int, expected: float, predicted: str, phrases: dict[str, float]) -> None:
        item = (abs(given - expected), -index, given, expected, predicted)
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, (*item, _strongest(phrases)))
        elif item[:2] > self.heap[0][:2]:
            heapq.heapreplace(self.heap, (*item, _strongest(phrases)))

    def reviews(self, reviews: Sequence[Review]) -> tuple[SurprisingReview, ...]:
        ordered = sorted(self.heap, key=lambda h: (-h[0], -h[1]))
        return tuple(SurprisingReview(-h[1], reviews[-h[1]].text, h[2], h[3], h[4], h[5]) for h in ordered)


def _strongest(phrases: dict[str, float], k: int = 4) -> tuple[tuple[str, float], ...]:
    """A review's k single words with the largest |effect| (its own drivers)."""
    words = [(p, s) for p, s in phrases.items() if " " not in p]
    words.sort(key=lambda ps: (-abs(ps[1]), ps[0]))
    return tuple(words[:k])


class Tally:
    """Everything `compute_drivers` keeps while the explanations stream by: the phrase table, each review's
    predicted and given label, the given-vs-predicted counts and the most surprising reviews."""

    def __init__(self, n_reviews: int, labels: tuple[str, ...], stars_of: Sequence[int | None], n_surprising: int):
        self.labels = labels
        self.table = PhraseTable()
        self.predicted = np.full(n_reviews, -1, dtype=np.int16)
        self.given = np.full(n_reviews, -1, dtype=np.int16)
        self.star_to_label = {s: i for i, s in enumerate(stars_of) if s is not None}
        self.counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
        self.expected_sum = np.zeros(len(labels))
        self.surprises = Surprises(n_surprising)
        self.errors: list[float] = []
        self.unmapped = 0

    def add(self, index: int, review: Review, phrases: dict[str, float], label: int, rating: float | None) -> None:
        self.table.add(index, phrases)
        self.predicted[index] = label
        if review.stars is None or rating is None:
            return
        g = self.star_to_label.get(review.stars)
        if g is None:
            self.unmapped += 1
        else:
            self.given[index] = g
            self.counts[g, label] += 1
            self.expected_sum[g] += rating
        self.errors.append(abs(review.stars - rating))
        self.surprises.add(index, review.stars, rating, self.labels[label], phrases)

    def given_vs_predicted(self) -> GivenVsPredicted:
        per_given = self.counts.sum(axis=1)
        return GivenVsPredicted(
            self.labels,
            tuple(tuple(int(c) for c in row) for row in self.counts),
            tuple(float(self.expected_sum[g] / n) if n else None for g, n in enumerate(per_given)),
            float(np.mean(self.errors)) if self.errors else None,
            self.unmapped,
        )
