"""Agreement between explanation methods on the same text: rank correlation and top-k overlap of word scores.

Krishna et al. 2022, "The Disagreement Problem in Explainable Machine Learning" (feature agreement,
rank correlation). Scores are compared signed, as the faithfulness metrics rank them: the top-k
are the k words that most support the target.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from explain.explanation import Explanation
from explain.metrics import MetricInfo, metric

MEASURES = ("spearman", "kendall", "top_k_overlap")
TOP_K = 10

_REFERENCE = "Krishna et al. 2022, The Disagreement Problem in Explainable Machine Learning"


def _same_words(a: Explanation, b: Explanation) -> None:
    if a.words != b.words:
        raise ValueError(
            f"{a.method} and {b.method} explain different words; compare explanations of the same text "
            "by the same model"
        )


def _correlation(x: np.ndarray, y: np.ndarray, how: str) -> float:
    from scipy.stats import kendalltau, spearmanr

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = spearmanr(x, y) if how == "spearman" else kendalltau(x, y)
    return float(result.statistic)


def _top_k(x: np.ndarray, k: int) -> set[int]:
    return set(np.argsort(-np.asarray(x, dtype=np.float64), kind="stable")[:k].tolist())


def score_agreement(x: np.ndarray, y: np.ndarray, measure: str, k: int = TOP_K) -> float:
    """Agreement of two word-score arrays of the same words by `measure` (one of MEASURES)."""
    if len(x) != len(y):
        raise ValueError(f"score arrays differ in length ({len(x)} vs {len(y)})")
    if measure in ("spearman", "kendall"):
        return _correlation(x, y, measure)
    if measure == "top_k_overlap":
        k = min(k, len(x))
        return float(len(_top_k(x, k) & _top_k(y, k)) / k) if k else float("nan")
    raise ValueError(f"unknown agreement measure {measure!r}; choose from {MEASURES}")


@metric(
    MetricInfo(
        "spearman",
        "agreement",
        higher_is_better=True,
        min_value=-1.0,
        max_value=1.0,
        summary="Spearman rank correlation of two methods' word scores",
        reference=_REFERENCE,
    )
)
def spearman(a: Explanation, b: Explanation) -> float:
    """Spearman rank correlation of the word scores of two explanations of one text (Krishna et al. 2022)."""
    _same_words(a, b)
    return score_agreement(a.word_scores, b.word_scores, "spearman")


@metric(
    MetricInfo(
        "kendall",
        "agreement",
        higher_is_better=True,
        min_value=-1.0,
        max_value=1.0,
        summary="Kendall tau-b of two methods' word scores",
        reference=_REFERENCE,
    )
)
def kendall(a: Explanation, b: Explanation) -> float:
    """Kendall tau-b of the word scores of two explanations of one text (Krishna et al. 2022)."""
    _same_words(a, b)
    return score_agreement(a.word_scores, b.word_scores, "kendall")


@metric(
    MetricInfo(
        "top_k_overlap",
        "agreement",
        higher_is_better=True,
        min_value=0.0,
        max_value=1.0,
        summary=f"share of the top-{TOP_K} words (by signed score) two methods have in common",
        reference=_REFERENCE + " (feature agreement)",
    )
)
def top_k_overlap(a: Explanation, b: Explanation, *, k: int = TOP_K) -> float:
    """|top-k(a) ∩ top-k(b)| / k, k capped at the number of words (feature agreement, Krishna et al. 2022)."""
    _same_words(a, b)
    return score_agreement(a.word_scores, b.word_scores, "top_k_overlap", k)


def agreement(a: Explanation, b: Explanation, *, k: int = TOP_K) -> dict[str, float]:
    """Every agreement measure between two explanations of one text."""
    _same_words(a, b)
    return {m: score_agreement(a.word_scores, b.word_scores, m, k) for m in MEASURES}


@dataclass(frozen=True)
class AgreementMatrix:
    """A methods x methods matrix of one agreement measure (symmetric, ones on the diagonal)."""

    measure: str
    methods: tuple[str, ...]
    values: np.ndarray  # (n_methods, n_methods)
    counts: np.ndarray | None = None  # (n_methods, n_methods) texts each cell averages, when averaged

    def to_dict(self) -> dict:
        return {
            "measure": self.measure,
            "methods": list(self.methods),
            "values": [[None if v != v else round(float(v), 6) for v in row] for row in self.values],
            "counts": None if self.counts is None else self.counts.astype(int).tolist(),
        }


def agreement_matrix(
    scores: Mapping[str, Explanation | np.ndarray], measure: str = "spearman", *, k: int = TOP_K
) -> AgreementMatrix:
    """The methods x methods agreement of explanations (or word-score arrays) of one text."""
    names = tuple(scores)
    arrays = []
    for name in names:
        item = scores[name]
        arrays.append(item.word_scores if isinstance(item, Explanation) else np.asarray(item, dtype=np.float64))
    explanations = [s for s in scores.values() if isinstance(s, Explanation)]
    for other in explanations[1:]:
        _same_words(explanations[0], other)
    n = len(names)
    values = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            values[i, j] = values[j, i] = score_agreement(arrays[i], arrays[j], measure, k)
    return AgreementMatrix(measure, names, values)


def mean_agreement(matrices: Sequence[AgreementMatrix], methods: Sequence[str] | None = None) -> AgreementMatrix:
    """Cell-wise mean of per-text matrices (NaNs and methods missing from a text skipped)."""
    if not matrices:
        raise ValueError("no agreement matrices to average")
    measure = matrices[0].measure
    names = tuple(methods) if methods is not None else tuple(dict.fromkeys(m for mat in matrices for m in mat.methods))
    index = {m: i for i, m in enumerate(names)}
    total = np.zeros((len(names), len(names)))
    count = np.zeros((len(names), len(names)))
    for mat in matrices:
        if mat.measure != measure:
            raise ValueError(f"cannot average {mat.measure} with {measure}")
        pos = [index.get(m) for m in mat.methods]
        for a, i in enumerate(pos):
            for b, j in enumerate(pos):
                if i is not None and j is not None and mat.values[a, b] == mat.values[a, b]:
                    total[i, j] += mat.values[a, b]
                    count[i, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    np.fill_diagonal(values, 1.0)
    return AgreementMatrix(measure, names, values, count)
