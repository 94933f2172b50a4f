"""Held-out scores of a classifier over a LabelSet: accuracy, macro-F1, MAE, recall, confusion."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from explain.training.label_sets import LabelSet


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
