"""SHAP: Owen values of the tokens from shap's Partition explainer with its Text masker.

Lundberg & Lee 2017, "A Unified Approach to Interpreting Model Predictions" (NeurIPS); the Partition
algorithm computes Owen values over shap's hierarchical clustering of the tokens. Masked texts (tokens
replaced by the tokenizer's mask token) go to `Classifier.predict_proba` in large batches, so one run
scores every label: a label's token values plus its base value add up to its predicted probability.

shap's Text masker tokenizes with the model's own tokenizer, so its features are our alignment's
tokens, special tokens included (never masked, value 0); that is checked, not assumed. A text longer
than the model's maximum is explained as the part the model sees.

Diagnostics: `base_value` and `fx` (the base value and the classifier's output for the explained
number: the expected rating, or the target's probability minus the contrast's when one is given),
`additivity_error` = |sum of values + base_value - fx|, and `base_values` per label. The error is
~0 except where shap's masker rebuilds a slightly different text from the tokens: it collapses runs of
whitespace, and repeats a character that a byte-level BPE
tokenizer (RoBERTa) splits over several tokens (emoji, some accents); for those texts and tokenizers
shap explained that rebuilt text, and the error says by how much its output differs.
"""

from __future__ import annotations

import numpy as np

from explain.classifier import Classifier, quiet_truncation
from explain.errors import UserError
from explain.explanation import Explanation
from explain.methods import new_explanation, probability_unit, register
from explain.target import Target


@register(
    "shap",
    summary="Owen values of tokens (shap Partition explainer, Text masker); values + base = probability",
    reference="Lundberg & Lee 2017, A Unified Approach to Interpreting Model Predictions",
    additive=True,
    per_label=True,
    budget="max_evals",
)
def shap_values(
    classifier: Classifier, text: str, target: Target, *, max_evals: int = 500, seed: int = 0
) -> Explanation:
    """Token values for every label from shap's Partition explainer (Lundberg & Lee 2017)."""
    import shap

    if max_evals < 2:
        raise UserError(f"shap needs max_evals of at least 2 (got {max_evals}); 500 is the usual budget")
    alignment = classifier.align(text)
    with quiet_truncation():
        encoding = classifier.tokenize([text])
    model_ids = encoding.input_ids[0][encoding.attention_mask[0].bool()].tolist()
    if encoding.truncated[0]:  # explain what the model sees
        text_seen = text[
            : max((e for (_, e), sp in zip(alignment.token_offsets, alignment.special) if not sp), default=0)
        ]
    else:
        text_seen = text

    masker = shap.maskers.Text(classifier.tokenizer)
    _, masker_ids = masker.token_segments(text_seen)
    if list(masker_ids) != model_ids:
        raise ValueError(
            f"shap's Text masker splits the text into {len(masker_ids)} tokens but the model sees "
            f"{len(model_ids)}: {classifier.tokenizer.convert_ids_to_tokens(list(masker_ids))} vs "
            f"{list(alignment.tokens)}; SHAP values could not be mapped onto the tokens"
        )

    def predict(masked_texts) -> np.ndarray:
        with quiet_truncation():  # masked variants of a cut text may be cut too, as the text was
            return classifier.predict_proba([str(t) for t in masked_texts])

    explainer = shap.Explainer(predict, masker, algorithm="partition", output_names=list(classifier.labels))
    saved = np.random.get_state()  # shap breaks priority ties with the global numpy generator
    np.random.seed(seed)
    try:
        result = explainer([text_seen], max_evals=max_evals, batch_size=max_evals, silent=True)
    finally:
        np.random.set_state(saved)

    values = np.asarray(result.values[0], dtype=np.float64)  # (n_tokens, n_labels)
    base = np.asarray(result.base_values[0], dtype=np.float64)  # (n_labels,)
    if values.shape != (len(alignment.tokens), len(classifier.labels)):
        raise ValueError(
            f"shap returned values of shape {values.shape} for {len(alignment.tokens)} tokens "
            f"and {len(classifier.labels)} labels"
        )
    fx = predict([text])[0].astype(np.float64)

    def explained(per_label: np.ndarray) -> float:
        return float(target.from_proba(per_label))

    base_value, output = explained(base), explained(fx)
    total = explained(values.sum(axis=0))
    diagnostics = {
        "base_value": base_value,
        "fx": output,
        "additivity_error": abs(total + base_value - output),
        "base_values": base.tolist(),
        "truncated": bool(encoding.truncated[0]),
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
