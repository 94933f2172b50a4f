"""`explain evaluate`, the numbers: per-method means with bootstrap intervals, mean curves, agreement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np

from explain.evaluation.run import RANDOM, SECONDS, Settings
from explain.metrics import METRICS
from explain.metrics.agreement import MEASURES, AgreementMatrix, agreement_matrix, mean_agreement
from explain.metrics.perturbation import CURVE_GRID


def bootstrap_interval(
    values: Sequence[float], *, level: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (Efron & Tibshirani 1993); NaNs are dropped first."""
    x = np.asarray([v for v in values if v is not None and v == v], dtype=np.float64)
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_resamples, len(x)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


def _stat(values: Sequence[float | None], seed: int) -> dict[str, float | int | None]:
    finite = [float(v) for v in values if v is not None and v == v]
    low, high = bootstrap_interval(finite, seed=seed)
    mean = float(np.mean(finite)) if finite else None
    return {"mean": mean, "low": None if low != low else low, "high": None if high != high else high, "n": len(finite)}


def summarize(
    records: Sequence[dict],
    methods: Sequence[str],
    settings: Settings,
    *,
    model: str = "",
    data: str = "",
    n_items: int = 0,
) -> dict:
    """Per-method means and bootstrap intervals, mean curves, agreement matrices and the leaderboard."""
    names = [m for m in dict.fromkeys(methods) if m != RANDOM] + [RANDOM]
    by_method: dict[str, list[dict]] = {m: [] for m in names}
    for r in records:
        if r.get("kind") == "explanation" and r["method"] in by_method:
            by_method[r["method"]].append(r)
    table = {method: _row(method, recs, settings) for method, recs in by_method.items()}
    curves = {method: _mean_curves(recs) for method, recs in by_method.items()}
    real = [m for m in names if m != RANDOM]
    infos = {name: METRICS[name] for name in settings.metrics} | {"seconds": SECONDS}
    return {
        "model": model,
        "data": data,
        "baseline": RANDOM,  # the row holding the random-ranking baseline
        "n_items": n_items,
        "truncated_texts": len({r["key"].split("|")[1] for r in records if r.get("truncated")}),
        "questions": sorted({r["question"] for rs in by_method.values() for r in rs if r.get("question")}),
        "settings": {
            "metrics": list(settings.metrics),
            "mode": settings.mode,
            "bins": list(settings.bins),
            "steps": settings.steps,
            "random_rankings": settings.random_rankings,
            "seed": settings.seed,
            "top_k": settings.top_k,
            "params": {k: dict(v) for k, v in settings.params.items()},
            "bootstrap": {"level": 0.95, "resamples": 2000},
        },
        "metric_info": {
            name: asdict(info) | {"max_value": None if math.isinf(info.max_value) else info.max_value}
            for name, info in infos.items()
        },
        "methods": table,
        "curves": {"grid": np.linspace(0.0, 1.0, CURVE_GRID).tolist(), "by_method": curves},
        "agreement": _agreement(records, real, settings.top_k),
        "leaderboard": _leaderboard(table, real, infos),
    }


def _row(method: str, recs: Sequence[dict], settings: Settings) -> dict:
    row = {name: _stat([r["metrics"].get(name) for r in recs], settings.seed) for name in settings.metrics}
    if method != RANDOM:
        row["seconds"] = _stat([r["seconds"] for r in recs], settings.seed)
        row["model_evaluations"] = _stat([r["model_evaluations"] for r in recs], settings.seed)
    row["n_texts"] = len(recs)
    return row


def _mean_curves(recs: Sequence[dict]) -> dict[str, list[float]]:
    return {
        kind: np.mean([r["curves"][kind] for r in recs if kind in r["curves"]], axis=0).tolist()
        for kind in ("deletion", "insertion")
        if any(kind in r["curves"] for r in recs)
    }


def _agreement(records: Sequence[dict], real: Sequence[str], top_k: int) -> dict[str, dict]:
    """Each agreement measure's methods x methods matrix, averaged over the texts two or more methods explained."""
    if len(real) < 2:
        return {}
    per_text: dict[str, dict[str, np.ndarray]] = {}
    for r in records:
        if r.get("kind") == "explanation" and r["method"] in real and r.get("word_scores") is not None:
            per_text.setdefault(r["key"].split("|")[1], {})[r["method"]] = np.asarray(r["word_scores"])
    agreement = {}
    for measure in MEASURES:
        mats = [agreement_matrix(scores, measure, k=top_k) for scores in per_text.values() if len(scores) > 1]
        matrix = mean_agreement(mats, real) if mats else AgreementMatrix(measure, tuple(real), np.eye(len(real)))
        agreement[measure] = matrix.to_dict()
    return agreement


def _leaderboard(table: dict[str, dict], real: Sequence[str], infos: dict) -> dict[str, dict]:
    leaderboard = {}
    for name, info in infos.items():
        means = {m: table[m][name]["mean"] for m in real if table[m].get(name, {}).get("mean") is not None}
        best = info.best(means)
        if best is not None:
            leaderboard[name] = {"method": best, "mean": means[best]}
    return leaderboard
