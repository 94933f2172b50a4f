"""The Batch panel's downloads and column guesses (reading and CSV safety come from the library)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from explain.data import Review
from explain.report import neutralize_cell

COLUMN_GUESSES = {
    "text": ("text", "review", "review_text", "content", "body", "comment"),
    "stars": ("stars", "star", "rating", "score", "label"),
}


@dataclass(frozen=True)
class BatchResult:
    """One finished run: what it ran on, its table rows and each review's explanation (as a dict)."""

    run_id: tuple
    method: str | None  # None: predictions only
    rows: list[dict]
    explanations: list[dict | None]
    notes: tuple[str, ...]
    reviews: tuple[Review, ...] = ()  # the reviews run, in row order (text and given stars), for the report


def guess_column(columns: list[str], role: str) -> int | None:
    """Index of the column that most likely holds `role` ("text" or "stars"), if any."""
    lowered = [c.lower() for c in columns]
    return next((lowered.index(g) for g in COLUMN_GUESSES[role] if g in lowered), None)


def csv_bytes(result: BatchResult) -> bytes:
    """The results table as UTF-8 CSV, formula-like cells neutralised (`explain.report.neutralize_cell`)."""
    return pd.DataFrame(result.rows).map(neutralize_cell).to_csv(index=False).encode("utf-8")


def json_bytes(result: BatchResult) -> bytes:
    """Every row with its full explanation (`Explanation.to_dict()`, or null for predictions only)."""
    records = [
        row | {"method": result.method, "explanation": exp}
        for row, exp in zip(result.rows, result.explanations, strict=True)
    ]
    return json.dumps(records, ensure_ascii=False).encode("utf-8")
