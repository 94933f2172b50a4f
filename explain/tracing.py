"""`Classifier.trace`: run the three stages on one text and keep every intermediate value (for
`explain trace`, reports and the dashboard); a long text read in windows gets one trace per window.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from explain.engine import TruncationWarning, quiet_truncation
from explain.labels import expected_rating
from explain.limits import check_text, text_list
from explain.stages import Encoding, Trace, WindowTrace
from explain.windows import WindowedText

if TYPE_CHECKING:
    from explain.classifier import Classifier


def trace(classifier: Classifier, text: str) -> Trace:
    """Run the three stages on one text and keep every intermediate value.

    A long text read in windows (the default) has one trace per window in `windows`, with the
    window's place and weight; its own probabilities are the windows' weighted mean (`explain.windows`).
    """
    (text,) = text_list([text])
    check_text(text)
    windowed = classifier.windows(text)
    if windowed is not None:
        return _windowed_trace(classifier, text, windowed)
    with quiet_truncation():  # reported in the trace itself
        encoding = classifier.tokenize([text])
    if encoding.truncated[0]:
        warnings.warn(
            f"the text is longer than {classifier.max_length} tokens and was truncated", TruncationWarning, stacklevel=2
        )
    return _trace_encoding(classifier, text, encoding)


def _trace_encoding(classifier: Classifier, text: str, encoding: Encoding) -> Trace:
    logits = classifier.infer(encoding).logits
    probs = classifier.postprocess(logits)[0]
    return Trace(
        text=text,
        model=classifier.name,
        input_ids=encoding.input_ids[0].tolist(),
        token_type_ids=encoding.token_type_ids[0].tolist() if encoding.token_type_ids is not None else None,
        attention_mask=encoding.attention_mask[0].tolist(),
        tokens=encoding.tokens[0],
        id_to_token=encoding.id_to_token(0),
        truncated=encoding.truncated[0],
        max_length=classifier.max_length,
        logits=logits[0].tolist(),
        probabilities=probs.tolist(),
        id2label=dict(enumerate(classifier.labels)),
        predictions={label: round(float(p), 3) for label, p in zip(classifier.labels, probs, strict=True)},
        label_values=None if classifier.label_values is None else list(classifier.label_values),
        expected_rating=expected_rating(probs, classifier.label_values),
        rating_unit=classifier.rating_unit,
    )


def _windowed_trace(classifier: Classifier, text: str, windowed: WindowedText) -> Trace:
    """The trace of each window, and the text's: the first window's stages 1-2, the aggregated stage 3."""
    parts = []
    for window in windowed.windows:
        inputs, _ = classifier.window_inputs(windowed, window)
        ids = inputs["input_ids"][0].tolist()
        n = len(ids)
        encoding = Encoding(
            inputs["input_ids"].cpu(),
            inputs["attention_mask"].cpu(),
            inputs["token_type_ids"].cpu() if "token_type_ids" in inputs else None,
            [classifier.tokenizer.convert_ids_to_tokens(ids)],
            [[(0, 0)] * n],
            [[False] * n],
            [False],
        )
        trace = _trace_encoding(classifier, text, encoding)
        parts.append(WindowTrace(window.start, window.end, window.weight, trace))
    probs = np.array([w.weight for w in windowed.windows]) @ np.array([p.trace.probabilities for p in parts])
    return replace(
        parts[0].trace,
        logits=np.log(np.maximum(probs, 1e-30)).tolist(),
        probabilities=probs.tolist(),
        predictions={label: round(float(p), 3) for label, p in zip(classifier.labels, probs, strict=True)},
        expected_rating=expected_rating(probs, classifier.label_values),
        windows=tuple(parts),
    )
