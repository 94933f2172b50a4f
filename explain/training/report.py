"""The honest report of a training run: the model vs the majority class and TF-IDF + logistic regression."""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from explain.errors import DataError, InputWarning
from explain.training.label_sets import LabelSet, infer_labels
from explain.training.recipe import Example, TrainingConfig, fine_tune, grouped_split
from explain.training.scores import evaluate_labels
from explain.training.start import Start

COLLAPSE_SHARE = 0.9  # warn when this share of held-out predictions is one class


def csv_examples(
    path: Path,
    text_col: str,
    stars_col: str | None,
    label_col: str | None,
    order: Sequence[str] | None,
    test_fraction: float,
    seed: int,
) -> tuple[LabelSet, list[Example], list[Example], dict]:
    """(labels, train, test, about the file) from a CSV: `stars_col` holds 1-5 stars, `label_col` any
    rating or named labels in `order`; rows split by the seed (`test_fraction` 0: no test rows)."""
    from explain.data import read_reviews_csv

    column = stars_col or label_col
    if stars_col:  # given stars read as reports and the dashboard read them: a bad value is reported per row
        rows = read_reviews_csv(path, text_col, stars_col=stars_col)
        reviews = [r for r in rows if r.stars is not None]
        if not reviews:
            raise DataError(f"{path}: no row has stars from 1 to 5 in column {stars_col!r}; nothing to train on")
        if len(reviews) < len(rows):
            warnings.warn(
                f"{path}: {len(rows) - len(reviews)} row(s) without stars from 1 to 5 are left out of training",
                InputWarning,
                stacklevel=2,
            )
        raw = [str(r.stars) for r in reviews]  # rows without stars are left out of training (warned above)
    else:
        reviews = read_reviews_csv(path, text_col, label_col=column)
        raw = [r.label for r in reviews]
    labels, index = infer_labels(raw, order, stars=bool(stars_col), column=column)
    examples = [Example(r.text, i, f"row:{n}") for n, (r, i) in enumerate(zip(reviews, index, strict=True))]
    train, test = grouped_split(examples, test_fraction, seed) if test_fraction > 0 else (examples, [])
    if not train:
        raise DataError(f"{path}: too few reviews to train on ({len(examples)})")
    about = {"data": {"file": str(path), "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}}
    about["data"]["rows"] = len(reviews)
    return labels, train, test, about


def tfidf_baseline(train: Sequence[Example], test: Sequence[Example], seed: int = 0) -> list[int]:
    """Predictions of a class-balanced TF-IDF (words and word pairs) + logistic regression on `test`."""
    return tfidf_probabilities(train, test, seed).argmax(1).tolist()


def tfidf_probabilities(
    train: Sequence[Example], test: Sequence[Example], seed: int = 0, n_labels: int | None = None
) -> np.ndarray:
    """Class probabilities (n_test, n_labels; labels absent from `train` get 0) of the class-balanced TF-IDF
    (words and word pairs) + logistic regression trained on `train`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform([ex.text for ex in train])
    clf = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit(x_train, [ex.label for ex in train])
    seen = clf.predict_proba(vectorizer.transform([ex.text for ex in test]))
    probs = np.zeros((len(test), max(n_labels or 0, int(clf.classes_.max()) + 1)))
    probs[:, clf.classes_] = seen
    return probs


def training_warnings(heldout: dict) -> list[str]:
    """Warnings for a collapsed model and for one that does not beat the TF-IDF baseline on macro-F1."""
    model, tfidf = heldout["model"], heldout.get("tfidf_logreg")
    warnings = []
    if model["n"] and model["top_predicted_share"] >= COLLAPSE_SHARE:
        warnings.append(
            f"the model puts {model['top_predicted_share']:.0%} of the held-out reviews in {model['top_predicted']!r}: "
            "it has (nearly) collapsed into one class; try more data per class, more epochs or a higher --lr"
        )
    if tfidf and model["n"] and not model["macro_f1"] > tfidf["macro_f1"]:
        warnings.append(
            f"the model does not beat TF-IDF + logistic regression on macro-F1 "
            f"({model['macro_f1']:.3f} vs {tfidf['macro_f1']:.3f}): prefer the simpler model or get more data"
        )
    return warnings


def heldout_report(
    folder: Path, train: Sequence[Example], test: Sequence[Example], labels: LabelSet, seed: int = 0
) -> dict:
    """Held-out metrics of the model in `folder`, the majority baseline and TF-IDF + logistic regression,
    all trained on `train` and scored on `test`, with the warnings."""
    from explain.classifier import Classifier

    gold = [ex.label for ex in test]
    probs = Classifier.from_pretrained(folder).predict_proba([ex.text for ex in test])
    majority = int(np.bincount([ex.label for ex in train], minlength=len(labels)).argmax())
    heldout = {
        "model": evaluate_labels(probs.argmax(1).tolist(), gold, labels),
        "majority": evaluate_labels([majority] * len(test), gold, labels),
        "tfidf_logreg": evaluate_labels(tfidf_baseline(train, test, seed), gold, labels),
    }
    return heldout


def train_and_report(
    base: str | Path | Start,
    train: Sequence[Example],
    test: Sequence[Example],
    labels: LabelSet,
    out_dir: str | Path,
    config: TrainingConfig | None = None,
    progress: bool = True,
    overwrite: bool = False,
    about: dict | None = None,
) -> dict:
    """Fine-tune `base` (a checkpoint, or a `Start`: see `fine_tune`) on `train`, report on `test` against the
    baselines; metrics.json in `out_dir` holds the same dict (labels, data hash, split, recipe with the start
    and history, held-out metrics, warnings)."""
    config = config or TrainingConfig()

    def report(folder: Path) -> dict:
        metrics: dict = dict(about or {})
        metrics |= {
            "labels": list(labels.names),
            "label_values": list(labels.values),
            "split": {"n_train": len(train), "n_test": len(test)},
            "class_counts_train": dict(
                zip(labels.names, np.bincount([e.label for e in train], minlength=len(labels)).tolist(), strict=True)
            ),
        }
        if test:
            metrics["heldout"] = heldout_report(folder, train, test, labels, config.seed)
            metrics["warnings"] = training_warnings(metrics["heldout"])
        else:
            metrics["heldout"] = None
            metrics["warnings"] = ["no held-out split (--test-fraction 0): nothing was measured"]
        return metrics

    fine_tune(base, train, out_dir, config, progress=progress, on_saved=report, overwrite=overwrite, labels=labels)
    return json.loads((Path(out_dir) / "metrics.json").read_text())


def report_lines(metrics: dict) -> list[str]:
    """The training report as text lines (the CLI prints them): recipe, per-system metrics, confusion."""
    t = metrics["training"]
    start = t.get("start")
    lines = (
        [
            f"Started from the {start['kind']} ({start['checkpoint']}; head {start['head']}): {start['reason']}"
            + (f"; lowest {t['freeze_layers']} layers frozen" if t.get("freeze_layers") else "")
        ]
        if start
        else []
    )
    lines += [
        f"Trained on {t['n_fit']} reviews (validation {t['n_validation']}), labels {', '.join(metrics['labels'])}; "
        f"{t['epochs_run']} epoch(s), best epoch {t['best_epoch']} ({t['stopped']}); max length "
        f"{t['max_length_used']} tokens ({t['max_length_rule']}; {t['long_texts']}); {t['train_seconds']} s",
    ]
    heldout = metrics.get("heldout")
    if heldout:
        lines.append(f"Held-out reviews: {heldout['model']['n']}")
        lines.append(f"  {'':24} {'accuracy':>8} {'macro-F1':>8} {'MAE':>6}  per-class recall")
        names = {"model": "this model", "majority": "majority class", "tfidf_logreg": "TF-IDF + logistic reg."}
        for key, name in names.items():
            m = heldout[key]
            recall = ", ".join(
                f"{label} {'-' if r is None else f'{r:.2f}'}" for label, r in m["per_class_recall"].items()
            )
            lines.append(f"  {name:24} {m['accuracy']:8.3f} {m['macro_f1']:8.3f} {m['mae']:6.3f}  {recall}")
        lines.append("  confusion matrix of this model (rows: given, columns: predicted):")
        width = max(len(x) for x in metrics["labels"])
        for label, row in zip(metrics["labels"], heldout["model"]["confusion_matrix"], strict=True):
            lines.append(f"    {label:>{width}} " + " ".join(f"{c:5d}" for c in row))
    return lines
