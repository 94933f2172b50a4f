"""The Batch panel's file handling: reading an uploaded CSV, and the CSV/JSON it offers for download."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explain.data import Review, read_reviews_csv
from explain.errors import InputWarning, UserError

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


def csv_columns(data: bytes) -> list[str]:
    """Header of an uploaded CSV; a UserError says what is wrong with the file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8 CSV") from exc
    try:
        header = next(csv.reader(io.StringIO(text)), None)
    except csv.Error as exc:
        raise UserError(f"the file is not a readable CSV file: {exc}") from exc
    columns = [c.strip() for c in header or [] if c.strip()]
    if not columns:
        raise UserError("the file has no header row; its first line must name the columns, e.g. text,stars")
    if len(set(columns)) != len(columns):
        raise UserError(f"the header names a column twice: {', '.join(columns)}")
    return columns


def guess_column(columns: list[str], role: str) -> int | None:
    """Index of the column that most likely holds `role` ("text" or "stars"), if any."""
    lowered = [c.lower() for c in columns]
    return next((lowered.index(g) for g in COLUMN_GUESSES[role] if g in lowered), None)


def read_reviews(data: bytes, text_col: str, stars_col: str | None) -> list[Review]:
    """Reviews of an uploaded CSV, read by `explain.data.read_reviews_csv` (the CLI's reader).

    Its `InputWarning`s (blank rows skipped, stars that are not numbers) are re-issued naming the upload.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "upload.csv"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", InputWarning)
                reviews = read_reviews_csv(path, text_col, stars_col)
        except UserError as exc:  # its messages name the temporary path; name the upload instead
            raise UserError(str(exc).replace(str(path), "the uploaded file")) from exc
    for w in caught:
        warnings.warn(str(w.message).replace(str(path), "the uploaded file"), w.category, stacklevel=2)
    return reviews


def spreadsheet_safe(value: object) -> object:
    """Text a spreadsheet would run as a formula (=, +, -, @ first) gets a leading apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_bytes(result: BatchResult) -> bytes:
    """The results table as UTF-8 CSV, formula-like cells neutralised."""
    return pd.DataFrame(result.rows).map(spreadsheet_safe).to_csv(index=False).encode("utf-8")


def json_bytes(result: BatchResult) -> bytes:
    """Every row with its full explanation (`Explanation.to_dict()`, or null for predictions only)."""
    records = [
        row | {"method": result.method, "explanation": exp} for row, exp in zip(result.rows, result.explanations)
    ]
    return json.dumps(records, ensure_ascii=False).encode("utf-8")
