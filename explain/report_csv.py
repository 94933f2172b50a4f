"""Reports as CSV: one row per review, method and word; cells a spreadsheet would run as a formula
(leading = + - @ tab CR) are prefixed with a single quote, and no cell carries a terminal escape sequence,
control character or bidi override.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import numpy as np

from explain.inert import printable

if TYPE_CHECKING:
    from explain.report import Report

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

CSV_COLUMNS = (
    "review",
    "text",
    "given_stars",
    "predicted",
    "confidence",
    "method",
    "explained_label",
    "word_index",
    "word",
    "score",
)


def neutralize_cell(value: Any) -> Any:
    """A string cell made inert: terminal escape sequences, C0/C1 controls and bidi overrides removed
    (`explain.inert.printable`), and a leading single quote where a spreadsheet would run it as a formula
    (= + - @ tab CR first)."""
    if not isinstance(value, str):
        return value
    cleaned = printable(value)
    return "'" + cleaned if value.startswith(FORMULA_START) or cleaned.startswith(FORMULA_START) else cleaned


def report_csv(report: Report) -> str:
    """One row per review, method and word: the word's score toward the explained (predicted) label."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in report.entries:
        probs = entry.probabilities
        predicted = None if probs is None else int(np.argmax(probs))
        for method, exp in entry.explanations.items():
            for w, (word, score) in enumerate(zip(exp.words, exp.word_scores, strict=True)):
                row = (
                    entry.index,
                    entry.review.text,
                    entry.review.stars,
                    None if predicted is None else report.labels[predicted],
                    None if probs is None else round(float(probs[predicted]), 6),
                    method,
                    exp.target_label or exp.question,
                    w,
                    word,
                    round(float(score), 8),
                )
                writer.writerow([neutralize_cell(c) for c in row])
    return buffer.getvalue()


# ---------------------------------------------------------------------------- HTML
