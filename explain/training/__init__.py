"""Fine-tuning a BERT-style checkpoint into a rating classifier, and the default model's recipe.

The same code builds the embedded default model (MiniLM-L6 + VADER's human-rated sentences) and
serves `explain train` on a user's own reviews: labels from the data (1-5 stars, 1-10, 0-4, or named
labels in a given order), class-weighted loss, epochs chosen on a validation split (best checkpoint
kept), a max length from the data's length distribution, a time budget, and an honest report
against a majority and a TF-IDF + logistic-regression baseline (`train_and_report`).

Modules: `label_sets` (labels from a rating column), `recipe` (TrainingConfig, fine_tune), `output`
(the output folder: checked before training, never someone else's), `scores` (held-out metrics),
`report` (baselines, warnings, the report), `start` (where a run starts: the default star model with its
head re-mapped to ordered labels, or a base checkpoint).
"""

from explain.training.label_sets import MAX_LABELS, STAR_LABELS, LabelSet, infer_labels
from explain.training.output import MODEL_MARKER, prepare_output
from explain.training.recipe import (
    DEFAULT_MODEL_CONFIG,
    LEGACY_DEFAULT_CONFIG,
    Example,
    TrainingConfig,
    data_hash,
    fine_tune,
    grouped_split,
)
from explain.training.report import (
    COLLAPSE_SHARE,
    csv_examples,
    heldout_report,
    report_lines,
    tfidf_baseline,
    tfidf_probabilities,
    train_and_report,
    training_warnings,
)
from explain.training.scores import evaluate_labels, evaluate_stars
from explain.training.start import START_CHOICES, Start, choose_start, head_map, labels_ordered, load_start

__all__ = [
    "COLLAPSE_SHARE",
    "START_CHOICES",
    "Start",
    "choose_start",
    "head_map",
    "labels_ordered",
    "load_start",
    "tfidf_probabilities",
    "DEFAULT_MODEL_CONFIG",
    "LEGACY_DEFAULT_CONFIG",
    "MAX_LABELS",
    "MODEL_MARKER",
    "STAR_LABELS",
    "Example",
    "csv_examples",
    "LabelSet",
    "TrainingConfig",
    "data_hash",
    "evaluate_labels",
    "evaluate_stars",
    "fine_tune",
    "grouped_split",
    "heldout_report",
    "infer_labels",
    "prepare_output",
    "report_lines",
    "tfidf_baseline",
    "train_and_report",
    "training_warnings",
]
