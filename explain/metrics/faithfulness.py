"""Faithfulness: do the words an explanation ranks highest really drive the model's output?

Comprehensiveness and sufficiency in AOPC form (ERASER, DeYoung et al. 2020), deletion/insertion
AUC (Petsiuk et al. 2018, RISE), tau-LOO, and the same figures for random rankings (the chance
level every number is read against).

Conventions shared by every metric here:
- Model output: the explained number (`Explanation.target_spec.from_proba`): the expected rating
  (in stars), p_target(x), or p_target(x) - p_contrast(x) for a contrastive explanation.
- Ranking: words by their signed word score, highest first (most raising the output); ties keep text order.
- Class-agnostic explanations (attention, rollout: "where the model looked") make no signed claim:
  they are measured on a question given by the caller (default: the rating, else the predicted
  class), and comprehensiveness, sufficiency and tau-LOO use the size of the change, |f(x) - f(x')|.
- x is the text as the model sees it: cut after the last word within the model's maximum length,
  so deleting words never pulls unseen text into the window.
- Removing a word deletes its characters (`mode="delete"`, the same text surgery as occlusion:
  `explain.words.remove_words`) or replaces it with one mask token (`mode="mask"`).
  [CLS]/[SEP] are added by the tokenizer to every perturbed text, so they are always kept.
- top-k%: k = ceil(fraction * n_words), at least 1 word (so the 1% bin always removes a word).
- All perturbed texts of one explanation are built first and scored with ONE
  `classifier.predict_proba` call (which also drops duplicates); `faithfulness()` does that for
  several metrics and random rankings at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from explain.errors import UserError
from explain.explanation import Explanation
from explain.metrics import MetricInfo, metric
from explain.metrics.perturbation import (
    CURVE_STEPS,
    Curve,
    Probe,
    Ranking,
    TextView,
    comprehensiveness_probe,
    curve_probe,
    loo_probe,
    question,
    ranking,
    score_probes,
    sufficiency_probe,
)
from explain.target import Target

BINS: tuple[float, ...] = (0.01, 0.05, 0.10, 0.20, 0.50)  # ERASER's AOPC bins
FAITHFULNESS_METRICS = ("comprehensiveness", "sufficiency", "deletion_auc", "insertion_auc", "tau_loo")

_RISE = "Petsiuk et al. 2018, RISE: Randomized Input Sampling for Explanation of Black-box Models"


@dataclass(frozen=True)
class FaithfulnessResult:
    """Faithfulness of one explanation, and the same metrics for random rankings of its words."""

    values: dict[str, float]
    curves: dict[str, Curve]  # "deletion" / "insertion" when those metrics ran
    random: dict[str, float] = field(default_factory=dict)  # mean over the random rankings
    random_curves: dict[str, Curve] = field(default_factory=dict)  # mean curve of the random rankings
    loo_drops: np.ndarray | None = None  # (n_words,) leave-one-out output drops, when computed
    texts_scored: int = 0  # perturbed texts sent to predict_proba (before its de-duplication)


def _kendall(scores: np.ndarray, drops: np.ndarray) -> float:
    from scipy.stats import kendalltau

    if len(scores) < 2 or np.ptp(scores) == 0 or np.ptp(drops) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(kendalltau(scores, drops).statistic)


# ---------------------------------------------------------------- all at once
def faithfulness(
    classifier,
    explanation: Explanation,
    *,
    metrics: Sequence[str] = FAITHFULNESS_METRICS,
    bins: Sequence[float] = BINS,
    steps: int = CURVE_STEPS,
    mode: str = "delete",
    loo_drops: np.ndarray | None = None,
    random_rankings: int = 0,
    seed: int = 0,
    include_explanation: bool = True,
    target: Target | None = None,
) -> FaithfulnessResult:
    """Several faithfulness metrics of one explanation (and of `random_rankings` seeded random
    rankings of its words) from a single `predict_proba` call.

    `loo_drops` (the leave-one-out output drops, e.g. from an earlier call) saves tau-LOO's
    n_words evaluations. `target`: the question to measure on (see `question`).
    """
    unknown = [m for m in metrics if m not in FAITHFULNESS_METRICS]
    if unknown:
        raise UserError(
            f"unknown faithfulness metric {', '.join(unknown)}; choose from {', '.join(FAITHFULNESS_METRICS)}"
        )
    view = TextView(classifier, explanation, mode)
    signed = explanation.class_specific
    nan = float("nan")
    if view.n == 0:
        empty = dict.fromkeys(metrics, nan)
        return FaithfulnessResult(empty if include_explanation else {}, {}, empty if random_rankings else {}, {})
    orders: dict[str, Ranking] = {}
    if include_explanation:
        orders["explanation"] = ranking(explanation.word_scores)
    rng = np.random.default_rng(seed)
    for r in range(random_rankings):
        orders[f"random{r}"] = rng.permutation(view.n)
    probes = _ranking_probes(view, orders, metrics, bins, steps, signed)
    if "tau_loo" in metrics and loo_drops is None:
        probes["loo"] = loo_probe(view)
    done = score_probes(classifier, question(explanation, target), probes)
    drops = done.get("loo", None if loo_drops is None else np.asarray(loo_drops, dtype=np.float64))
    if drops is not None and len(drops) != view.n:
        raise ValueError(f"loo_drops has {len(drops)} values for {view.n} words")

    def values_for(source: str, order: Ranking) -> tuple[dict[str, float], dict[str, Curve]]:
        scores = explanation.word_scores if source == "explanation" else _rank_scores(order)
        return _metric_values(done, source, metrics, scores, drops if signed or drops is None else np.abs(drops))

    values, curves = values_for("explanation", orders["explanation"]) if include_explanation else ({}, {})
    runs = [values_for(s, o) for s, o in orders.items() if s.startswith("random")]
    random_values, random_curves = _average_runs(runs, metrics)
    return FaithfulnessResult(
        values, curves, random_values, random_curves, drops, sum(len(p.texts) for p in probes.values())
    )


def _metric_values(
    done: Mapping[object, object], source: str, metrics: Sequence[str], scores: np.ndarray, drops: np.ndarray | None
) -> tuple[dict[str, float], dict[str, Curve]]:
    """One ranking's metric values and curves from its finished probes (`scores` and `drops` for tau-LOO)."""
    values: dict[str, float] = {}
    curves: dict[str, Curve] = {}
    for name in metrics:
        if name in ("comprehensiveness", "sufficiency"):
            values[name] = done[(source, name)]
        elif name in ("deletion_auc", "insertion_auc"):
            kind = name.removesuffix("_auc")
            curves[kind] = done[(source, kind)]
            values[name] = curves[kind].auc
        else:  # tau_loo: a ranking's scores are its reversed positions
            values[name] = _kendall(np.asarray(scores, dtype=np.float64), drops)
    return values, curves


