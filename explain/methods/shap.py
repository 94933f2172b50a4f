"""SHAP: Owen values of the tokens from shap's Partition explainer with its Text masker.

Lundberg & Lee 2017, "A Unified Approach to Interpreting Model Predictions" (NeurIPS); the Partition
algorithm computes Owen values over shap's hierarchical clustering of the tokens. We run shap's algorithm
ourselves (`explain.methods.partition`): the same nodes as `shap.Explainer(f, shap.maskers.Text(tok))`
expands at the same `max_evals` and seed (shap's default batch size), so the same values, with the masked
texts (built by shap's masker) going to `Classifier.predict_proba`; the whole tree in one engine call
when it fits the budget (then exact). One run scores every label: a label's token values plus its base
value add up to its predicted probability.

shap's Text masker tokenizes with the model's own tokenizer, so its features are our alignment's
tokens, special tokens included (never masked, value 0); that is checked, not assumed. A text longer
than the model's maximum is read whole in windows (the engine windows every masked variant), or with
`long="truncate"` explained as the part the model sees.

Diagnostics: `base_value` and `fx` (the base value and the classifier's output for the explained
number: the expected rating, or the target's probability minus the contrast's when one is given),
`additivity_error` = |sum of values + base_value - fx|, and `base_values` per label. The error is
~0 except where shap's masker rebuilds a slightly different text from the tokens: it collapses runs of
whitespace, and repeats a character that a byte-level BPE
tokenizer (RoBERTa) splits over several tokens (emoji, some accents); for those texts and tokenizers
shap explained that rebuilt text, and the error says by how much its output differs. Budget: `exact`
(the whole tree was expanded), `evals` (masks used, as shap counts them), `full_tree_evals` (the budget
from which the result is exact), `estimated_error` (largest change of the explained scores from the
result at half the budget; 0 when exact), `model_calls` and `model_evals` (engine calls and masks sent,
lookahead included).
"""

from __future__ import annotations

import numpy as np

from explain.classifier import Classifier, quiet_truncation
from explain.errors import UserError
from explain.explanation import Explanation
from explain.methods import new_explanation, probability_unit, register
from explain.methods.partition import owen_values
from explain.target import Target


@register(
    "shap",
    summary="Owen values of tokens (shap Partition explainer, Text masker); values + base = the explained output",
    reference="Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions",
    additive=True,
    per_label=True,
    budget="max_evals",
    validate=lambda p: _check_max_evals(p["max_evals"]),
    evaluations=lambda p: int(p["max_evals"]),
)
def shap_values(
    classifier: Classifier, text: str, target: Target, *, max_evals: int = 500, seed: int = 0
) -> Explanation:
    """Token values for every label from shap's Partition explainer (Lundberg & Lee 2017)."""
    import shap

    _check_max_evals(max_evals)
    alignment = classifier.align(text)
    windowed = classifier.windows(text)
    with quiet_truncation():
        encoding = classifier.tokenize([text])
    model_ids = encoding.input_ids[0][encoding.attention_mask[0].bool()].tolist()
    truncated = encoding.truncated[0] and windowed is None
    if windowed is not None:  # read whole, in windows: every token is a feature
        model_ids = classifier.tokenizer.convert_tokens_to_ids(list(alignment.tokens))
    text_seen = _seen_text(text, alignment) if truncated else text  # explain what the model sees

    masker = shap.maskers.Text(classifier.tokenizer)
    _, masker_ids = masker.token_segments(text_seen)
    if list(masker_ids) != model_ids:
        raise ValueError(
            f"shap's Text masker splits the text into {len(masker_ids)} tokens but the model sees "
            f"{len(model_ids)}: {classifier.tokenizer.convert_ids_to_tokens(list(masker_ids))} vs "
            f"{list(alignment.tokens)}; SHAP values could not be mapped onto the tokens"
        )

    def predict(masks: np.ndarray) -> np.ndarray:
        texts = (str(masker(mask, text_seen)[0][0]) for mask in masks)  # made as the engine reads them
        with quiet_truncation():  # masked variants of a cut text may be cut too, as the text was
            return classifier.predict_proba(texts)

    result = owen_values(predict, masker.clustering(text_seen), max_evals, seed=seed)
    values, base = result.values, result.base  # (n_tokens, n_labels), (n_labels,)
    if values.shape != (len(alignment.tokens), len(classifier.labels)):
        raise ValueError(
            f"shap returned values of shape {values.shape} for {len(alignment.tokens)} tokens "
            f"and {len(classifier.labels)} labels"
        )
    with quiet_truncation():
        fx = classifier.predict_proba([text])[0].astype(np.float64)

    budget = {
        "exact": result.exact,
        "evals": result.evals,
        "model_calls": result.model_calls,
        "model_evals": result.model_evals,
        "full_tree_evals": result.full_tree_evals,
        "truncated": bool(truncated),
        "windows": 1 if windowed is None else len(windowed.windows),
    }
    change = None if result.half_values is None else values - result.half_values
    return _explanation(classifier, text, target, alignment, values, base, fx, change, budget)


def _check_max_evals(max_evals: object) -> None:
    if max_evals < 2:
        raise UserError(f"shap needs max_evals of at least 2 (got {max_evals}); 500 is the usual budget")


def _seen_text(text: str, alignment) -> str:
    """The part of a truncated text the model sees: up to the end of its last non-special token."""
    ends = (e for (_, e), sp in zip(alignment.token_offsets, alignment.special, strict=True) if not sp)
    return text[: max(ends, default=0)]


def _explanation(
    classifier: Classifier,
    text: str,
    target: Target,
    alignment,
    values: np.ndarray,
    base: np.ndarray,
    fx: np.ndarray,
    change: np.ndarray | None,
    budget: dict,
) -> Explanation:
    """The Explanation of label values (n_tokens, n_labels), base (n_labels,) and output fx (n_labels,).

    `change`: values minus those at half the budget (None when exact); its largest explained entry is
    the `estimated_error`.
    """

    weights = target.weights(len(classifier.labels))

    def explained(per_label: np.ndarray) -> np.ndarray | float:  # linear in the label values
        scores = np.asarray(per_label) @ weights
        return float(scores) if np.ndim(scores) == 0 else scores

    base_value, output = explained(base), explained(fx)
    total = float(np.sum(explained(values)))
    diagnostics = {
        "base_value": base_value,
        "fx": output,
        "additivity_error": abs(total + base_value - output),
        "base_values": base.tolist(),
        "estimated_error": 0.0 if change is None else float(np.abs(explained(change)).max()),
        **budget,
    }
    return new_explanation(
        classifier,
        text,
        "shap",
        target,
        alignment=alignment,
        label_token_scores=values,
        aggregation="sum",
        unit=probability_unit(classifier, target),
        diagnostics=diagnostics,
    )
