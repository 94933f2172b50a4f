"""Occlusion / leave-one-out: a word's score is the drop in the label's probability without it.

Zeiler & Fergus 2014 (occlusion); Li, Monroe & Jurafsky 2016, "Understanding Neural Networks through
Representation Erasure" (leave-one-out for text). Words are deleted from the text (`mode="delete"`)
or replaced by the tokenizer's mask token (`mode="mask"`); all variants go to `predict_proba` in one
batched call, so every label is scored at once.
"""

from __future__ import annotations

from explain.classifier import Classifier
from explain.explanation import Explanation, spread
from explain.methods import new_explanation, probability_unit, register
from explain.target import Target
from explain.words import removal_string, remove_words


@register(
    "occlusion",
    summary="leave-one-out: drop in probability when a word is deleted or masked",
    reference="Li et al. 2016, Understanding Neural Networks through Representation Erasure",
    aliases=("loo", "leave_one_out"),
    per_label=True,
)
def occlusion(classifier: Classifier, text: str, target: Target, *, mode: str = "delete") -> Explanation:
    replacement = removal_string(classifier.tokenizer, mode)
    alignment = classifier.align(text)
    variants = [remove_words(text, [span], replacement) for span in alignment.word_offsets]
    probs = classifier.predict_proba([text] + variants)
    drops = probs[0][None, :] - probs[1:]  # (n_words, n_labels)
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
        diagnostics={"variants": len(variants)},
    )
