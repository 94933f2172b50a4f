"""What corpus drivers are made of: a driver (phrase, effect, reviews, interval, examples), its groups, the
surprising reviews, given vs predicted stars, and `Drivers`, which also states its rules in words.

Frozen values with `to_dict()`, computed by `explain.corpus.drivers` and drawn by `explain.render.drivers_view`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CONFIDENCE = 0.95
RESAMPLES = 1000  # bootstrap resamples per ranked phrase


@dataclass(frozen=True)
class Example:
    """A review a driver occurs in, with the driver's effect in that review."""

    index: int  # the review's position in the input (0-based)
    text: str
    effect: float


@dataclass(frozen=True)
class Driver:
    """A phrase and what it does to the rating across the reviews it occurs in."""

    phrase: str
    effect: float  # mean over the reviews it occurs in of its words' summed scores there
    reviews: int  # reviews it occurs in
    ci: tuple[float, float]  # bootstrap interval of `effect` over those reviews
    examples: tuple[Example, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "phrase": self.phrase,
            "effect": self.effect,
            "reviews": self.reviews,
            "ci": [self.ci[0], self.ci[1]],
            "examples": [asdict(e) for e in self.examples],
        }


@dataclass(frozen=True)
class DriverGroup:
    """The drivers of one group of reviews (all of them, or those predicted / given one star level)."""

    name: str  # "all reviews", "predicted 1 star", "given 5 stars"
    n_reviews: int
    min_support: int  # reviews a phrase must occur in to be ranked
    lowering: tuple[Driver, ...]
    raising: tuple[Driver, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_reviews": self.n_reviews,
            "min_support": self.min_support,
            "lowering": [d.to_dict() for d in self.lowering],
            "raising": [d.to_dict() for d in self.raising],
        }


@dataclass(frozen=True)
class SurprisingReview:
    """A review whose given stars are far from the expected rating, with the phrases that moved it most."""

    index: int
    text: str
    given: int
    expected: float
    predicted: str  # the predicted label
    drivers: tuple[tuple[str, float], ...]  # (phrase, effect in this review), largest |effect| first

    @property
    def surprise(self) -> float:
        return abs(self.given - self.expected)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"surprise": self.surprise, "drivers": [list(d) for d in self.drivers]}


@dataclass(frozen=True)
class GivenVsPredicted:
    """Given stars against the model: counts per (given, predicted) label and the mean expected rating per given."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]  # rows: given label, columns: predicted label
    mean_expected: tuple[float | None, ...]  # per given label
    mean_abs_error: float | None  # mean |given - expected| over reviews with given stars
    unmapped: int = 0  # given stars that match no label


@dataclass(frozen=True)
class Drivers:
    """Corpus drivers overall, per predicted (and given) star level, and the surprising reviews."""

    method: str
    question: str
    unit: str
    n_reviews: int  # reviews with an explanation
    min_reviews: int
    min_share: float
    overall: DriverGroup
    by_predicted: tuple[DriverGroup, ...] = ()
    by_given: tuple[DriverGroup, ...] = ()
    given_vs_predicted: GivenVsPredicted | None = None
    surprising: tuple[SurprisingReview, ...] = ()
    failed: int = 0  # reviews without an explanation (the method failed on them)
    whole_sentences: int = 0  # reviews whose method scored whole sentences (their words share its score)
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES

    @property
    def lowering(self) -> tuple[Driver, ...]:
        return self.overall.lowering

    @property
    def raising(self) -> tuple[Driver, ...]:
        return self.overall.raising

    @property
    def min_support(self) -> int:
        return self.overall.min_support

    @property
    def support_rule(self) -> str:
        return (
            f"a phrase must occur in at least max({self.min_reviews}, {self.min_share:.1%} of the reviews) reviews "
            f"of its group ({self.overall.min_support} of all {self.n_reviews})"
        )

    @property
    def aggregation(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"in each review, the sum of the phrase's word scores ({self.method}, {self.question}); "
            f"mean{unit} over the reviews it occurs in; {self.confidence:.0%} interval: percentile bootstrap "
            f"over those reviews ({self.resamples} resamples)"
        )

    @property
    def ranking(self) -> str:
        return (
            "lowering: by the upper end of the interval, raising: by the lower end (the end nearest zero); "
            "stopwords and punctuation are never drivers; negations are kept with what they negate"
        )

    def settings(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "question": self.question,
            "unit": self.unit,
            "min_support": self.min_support,
            "n_reviews": self.n_reviews,
            "support_rule": self.support_rule,
            "aggregation": self.aggregation,
            "ranking": self.ranking,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "failed": self.failed,
            "whole_sentences": self.whole_sentences,
        }

    def __repr__(self) -> str:  # short: the groups, examples and surprising reviews can be large
        return (
            f"Drivers({self.method}, {self.n_reviews} reviews, {len(self.lowering)} lowering, "
            f"{len(self.raising)} raising, {self.unit})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `lowering` and `raising` of all reviews, the settings, the groups and surprising reviews."""
        return {
            "lowering": [d.to_dict() for d in self.lowering],
            "raising": [d.to_dict() for d in self.raising],
            "settings": self.settings(),
            "by_predicted": [g.to_dict() for g in self.by_predicted],
            "by_given": [g.to_dict() for g in self.by_given],
            "given_vs_predicted": None if self.given_vs_predicted is None else asdict(self.given_vs_predicted),
            "surprising": [s.to_dict() for s in self.surprising],
        }
