"""Held-out scores of a classifier over a LabelSet: accuracy, macro-F1, MAE, recall, confusion; and the calibration
of a star model's expected rating against people's mean ratings."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from explain.data import stars_from_rating
from explain.training.label_sets import LabelSet

STAR_VALUES = np.arange(1, 6, dtype=float)


def evaluate_labels(predicted: Sequence[int], given: Sequence[int], labels: LabelSet) -> dict:
    """Accuracy, macro-F1 (over labels given or predicted), MAE in label values, per-class recall,
    the confusion matrix (rows: given) and the largest share of predictions in one class."""
    pred, gold = np.asarray(predicted, dtype=int), np.asarray(given, dtype=int)
    k = len(labels)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (gold, pred), 1)
    values = np.asarray(labels.values)
    n_gold, n_pred, hit = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    seen = (n_gold + n_pred) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(n_gold > 0, hit / np.maximum(n_gold, 1), np.nan)
        f1 = np.where(seen, 2 * hit / np.maximum(n_gold + n_pred, 1), np.nan)
    n = len(gold)
    top = int(n_pred.argmax()) if n else 0
    return {
        "n": int(n),
        "accuracy": float(np.mean(pred == gold)) if n else float("nan"),
        "macro_f1": float(np.nanmean(f1)) if n else float("nan"),
        "mae": float(np.mean(np.abs(values[pred] - values[gold]))) if n else float("nan"),
        "per_class_recall": {
            name: (None if np.isnan(r) else float(r)) for name, r in zip(labels.names, recall, strict=True)
        },
        "confusion_matrix": confusion.tolist(),
        "top_predicted": labels.names[top],
        "top_predicted_share": float(n_pred[top] / n) if n else float("nan"),
    }


def evaluate_stars(predicted: Sequence[int], given: Sequence[int]) -> dict:
    """`evaluate_labels` on 1-5 stars (given as stars), with the MAE also as `mae_stars`."""
    m = evaluate_labels(np.asarray(predicted) - 1, np.asarray(given) - 1, LabelSet.stars())
    return m | {"mae_stars": m["mae"]}


def linear_stars(mean_rating: np.ndarray) -> np.ndarray:
    return 1 + (np.asarray(mean_rating, dtype=float) + 4) / 2


def calibration(probs: np.ndarray, human_mean: np.ndarray) -> dict:
    """How a 1-5 star model's probabilities `probs` (n, 5) match people's mean ratings `human_mean` (on -4..+4):
    against the stars of the mean (`stars`: Pearson and MAE of the expected rating, accuracy of the most likely
    label) and against the mean mapped linearly onto 1-5 (`linear`); how often each star level is predicted
    against how often it is given; the most likely label's confidence and its calibration error. Keys starting
    with "_" hold per-text values (for plots)."""
    expected = probs @ STAR_VALUES
    given = np.array([stars_from_rating(r) for r in human_mean])
    predicted = probs.argmax(1) + 1
    linear = linear_stars(human_mean)
    n_given = np.bincount(given, minlength=6)[1:]
    n_pred = np.bincount(predicted, minlength=6)[1:]
    ratio = [float(p / g) if g else (None if not p else float("inf")) for p, g in zip(n_pred, n_given, strict=True)]
    finite = [r for r in ratio if r is not None and np.isfinite(r)]
    confidence = probs.max(1)
    return {
        "n": len(human_mean),
        "stars": {
            "pearson": float(np.corrcoef(expected, given)[0, 1]),
            "mae": float(np.mean(np.abs(expected - given))),
            "accuracy": float(np.mean(predicted == given)),
            "mae_of_most_likely": float(np.mean(np.abs(predicted - given))),
        },
        "linear": {
            "pearson": float(np.corrcoef(expected, linear)[0, 1]),
            "mae": float(np.mean(np.abs(expected - linear))),
        },
        "mean_expected": float(expected.mean()),
        "mean_human_linear": float(linear.mean()),
        "given_per_star": n_given.tolist(),
        "predicted_per_star": n_pred.tolist(),
        "predicted_over_given": ratio,
        "most_over_predicted_ratio": max(finite) if finite else None,
        "star_never_given_but_predicted": [s + 1 for s, r in enumerate(ratio) if r == float("inf")],
        "mean_confidence": float(confidence.mean()),
        "ece_top_label": _ece(confidence, predicted == given),
        "_expected": expected.tolist(),
        "_linear": linear.tolist(),
        "_confidence": confidence.tolist(),
        "_correct": (predicted == given).astype(int).tolist(),
    }


def _ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of the most likely label (10 equal-width confidence bins)."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges) - 1, 0, bins - 1)
    return float(
        sum(abs(confidence[which == b].mean() - correct[which == b].mean()) * np.mean(which == b)
            for b in range(bins) if np.any(which == b))
    )  # fmt: skip