def _ranking_probes(
    view: TextView,
    orders: Mapping[str, Ranking],
    metrics: Sequence[str],
    bins: Sequence[float],
    steps: int,
    signed: bool,
) -> dict[object, Probe]:
    """The texts each metric needs for each ranking, keyed by (ranking, measure)."""
    probes: dict[object, Probe] = {}
    for source, order in orders.items():
        if "comprehensiveness" in metrics:
            probes[(source, "comprehensiveness")] = comprehensiveness_probe(view, order, bins, signed)
        if "sufficiency" in metrics:
            probes[(source, "sufficiency")] = sufficiency_probe(view, order, bins, signed)
        if "deletion_auc" in metrics:
            probes[(source, "deletion")] = curve_probe(view, order, steps, insertion=False)
        if "insertion_auc" in metrics:
            probes[(source, "insertion")] = curve_probe(view, order, steps, insertion=True)
    return probes


def _average_runs(
    runs: Sequence[tuple[dict[str, float], dict[str, Curve]]], metrics: Sequence[str]
) -> tuple[dict[str, float], dict[str, Curve]]:
    """The random rankings' metric values and curves, averaged ({} and {} without runs)."""
    if not runs:
        return {}, {}
    values = {name: _nanmean([v[name] for v, _ in runs]) for name in metrics}
    curves = {}
    for kind, first in runs[0][1].items():
        curves[kind] = Curve(first.fractions, np.mean([c[kind].outputs for _, c in runs], axis=0))
    return values, curves


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if v == v]
    return float(np.mean(finite)) if finite else float("nan")


def _rank_scores(order: Ranking) -> np.ndarray:
    scores = np.empty(len(order))
    scores[order] = np.arange(len(order), 0, -1)
    return scores


# ---------------------------------------------------------------- one metric at a time
@metric(
    MetricInfo(
        "comprehensiveness",
        "faithfulness",
        higher_is_better=True,
        min_value=-1.0,
        max_value=1.0,
        summary="drop in the target probability when the top-k% words are removed (AOPC over 1/5/10/20/50%)",
        reference="DeYoung et al. 2020, ERASER: A Benchmark to Evaluate Rationalized NLP Models",
    )
)
def comprehensiveness(
    classifier, explanation: Explanation, *, bins: Sequence[float] = BINS, mode: str = "delete"
) -> float:
    """AOPC comprehensiveness: mean over bins of p_j(x) - p_j(x without its top-k% words).
    DeYoung et al. 2020 (ERASER). Higher is better."""
    return faithfulness(classifier, explanation, metrics=("comprehensiveness",), bins=bins, mode=mode).values[
        "comprehensiveness"
    ]


