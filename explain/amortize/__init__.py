"""Amortized explanation: fit a small head that predicts a teacher method's word scores in one forward pass.

    from explain.amortize import fit_head, has_head
    fit_head(classifier, reviews)            # teacher labels through the cache, head under the fingerprint
    explain(classifier, text, method="amortized")

`has_head(classifier)` is the cheap check (a file by the model's fingerprint; no weights read) callers use
to choose `amortized` when it is there. The default model's head is fitted by `explain build-default`, or
on first use by the command line (`fit_default_head`), on a small sample of the default model's own
training sentences so it takes a few minutes at most on 2 cores. The head itself and its file live in
`explain.word_head` (below the methods, which load it).
"""

from __future__ import annotations

import random

from explain.amortize.fidelity import Fidelity, fidelity, mean_fidelity, top_overlap, top_sign_agreement
from explain.amortize.fit import FitResult, fit_head
from explain.amortize.teacher import DEFAULT_TEACHER, DEFAULT_TEACHER_PARAMS, Teacher, choose_teacher
from explain.classifier import Classifier
from explain.progress import Progress
from explain.store import ExplanationStore
from explain.word_head import ForeignHeadError, HeadInfo, NoHeadError, has_head_file, head_path, load_head

__all__ = [
    "DEFAULT_HEAD_REVIEWS",
    "DEFAULT_HEAD_SENTENCES",
    "DEFAULT_TEACHER",
    "DEFAULT_TEACHER_PARAMS",
    "Fidelity",
    "FitResult",
    "ForeignHeadError",
    "HeadInfo",
    "NoHeadError",
    "Teacher",
    "default_head_texts",
    "fidelity",
    "fit_default_head",
    "fit_head",
    "has_head",
    "head_info",
    "head_path",
    "is_default_model",
    "mean_fidelity",
    "choose_teacher",
    "top_overlap",
    "top_sign_agreement",
]

DEFAULT_HEAD_SENTENCES = 400  # training sentences of the default model its head is fitted on...
DEFAULT_HEAD_REVIEWS = 40  # ...and whole training reviews
DEFAULT_HEAD_SEED = 11


def has_head(classifier: Classifier) -> bool:
    """Does `classifier` have a fitted amortized head (a file named by its fingerprint)? Cheap: reads no weights."""
    return has_head_file(classifier)


def head_info(classifier: Classifier) -> HeadInfo:
    """What `classifier`'s head says about itself (teacher, fidelity); `NoHeadError` when it has none."""
    return load_head(classifier)[1]


def is_default_model(classifier: Classifier) -> bool:
    """Is this the embedded default model (by its name)?"""
    from explain.models import DEFAULT_MODEL_NAME

    return classifier.name == DEFAULT_MODEL_NAME


def default_head_texts(n_sentences: int = DEFAULT_HEAD_SENTENCES, n_reviews: int = DEFAULT_HEAD_REVIEWS) -> list[str]:
    """A seeded sample of the default model's training data, never its held-out reviews: single sentences
    (all four VADER corpora) and whole Amazon reviews (their sentences joined, up to 200 words), so the head sees
    both a sentence alone and words among many."""
    from collections import defaultdict

    from explain.data import vader_sentences
    from explain.default_model import default_split

    train, _ = default_split()
    sentences = sorted({ex.text for ex in train})
    groups = {ex.group for ex in train}
    by_review = defaultdict(list)
    for s in vader_sentences(("amazon",)):
        if s.group in groups:
            by_review[s.group].append(s)
    reviews = [
        " ".join(s.text for s in sorted(items, key=lambda s: s.position)) for _, items in sorted(by_review.items())
    ]
    reviews = [r for r in reviews if len(r.split()) <= 200]
    rng = random.Random(DEFAULT_HEAD_SEED)
    rng.shuffle(sentences)
    rng.shuffle(reviews)
    return sentences[:n_sentences] + reviews[:n_reviews]


def fit_default_head(
    classifier: Classifier, progress: Progress | None = None, store: ExplanationStore | None = None
) -> FitResult | None:
    """Fit the default model's head if it has none (None when it already has one)."""
    if has_head(classifier):
        return None
    return fit_head(classifier, default_head_texts(), store=store, progress=progress)
