"""`amortized` for many reviews at once: one forward pass per batch of short reviews instead of one per review.

Each result equals `explain(classifier, text, method="amortized")` (same tokens, scores, probabilities and
diagnostics, up to float rounding between a padded batch and a single text; the head scores each token on its
own, so padding reaches no real token). The forward pass is what an amortized explanation costs, and batching
it is what makes a corpus of 10,000 snippets take minutes instead of an hour on 2 cores. Reviews the model
reads in several windows, and reviews over the size limit, go through `explain()` one at a time. Only the
default question (the expected rating of a rated model) is batched here; corpus runs ask nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch

from explain.classifier import Classifier
from explain.errors import UserError, quiet_truncation
from explain.explanation import Explanation
from explain.limits import check_text
from explain.methods import explain, get_method, new_explanation, probability_unit
from explain.word_head import load_head, states
from explain.words import align

BATCH_SIZE = 64


def amortized_many(classifier: Classifier, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> list[Explanation]:
    """`explain(classifier, text, method="amortized")` for every text (the expected rating), short texts batched.
    A text that cannot be explained raises as `explain` would."""
    if not classifier.has_rating or classifier.tokenizer.padding_side != "right":  # rows must start at token 0
        return [explain(classifier, t, method="amortized") for t in texts]
    head, info = load_head(classifier)
    params = get_method("amortized").check({})
    out: list[Explanation | None] = [None] * len(texts)
    short = [i for i, text in enumerate(texts) if _fits_one_window(classifier, text)]
    short.sort(key=lambda i: len(texts[i]))  # similar lengths together: little padding
    for start in range(0, len(short), batch_size):
        rows = short[start : start + batch_size]
        for i, result in zip(rows, _batch(classifier, head, info, [texts[i] for i in rows], params), strict=True):
            out[i] = result
    for i, result in enumerate(out):
        if result is None:
            out[i] = explain(classifier, texts[i], method="amortized")
    return out  # type: ignore[return-value]


def _fits_one_window(classifier: Classifier, text: str) -> bool:
    """Within the size limit and read in one window (others go through `explain()`, which refuses or windows them)."""
    try:
        check_text(text)
    except UserError:
        return False
    return classifier.windows(text) is None


def _batch(classifier: Classifier, head, info, texts: list[str], params: dict) -> list[Explanation]:
    """One forward pass for `texts` (each fits one window), then each text's explanation as `amortized` builds it."""
    started = time.perf_counter()
    with classifier.metered() as meter:
        with quiet_truncation():
            enc = classifier.tokenize(texts)
        found = states(classifier, {k: v.to(classifier.device) for k, v in enc.model_inputs().items()})
        with torch.inference_mode():
            scores = head(found.tokens, found.first, found.probs).double().cpu().numpy()
        probs = found.probs.cpu().numpy()
        if classifier.engine.inference_model is not classifier.engine.exact_model:  # as score_text does
            probs = classifier.predict_proba(texts)
    wall = time.perf_counter() - started
    share = {  # the batch's cost, shared evenly: what explain() records per review
        "seconds": round(wall / len(texts), 4),
        "model_evaluations": meter.rows / len(texts),
        "forward_passes": meter.forward_passes / len(texts),
        "forward_share": round(meter.seconds / wall, 4) if wall > 0 else 0.0,
    }
    question = classifier.target(None, None, texts[0])
    results = []
    for row, text in enumerate(texts):
        n = len(enc.tokens[row])
        token_scores = scores[row, :n].copy()
        token_scores[np.asarray(enc.special[row], dtype=bool)] = 0.0
        results.append(
            new_explanation(
                classifier,
                text,
                "amortized",
                question,
                alignment=align(text, enc.tokens[row], enc.offsets[row], enc.special[row]),
                label_token_scores=token_scores,
                aggregation="sum",
                unit=probability_unit(classifier, question),
                probabilities=np.asarray(probs[row], dtype=np.float32),
                diagnostics={
                    "approximation": info.description,
                    "teacher": info.teacher_name,
                    "fidelity": info.fidelity,
                    "windows": 1,
                }
                | share,
                params=params,
            )
        )
    return results