@metric(
    MetricInfo(
        "sufficiency",
        "faithfulness",
        higher_is_better=False,
        min_value=-1.0,
        max_value=1.0,
        summary="drop in the target probability when ONLY the top-k% words are kept (AOPC over 1/5/10/20/50%)",
        reference="DeYoung et al. 2020, ERASER: A Benchmark to Evaluate Rationalized NLP Models",
    )
)
def sufficiency(classifier, explanation: Explanation, *, bins: Sequence[float] = BINS, mode: str = "delete") -> float:
    """AOPC sufficiency: mean over bins of p_j(x) - p_j(top-k% words of x alone).
    DeYoung et al. 2020 (ERASER). Lower is better."""
    return faithfulness(classifier, explanation, metrics=("sufficiency",), bins=bins, mode=mode).values["sufficiency"]


def deletion_curve(classifier, explanation: Explanation, *, steps: int = CURVE_STEPS, mode: str = "delete") -> Curve:
    """Target output as words are removed, most important first (Petsiuk et al. 2018)."""
    return faithfulness(classifier, explanation, metrics=("deletion_auc",), steps=steps, mode=mode).curves["deletion"]


def insertion_curve(classifier, explanation: Explanation, *, steps: int = CURVE_STEPS, mode: str = "delete") -> Curve:
    """Target output as words are added to an empty (or all-mask) text, most important first (Petsiuk et al. 2018)."""
    return faithfulness(classifier, explanation, metrics=("insertion_auc",), steps=steps, mode=mode).curves["insertion"]


@metric(
    MetricInfo(
        "deletion_auc",
        "faithfulness",
        higher_is_better=False,
        min_value=0.0,
        max_value=1.0,
        summary="area under the target probability as words are deleted, most important first",
        reference=_RISE,
    )
)
def deletion_auc(classifier, explanation: Explanation, *, steps: int = CURVE_STEPS, mode: str = "delete") -> float:
    """Deletion AUC over the fraction of words removed (Petsiuk et al. 2018). Lower is better."""
    return deletion_curve(classifier, explanation, steps=steps, mode=mode).auc


@metric(
    MetricInfo(
        "insertion_auc",
        "faithfulness",
        higher_is_better=True,
        min_value=0.0,
        max_value=1.0,
        summary="area under the target probability as words are inserted into an empty text, most important first",
        reference=_RISE,
    )
)
def insertion_auc(classifier, explanation: Explanation, *, steps: int = CURVE_STEPS, mode: str = "delete") -> float:
    """Insertion AUC over the fraction of words inserted (Petsiuk et al. 2018). Higher is better."""
    return insertion_curve(classifier, explanation, steps=steps, mode=mode).auc


def leave_one_out(
    classifier, explanation: Explanation, *, mode: str = "delete", target: Target | None = None
) -> np.ndarray:
    """Drop in the explained output when each word alone is removed, (n_words,); Li et al. 2016."""
    view = TextView(classifier, explanation, mode)
    if view.n == 0:
        return np.zeros(0)
    return score_probes(classifier, question(explanation, target), {"loo": loo_probe(view)})["loo"]


@metric(
    MetricInfo(
        "tau_loo",
        "faithfulness",
        higher_is_better=True,
        min_value=-1.0,
        max_value=1.0,
        summary="Kendall tau between word scores and leave-one-out probability drops",
        reference="Kendall tau-b against leave-one-out erasure (Li et al. 2016), as in ferret's "
        "taucorr_loo (Attanasio et al. 2023)",
    )
)
def tau_loo(
    classifier, explanation: Explanation, *, mode: str = "delete", loo_drops: np.ndarray | None = None
) -> float:
    """Kendall tau-b between the word scores and the leave-one-out drops of the target output
    (Li et al. 2016 erasure; ferret, Attanasio et al. 2023). NaN when either is constant."""
    return faithfulness(classifier, explanation, metrics=("tau_loo",), mode=mode, loo_drops=loo_drops).values["tau_loo"]


def random_baseline(
    classifier, explanation: Explanation, metric_name: str, *, n: int = 5, seed: int = 0, **params: object
) -> float:
    """`metric_name` for `n` seeded random rankings of the explanation's words, averaged: the chance level."""
    result = faithfulness(
        classifier,
        explanation,
        metrics=(metric_name,),
        random_rankings=n,
        seed=seed,
        include_explanation=False,
        **params,
    )  # type: ignore[arg-type]
    return result.random[metric_name]
