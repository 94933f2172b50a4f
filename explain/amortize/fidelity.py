"""How close a learned approximation's word scores are to a reference's, per review.

The measures of Yang et al. 2023 (Spearman, top-k overlap against the reference) and a sign check:
- `spearman`: rank correlation of the two word-score arrays (signed scores);
- `top_overlap`: share of the reference's k most influential words (largest |score|, either direction)
  that are also among the approximation's k most influential;
- `top_sign_agreement`: share of the reference's k most influential words whose score has the same sign
  in the approximation (does it say "raised" where the reference does?).
k is capped by the number of words; a review of one word has no Spearman (NaN, left out of means).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from explain.metrics.agreement import score_agreement


def _most_influential(scores: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-np.abs(np.asarray(scores, dtype=np.float64)), kind="stable")[:k]


def top_overlap(approximation: np.ndarray, reference: np.ndarray, k: int = 5) -> float:
    """Share of the reference's k largest-|score| words among the approximation's k largest-|score| words."""
    k = min(k, len(reference))
    if k == 0:
        return float("nan")
    return len(set(_most_influential(approximation, k)) & set(_most_influential(reference, k))) / k


def top_sign_agreement(approximation: np.ndarray, reference: np.ndarray, k: int = 3) -> float:
    """Share of the reference's k largest-|score| words given the same sign by the approximation."""
    top = _most_influential(reference, min(k, len(reference)))
    if not len(top):
        return float("nan")
    return float(np.mean(np.sign(np.asarray(approximation)[top]) == np.sign(np.asarray(reference)[top])))


@dataclass(frozen=True)
class Fidelity:
    """Per-review agreement of an approximation with a reference (see the module doc)."""

    spearman: float
    top5_overlap: float
    top3_sign_agreement: float


def fidelity(approximation: np.ndarray, reference: np.ndarray) -> Fidelity:
    """The three measures for one review's word scores."""
    if len(approximation) != len(reference):
        raise ValueError(f"word-score arrays differ in length ({len(approximation)} vs {len(reference)})")
    return Fidelity(
        score_agreement(np.asarray(approximation), np.asarray(reference), "spearman"),
        top_overlap(approximation, reference, 5),
        top_sign_agreement(approximation, reference, 3),
    )


def mean_fidelity(rows: Iterable[Fidelity]) -> Fidelity:
    """Each measure's mean over reviews (NaNs left out)."""
    rows = list(rows)

    def mean(name: str) -> float:
        values = [getattr(r, name) for r in rows if np.isfinite(getattr(r, name))]
        return float(np.mean(values)) if values else float("nan")

    return Fidelity(mean("spearman"), mean("top5_overlap"), mean("top3_sign_agreement"))
