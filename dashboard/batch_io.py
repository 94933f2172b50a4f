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
    skipped: tuple[dict, ...] = ()  # rows not run: their cells and why ("skipped")


def guess_column(columns: list[str], role: str) -> int | None:
    """Index of the column that most likely holds `role` ("text" or "stars"), if any."""
    lowered = [c.lower() for c in columns]
    return next((lowered.index(g) for g in COLUMN_GUESSES[role] if g in lowered), None)


def _order(result: BatchResult, order: list[int] | None) -> list[int]:
    return list(range(len(result.rows))) if order is None else list(order)


def csv_bytes(result: BatchResult, order: list[int] | None = None) -> bytes:
    """The results table as UTF-8 CSV in `order` (the on-screen order; default the file's), then the skipped rows
    with their reason; formula-like cells neutralised (`explain.report.neutralize_cell`)."""
    rows = [result.rows[i] for i in _order(result, order)] + list(result.skipped)
    return pd.DataFrame(rows).map(neutralize_cell).to_csv(index=False).encode("utf-8")


def json_bytes(result: BatchResult, order: list[int] | None = None) -> bytes:
    """Every row in `order` with its full explanation (`Explanation.to_dict()`, or null for predictions only),
    then the skipped rows with their reason and no explanation."""
    records = [
        result.rows[i] | {"method": result.method, "explanation": result.explanations[i]} for i in _order(result, order)
    ]
    records += [row | {"method": result.method, "explanation": None} for row in result.skipped]
    return json.dumps(records, ensure_ascii=False).encode("utf-8")
