"""Plausibility: do an explanation's sentence totals follow what people said about each sentence?

Human ratings are VADER's per-sentence means (-4..+4, >= 20 raters each; Hutto & Gilbert, ICWSM
2014). A review's sentences are joined into one text and explained; word scores are summed per
sentence (by word offsets) and rank-correlated (Spearman) with the human ratings signed toward the
explained quantity: as rated for the expected rating and for a positive class (4-5 stars), negated for
a negative one (1-2 stars), -|rating| for the neutral class (3 stars: the calmest sentences support it
most), and |rating| for class-agnostic scores (where the model looked vs how strongly people felt). Plausibility
in the sense of Jacovi & Goldberg 2020 and DeYoung et al. 2020 (agreement with human rationales).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np

from explain.errors import UserError
from explain.explanation import Explanation
from explain.metrics import MetricInfo, metric
from explain.sentences import span_totals

MIN_SENTENCES = 3  # fewer rated sentences with words give no meaningful rank correlation
_STARS = re.compile(r"^\s*(\d+)\s*stars?\s*$", re.IGNORECASE)
_NAMED = {"positive": 1.0, "pos": 1.0, "negative": -1.0, "neg": -1.0, "neutral": 0.0}


def sentence_spans(text: str, sentences: Sequence[str]) -> list[tuple[int, int]]:
    """Character span of each sentence inside `text`, found in order (text = sentences joined)."""
    spans, pos = [], 0
    for i, sentence in enumerate(sentences):
        start = text.find(sentence, pos)
        if start < 0:
            raise ValueError(f"sentence {i + 1} ({sentence[:40]!r}) is not in the text after character {pos}")
        spans.append((start, start + len(sentence)))
        pos = start + len(sentence)
    return spans


def rating_direction(label: str) -> float:
    """Where a label sits on the human scale: stars - 3 for 'N stars' labels, +1/-1/0 for positive/negative/neutral."""
    match = _STARS.match(label)
    if match:
        return float(int(match.group(1)) - 3)
    if label.strip().lower() in _NAMED:
        return _NAMED[label.strip().lower()]
    raise UserError(
        f"plausibility needs labels like '4 stars' or positive/negative/neutral; cannot tell which way {label!r} points"
    )


def sentence_scores(explanation: Explanation, spans: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum of word scores per sentence, and whether the sentence holds any word the model saw."""
    return span_totals(explanation.alignment.word_offsets, explanation.word_scores, spans)


@metric(
    MetricInfo(
        "plausibility",
        "plausibility",
        higher_is_better=True,
        min_value=-1.0,
        max_value=1.0,
        summary="Spearman correlation of per-sentence score sums with human sentence ratings "
        "signed toward the explained class",
        reference="Hutto & Gilbert 2014 (VADER human ratings); plausibility as in Jacovi & Goldberg 2020",
    )
)
def plausibility(
    classifier,
    explanation: Explanation,
    sentences: Sequence[str],
    ratings: Sequence[float],
    *,
    min_sentences: int = MIN_SENTENCES,
) -> float:
    """Spearman correlation between per-sentence sums of word scores and the human sentence ratings
    signed toward the explained class (Hutto & Gilbert 2014 ratings; Jacovi & Goldberg 2020).
    NaN with fewer than `min_sentences` sentences holding words, or when either side is constant."""
    from scipy.stats import spearmanr

    if len(sentences) != len(ratings):
        raise ValueError(f"{len(sentences)} sentences but {len(ratings)} ratings")
    labels = explanation.labels
    human = np.asarray(ratings, dtype=np.float64)
    if explanation.explains == "none":  # no direction: where the model looked vs how strongly people felt
        human = np.abs(human)
    else:
        if explanation.explains == "rating":  # a higher rating is a more positive review
            direction = 1.0
        else:
            direction = rating_direction(labels[explanation.target])
            if explanation.contrast is not None:
                direction -= rating_direction(labels[explanation.contrast])
        human = human * np.sign(direction) if direction != 0 else -np.abs(human)
    totals, has_words = sentence_scores(explanation, sentence_spans(explanation.text, sentences))
    x, y = totals[has_words], human[has_words]
    if len(x) < min_sentences or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(spearmanr(x, y).statistic)
