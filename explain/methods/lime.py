"""LIME: a weighted linear model of the classifier around the review, fitted on samples with words removed.

Ribeiro, Singh & Guestrin 2016, "'Why Should I Trust You?': Explaining the Predictions of Any
Classifier" (KDD). `lime.lime_text.LimeTextExplainer` draws `num_samples` variants of the review
with random words removed (`bow=False`: each word position is its own feature), scores them with
ONE `Classifier.predict_proba` call, and fits a ridge model per label; a word's score is its
coefficient. LIME is handed our alignment's words (the split is checked to match them one to one),
so its words are exactly the ones other methods score. Above `explain.words.WORD_UNITS_UP_TO` words
its features are sentences (then chunks), each coefficient spread evenly over the unit's words
(diagnostics `unit`, `units`). A long text is read whole in windows (default), or with
`long="truncate"` explained as the part the model sees.

Removal (`mode`): "delete" (default) takes the word's characters out, as LIME's own text default
(bag of words) does and as occlusion and the faithfulness metrics do; "mask" puts the tokenizer's
mask token in its place. Deleted words make the variants shorter, and the engine batches them by
length, so "delete" also costs about half the model time of "mask".

Speed: every sample goes to `predict_proba` in one call, so the engine evaluates each distinct
variant once (short reviews repeat many: 10 words have only 1,023 subsets) and holds at most one
batch of activations at a time whatever `num_samples` is. The samples are streamed: LIME's own draws,
but each masked text is made as the engine reads it, so memory holds one engine chunk of texts (and the
(num_samples, units) 0/1 matrix the fit needs), never all the texts.

Diagnostics: `score` (weighted R^2 of the target label's local fit), `intercept` and `local_pred`
(the local model's value with no word / every word kept, for target minus contrast when one is given).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial

import numpy as np

from explain.classifier import Classifier, quiet_truncation
from explain.errors import UserError
from explain.explanation import Explanation, spread
from explain.methods import new_explanation, probability_unit, register
from explain.target import Target
from explain.words import Alignment, Units, check_removal, perturbation_units, removal_string


def word_splitter(text: str, alignment: Alignment, units: Units | None = None) -> Callable[[str], list[str]]:
    """A `split_expression` for LIME giving `alignment`'s words (or `units`' texts), checked to map one to one."""
    from lime.lime_text import IndexedString

    spans = list(alignment.word_offsets) if units is None else units.spans(alignment)
    words = [text[s:e] for s, e in spans]

    def split(raw: str) -> list[str]:
        if raw != text:
            raise ValueError("this word split belongs to another text")
        return words

    indexed = IndexedString(text, split_expression=split, bow=False)
    starts = [int(s) for s in indexed.string_start[indexed.positions]] if words else []
    expected = [s for s, _ in spans]
    if indexed.inverse_vocab != words or starts != expected:
        raise ValueError(
            f"LIME split the text into {indexed.inverse_vocab} at {starts}, not into the words {words} at {expected}"
        )
    return split


@register(
    "lime",
    summary="coefficients of a local weighted linear model fitted on samples with words removed",
    reference='Ribeiro et al. 2016, "Why Should I Trust You?": Explaining the Predictions of Any Classifier',
    per_label=True,
    budget="num_samples",
    validate=lambda p: _check_lime(p["num_samples"], p["mode"], p["units"]),
    evaluations=lambda p: int(p["num_samples"]),
)
def lime(
    classifier: Classifier,
    text: str,
    target: Target,
    *,
    num_samples: int = 1000,
    seed: int = 0,
    mode: str = "delete",
    units: str = "auto",
) -> Explanation:
    """Word coefficients for every label from LIME's local linear model (Ribeiro et al. 2016); `units`
    ("auto", "word", "sentence"; see `explain.words.perturbation_units`) is what one feature removes."""
    _check_lime(num_samples, mode, units)
    num_samples = int(num_samples)
    mask_string = removal_string(classifier.tokenizer, mode)
    alignment = classifier.align(text)
    n_words, n_labels = len(alignment.words), len(classifier.labels)
    if n_words == 0:  # nothing to perturb (e.g. only characters the tokenizer drops)
        nothing = np.zeros((len(alignment.tokens), n_labels))
        return new_explanation(classifier, text, "lime", target, alignment=alignment, label_token_scores=nothing)
    truncated = _truncated(classifier, text)
    text_seen = text[: alignment.word_offsets[-1][1]] if truncated else text  # what the model sees, whole words
    parts = perturbation_units(text, alignment, units)

    splitter = word_splitter(text_seen, alignment, parts)
    explainer = _streamed_explainer()(
        class_names=list(classifier.labels), split_expression=splitter, bow=False, mask_string=mask_string,
        feature_selection="none", random_state=seed,
    )  # fmt: skip
    weights = target.weights(n_labels)
    labels = _labels_target_last(target, weights)
    last = labels[-1]
    result = explainer.explain_instance(
        text_seen, partial(_predict, classifier), labels=labels, num_features=len(parts), num_samples=num_samples
    )
    coefficients, intercepts = _coefficients(result, labels, len(parts), n_labels)
    local_preds = intercepts + coefficients.sum(axis=0)  # the sample with every word kept is all ones
    coefficients = parts.spread(coefficients)  # per word (a unit's coefficient split evenly over its words)
    diagnostics = {
        "score": float(result.score),  # R^2 of the weighted fit of the label put last
        "score_label": classifier.labels[last],
        "intercept": float(intercepts @ weights),
        "local_pred": float(local_preds @ weights),
        "intercepts": intercepts.tolist(),
        "truncated": truncated,
        "mode": mode,
        "unit": parts.kind,
        "units": len(parts),
    }
    return new_explanation(
        classifier, text, "lime", target, alignment=alignment, word_scores=coefficients @ weights,
        label_token_scores=spread(coefficients, alignment.token_to_word), unit=probability_unit(classifier, target),
        diagnostics=diagnostics,
    )  # fmt: skip


def _check_lime(num_samples: object, mode: object, units: object) -> None:
    if num_samples < 2:
        raise UserError(f"lime needs num_samples of at least 2 (got {num_samples!r}); 1000 is the usual budget")
    check_removal(mode, units)


def _labels_target_last(target: Target, weights: np.ndarray) -> list[int]:
    """Label order for LIME, which keeps the fit score and local prediction of the last label only: the
    target last (for the rating, the label with the largest weight)."""
    last = target.label if target.label is not None else int(np.argmax(np.abs(weights)))
    return [label for label in range(len(weights)) if label != last] + [last]


def _predict(classifier: Classifier, texts: Iterable[str]) -> np.ndarray:
    with quiet_truncation():  # masked variants of a cut text may be cut too, as the text was
        return classifier.predict_proba(texts).astype(np.float64)


def _streamed_explainer():
    """`LimeTextExplainer` with its samples streamed: the same random draws, 0/1 matrix and distances as LIME's own
    (its private sampler, replaced), but the masked texts are made as the engine reads them, a chunk at a time,
    never all held at once; only the (num_samples, units) matrix the ridge fit needs stays in memory."""
    import scipy.sparse as sp
    from lime.lime_text import LimeTextExplainer
    from sklearn.metrics.pairwise import pairwise_distances

    class StreamedLime(LimeTextExplainer):
        def _LimeTextExplainer__data_labels_distances(  # noqa: N802 - the name LIME calls
            self, indexed_string, classifier_fn, num_samples, distance_metric="cosine"
        ):
            doc_size = indexed_string.num_words()
            sizes = self.random_state.randint(1, doc_size + 1, num_samples - 1)
            data = np.ones((num_samples, doc_size))

            def texts() -> Iterator[str]:  # draws in LIME's order, each as its text is needed
                yield indexed_string.raw_string()
                for i, size in enumerate(sizes, start=1):
                    inactive = self.random_state.choice(range(doc_size), size, replace=False)
                    data[i, inactive] = 0
                    yield indexed_string.inverse_removing(inactive)

            labels = classifier_fn(texts())
            matrix = sp.csr_matrix(data)
            return data, labels, pairwise_distances(matrix, matrix[0], metric=distance_metric).ravel() * 100

    return StreamedLime


def _coefficients(result, labels: list[int], n_units: int, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """LIME's coefficients (n_units, n_labels) and intercepts (n_labels,) from its explanation object."""
    coefficients = np.zeros((n_units, n_labels))
    for label in labels:
        for unit, weight in result.local_exp[label]:
            coefficients[unit, label] = weight
    return coefficients, np.array([float(result.intercept[label]) for label in range(n_labels)])


def _truncated(classifier: Classifier, text: str) -> bool:
    """Is `text` cut (longer than the model's maximum, with `long="truncate"`), so the model sees its first part?"""
    if classifier.long == "windows":
        return False
    with quiet_truncation():
        return classifier.tokenize([text]).truncated[0]
