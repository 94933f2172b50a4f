"""What people said of a sentence: each rater's score, how they split over the star levels, and how sure their
mean is of its stars (the default model's soft labels). Scores are on VADER's -4..+4 scale; stars use the
same cut-offs as a mean rating (`STAR_CUTOFFS`)."""

from __future__ import annotations

import math
from collections.abc import Sequence

STAR_CUTOFFS = (-2.0, -0.5, 0.5, 2.0)  # mean human rating (-4..+4) -> stars: <= -2 | <= -0.5 | < 0.5 | < 2 | else


def stars_from_rating(rating: float) -> int:
    """Map a VADER mean rating on -4..+4 to 1-5 stars with the documented cut-offs."""
    if rating <= STAR_CUTOFFS[0]:
        return 1
    if rating <= STAR_CUTOFFS[1]:
        return 2
    if rating < STAR_CUTOFFS[2]:
        return 3
    if rating < STAR_CUTOFFS[3]:
        return 4
    return 5


def mean_star_chances(mean: float, standard_error: float) -> tuple[float, ...]:
    """How sure people were of a mean rating's star level: the chance that each of 1-5 stars holds the mean,
    were the raters drawn again (the mean as normal with this standard error, cut at `STAR_CUTOFFS`). A mean
    far from a cut-off is sure of its stars; one near a cut-off splits between the two levels."""
    if standard_error <= 0:
        return tuple(float(s == stars_from_rating(mean)) for s in range(1, 6))
    below = [0.5 * (1 + math.erf((cut - mean) / (standard_error * math.sqrt(2)))) for cut in STAR_CUTOFFS]
    edges = [0.0, *below, 1.0]
    return tuple(max(0.0, edges[i + 1] - edges[i]) for i in range(5))


def standard_error(votes: Sequence[float]) -> float:
    """The standard error of the mean of `votes` (0 for fewer than two)."""
    n = len(votes)
    if n < 2:
        return 0.0
    mean = sum(votes) / n
    return math.sqrt(sum((v - mean) ** 2 for v in votes) / (n - 1) / n)


def star_shares(votes: Sequence[float]) -> tuple[float, ...]:
    """The share of `votes` (scores on -4..+4) that each star level 1-5 gets."""
    counts = [0] * 5
    for v in votes:
        counts[stars_from_rating(v) - 1] += 1
    return tuple(c / len(votes) for c in counts)


def parse_votes(raw: str) -> dict[str, tuple[int, ...]]:
    """`id<TAB>mean<TAB>sd<TAB>[scores]` lines -> {id: each rater's score}."""
    out = {}
    for line in raw.splitlines():
        parts = line.strip().lstrip("\ufeff").split("\t")
        if len(parts) >= 4 and parts[3].startswith("["):
            out[parts[0].strip()] = tuple(int(float(v)) for v in parts[3].strip("[] ").split(",") if v.strip())
    return out
