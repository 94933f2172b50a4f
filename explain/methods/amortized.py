"""Amortized: a learned approximation of a teacher method (SHAP by default), one forward pass per review.

Yang et al. 2023, "Efficient Shapley Values Estimation by Amortization for Text Classification" (ACL);
Jethani et al. 2022, "FastSHAP" (ICLR); Covert et al. 2024, "Stochastic Amortization" (NeurIPS: noisy
training labels suffice). A small head on the classifier's own hidden states (`explain.word_head`) predicts
the teacher's per-label token scores, so every question (the rating, a class, a contrast) is answered from
one run, like the teacher's. The scores are an approximation: the diagnostics name the teacher and the
head's fidelity on held-out reviews (`approximation`). Long reviews are read in the model's windows, each
window's token scores weighted as its prediction is, so every word is scored.

A head is fitted per model (`explain amortize`, or `explain build-default` for the default model); a model
without one is a `NoHeadError` that says how to fit it.
"""

from __future__ import annotations

from explain.classifier import Classifier
from explain.explanation import Explanation
from explain.methods import new_explanation, probability_unit, register
from explain.target import Target
from explain.word_head import load_head, score_text


@register(
    "amortized",
    summary="learned approximation of SHAP (or another teacher): a small head on the model's hidden states "
    "predicts its word scores in one forward pass",
    reference="Yang et al. 2023, Efficient Shapley Values Estimation by Amortization for Text Classification",
    aliases=("amortised", "learned"),
    per_label=True,
)
def amortized(classifier: Classifier, text: str, target: Target, *, head: str = "") -> Explanation:
    """`head`: a head file to use instead of the model's own (it must have been fitted for this model)."""
    model_head, info = load_head(classifier, head or None)
    scored = score_text(classifier, model_head, text)
    return new_explanation(
        classifier,
        text,
        "amortized",
        target,
        alignment=scored.alignment,
        label_token_scores=scored.label_token_scores,
        aggregation="sum",
        unit=probability_unit(classifier, target),
        probabilities=scored.probabilities,
        diagnostics={
            "approximation": info.description,
            "teacher": info.teacher_name,
            "fidelity": info.fidelity,
            "windows": scored.windows,
        },
    )
