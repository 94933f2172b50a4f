"""pandas DataFrames of results, where analysts expect them: many reviews explained into one table, a corpus
summary's words, corpus drivers, an evaluation's leaderboard. pandas stays optional: it is imported inside each
function, and a missing pandas is one `MissingDependencyError` line. (One explanation's words:
`Explanation.to_frame()`.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from explain.corpus.summary import CorpusSummary, content_top_words
from explain.explanation import import_pandas
from explain.limits import text_list
from explain.methods import explain, get_method

__all__ = ["drivers_frame", "explain_frame", "leaderboard_frame", "summary_frame"]


def _phrase(words: Sequence[tuple[str, float]]) -> str:
    return ", ".join(f"{word} ({score:+.2f})" for word, score in words)


def explain_frame(
    classifier,
    texts: Iterable[str],
    methods: Sequence[str] = ("occlusion",),
    *,
    top: int = 3,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[int, int], None] | None = None,
):
    """Explain every text with every method into one DataFrame, a row per text: the text, the predicted label
    and its probability, the expected rating (when the labels have values) and, per method, its `top` content
    words with their scores (`top_<method>`: "died (-0.90), never (-0.41)"; punctuation and stopwords skipped).

    `params` holds each method's options ({"shap": {"max_evals": 200}}); `progress(done, total)` is called after
    each text. Only the current text's explanations are held, never the whole corpus's.
    """
    pd = import_pandas()
    texts = text_list(texts if isinstance(texts, str) else list(texts))
    methods = [get_method(m).name for m in methods]  # an unknown method fails before any work
    params = params or {}
    probabilities = classifier.predict_proba(texts)
    values = classifier.label_values
    rows = []
    for i, (text, probs) in enumerate(zip(texts, probabilities, strict=True)):
        top_label = int(np.argmax(probs))
        row: dict[str, Any] = {
            "text": text,
            "predicted": classifier.labels[top_label],
            "probability": float(probs[top_label]),
            "expected_rating": None if values is None else float(np.asarray(values) @ probs),
        }
        for method in methods:
            exp = explain(classifier, text, method=method, **dict(params.get(method, {})))
            row[f"top_{method}"] = _phrase(content_top_words(exp, k=top))
        rows.append(row)
        if progress is not None:
            progress(i + 1, len(texts))
    return pd.DataFrame(rows)


def summary_frame(summary: CorpusSummary):
    """A corpus summary's words as a DataFrame, a row per (method, label, word): the summed score, the mean per
    occurrence, the occurrences and the reviews it occurs in; ranked as the summary ranks them."""
    pd = import_pandas()
    rows = [
        {
            "method": method,
            "label": label,
            "rank": rank,
            "word": w.word,
            "total": w.total,
            "mean": w.mean,
            "count": w.count,
            "reviews": w.reviews,
        }
        for method, per_label in summary.top_words.items()
        for label, words in per_label.items()
        for rank, w in enumerate(words, 1)
    ]
    return pd.DataFrame(rows, columns=["method", "label", "rank", "word", "total", "mean", "count", "reviews"])


def leaderboard_frame(summary: Mapping[str, Any]):
    """An evaluation summary (`explain evaluate --out`'s JSON, or `Evaluation.summary`) as a DataFrame: a row per
    method (the random baseline last), a column per metric's mean and its 95 % interval (`<metric>_low`,
    `<metric>_high`), the texts it covers and the seconds per explanation."""
    pd = import_pandas()
    rows = []
    for method, table in summary["methods"].items():
        row: dict[str, Any] = {"method": method, "n_texts": table.get("n_texts")}
        for metric, stat in table.items():
            if isinstance(stat, Mapping) and "mean" in stat:
                row[metric] = stat["mean"]
                if stat.get("low") is not None:
                    row[f"{metric}_low"], row[f"{metric}_high"] = stat["low"], stat.get("high")
        rows.append(row)
    return pd.DataFrame(rows).set_index("method")


def drivers_frame(drivers):
    """Corpus drivers (`explain.corpus.drivers`) as a DataFrame, a row per (group, phrase): the group ("all
    reviews", "predicted 1 star", ...), whether the phrase lowers or raises the rating, its mean effect with the
    bootstrap interval, and the reviews it occurs in; ranked as the drivers rank them."""
    pd = import_pandas()
    rows = [
        {
            "group": group.name,
            "direction": direction,
            "rank": rank,
            "phrase": d.phrase,
            "effect": d.effect,
            "low": d.ci[0],
            "high": d.ci[1],
            "reviews": d.reviews,
        }
        for group in (drivers.overall, *drivers.by_predicted, *drivers.by_given)
        for direction, ranked in (("lowers", group.lowering), ("raises", group.raising))
        for rank, d in enumerate(ranked, 1)
    ]
    columns = ["group", "direction", "rank", "phrase", "effect", "low", "high", "reviews"]
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs.update(method=drivers.method, question=drivers.question, unit=drivers.unit)
    return frame
