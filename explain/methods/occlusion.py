"""Occlusion / leave-one-out: a word's score is the drop in the explained output (the expected rating, or a
label's probability) without it.

Zeiler & Fergus 2014 (occlusion); Li, Monroe & Jurafsky 2016, "Understanding Neural Networks through
Representation Erasure" (leave-one-out for text). Words are deleted from the text (`mode="delete"`)
or replaced by the tokenizer's mask token (`mode="mask"`); all variants go to `predict_proba` in one
batched call, so every label is scored at once.

Long reviews: above `explain.words.WORD_UNITS_UP_TO` words a whole sentence is removed at a time (then
fixed chunks), its drop spread evenly over its words (diagnostics `unit`, `units`). The variants are
generated lazily, so memory holds one engine chunk of them, never all; the engine re-windows each
variant and evaluates each distinct window once.
"""

from __future__ import annotations

from itertools import chain

from explain.classifier import Classifier
from explain.explanation import Explanation, spread
from explain.limits import check_window_evaluations
from explain.methods import new_explanation, probability_unit, register
from explain.target import Target
from explain.words import check_removal, perturbation_units, removal_string, remove_words


@register(
    "occlusion",
    summary="leave-one-out: drop in the explained output (rating or probability) when a word or sentence is removed",
    reference="Li et al. 2016, Understanding Neural Networks through Representation Erasure",
    aliases=("loo", "leave_one_out"),
    per_label=True,
    validate=lambda p: check_removal(p["mode"], p["units"]),
)
def occlusion(
    classifier: Classifier, text: str, target: Target, *, mode: str = "delete", units: str = "auto"
) -> Explanation:
    """`units` ("auto", "word", "sentence"; see `explain.words.perturbation_units`) is what one variant removes."""
    replacement = removal_string(classifier.tokenizer, mode)
    alignment = classifier.align(text)
    parts = perturbation_units(text, alignment, units)
    windowed = classifier.windows(text)
    if windowed is not None:  # the text's windows, then about 3 new windows per variant (see explain.windows)
        check_window_evaluations(
            "occlusion", len(windowed.windows) + 3 * len(parts), "split the review, or use ig or attention"
        )
    spans = parts.spans(alignment)
    variants = (remove_words(text, [span], replacement) for span in spans)
    probs = classifier.predict_proba(chain([text], variants))
    drops = parts.spread(probs[0][None, :] - probs[1:])  # (n_words, n_labels)
    label_token_scores = spread(drops, alignment.token_to_word)
    return new_explanation(
        classifier,
        text,
        "occlusion",
        target,
        alignment=alignment,
        label_token_scores=label_token_scores,
        word_scores=drops @ target.weights(drops.shape[1]),
        unit=probability_unit(classifier, target),
        diagnostics={"variants": len(spans), "unit": parts.kind, "units": len(parts)},
    )
