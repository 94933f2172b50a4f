"""Occlusion / leave-one-out: a word's score is the drop in the label's probability without it.

Zeiler & Fergus 2014 (occlusion); Li, Monroe & Jurafsky 2016, "Understanding Neural Networks through
Representation Erasure" (leave-one-out for text). Words are deleted from the text (`mode="delete"`)
or replaced by the tokenizer's mask token (`mode="mask"`); all variants go to `predict_proba` in one
batched call, so every label is scored at once.
"""

from __future__ import annotations


from explain.classifier import Classifier
from explain.errors import UserError
from explain.explanation import Explanation, spread
from explain.methods import new_explanation, register

MODES = ("delete", "mask")


def remove_words(text: str, spans: list[tuple[int, int]], replacement: str = "") -> str:
    """`text` with the character spans (sorted, disjoint) removed or replaced."""
    pieces, last = [], 0
    for start, end in spans:
        pieces.append(text[last:start])
        pieces.append(replacement)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


@register("occlusion", summary="leave-one-out: drop in probability when a word is deleted or masked",
          reference="Li et al. 2016, Understanding Neural Networks through Representation Erasure",
          aliases=("loo", "leave_one_out"), per_label=True)
def occlusion(classifier: Classifier, text: str, target: int, contrast: int | None = None, *,
              mode: str = "delete") -> Explanation:
    if mode not in MODES:
        raise UserError(f"occlusion mode {mode!r} is not one of {MODES}")
    alignment = classifier.align(text)
    replacement = "" if mode == "delete" else (classifier.tokenizer.mask_token or "")
    variants = [remove_words(text, [span], replacement) for span in alignment.word_offsets]
    probs = classifier.predict_proba([text] + variants)
    drops = probs[0][None, :] - probs[1:]  # (n_words, n_labels)
    label_token_scores = spread(drops, alignment.token_to_word)
    return new_explanation(classifier, text, "occlusion", target, contrast, alignment=alignment,
                           label_token_scores=label_token_scores,
                           word_scores=drops[:, target] - (drops[:, contrast] if contrast is not None else 0.0),
                           diagnostics={"variants": len(variants)})
