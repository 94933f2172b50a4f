"""Label values: the number each label stands for, so that a model has an expected rating.

Read from the model's config (`config.label_values`, written by `explain train`), given by the user, or
parsed from the label names: "1 star" ... "5 stars", "1".."10", "1/5", "3 out of 5", "4.5 stars", and
the sentiment scales "negative / neutral / positive" (-1, 0, 1) and "very negative" ... "very positive"
(-2 .. 2). Names with no such reading (e.g. "LABEL_0", "sports") give no values: the model has no rating.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from explain.errors import UserError

_NUMBER = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?)\s*(?:stars?|points?|/\s*\d+|out\s+of\s+\d+)?\s*$", re.IGNORECASE)
_SENTIMENT = {
    "very negative": -2.0,
    "negative": -1.0,
    "neutral": 0.0,
    "mixed": 0.0,
    "positive": 1.0,
    "very positive": 2.0,
}


def parse_label_value(label: str) -> float | None:
    """The number a label name stands for, or None."""
    name = str(label).strip().lower().replace("_", " ")
    match = _NUMBER.match(name)
    if match:
        return float(match.group(1).replace(",", "."))
    return _SENTIMENT.get(name)


def label_values_from_names(labels: Sequence[str]) -> tuple[float, ...] | None:
    """Values of every label read from the names, or None unless each has a distinct value."""
    values = [parse_label_value(label) for label in labels]
    if len(values) < 2 or any(v is None for v in values) or len(set(values)) != len(values):
        return None
    return tuple(values)


def check_label_values(values: Sequence[float] | str, labels: Sequence[str]) -> tuple[float, ...]:
    """User-given values (a sequence, or text "1,2,3,4,5") checked against the labels; a misfit is a user error."""
    if isinstance(values, str):
        try:
            values = [float(v) for v in values.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            raise UserError(f"label values {values!r} must be numbers separated by commas, e.g. 1,2,3,4,5") from None
    values = tuple(float(v) for v in values)
    if len(values) != len(labels):
        raise UserError(f"{len(values)} label values given for {len(labels)} labels ({', '.join(labels)})")
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"label values must be finite numbers (got {values})")
    if len(set(values)) < 2:
        raise UserError("label values must not all be equal: the rating would never change")
    return values


def resolve_label_values(
    labels: Sequence[str], given: Sequence[float] | str | None = None, config_values: Sequence[float] | None = None
) -> tuple[float, ...] | None:
    """The label values in force: given by the user, else the model config's, else read from the names."""
    if given is not None:
        return check_label_values(given, labels)
    if config_values is not None:
        try:
            return check_label_values(config_values, labels)
        except UserError:
            pass  # a config that does not fit its own labels: fall back to the names
    return label_values_from_names(labels)


def rating_unit(labels: Sequence[str], values: Sequence[float] | None = None) -> str:
    """ "stars" when the labels are star ratings counted in stars (`values` None or the numbers their names
    give), else "" (a plain number: e.g. star labels given the values 0, 25, ..., 100)."""
    if not any("star" in str(label).lower() for label in labels):
        return ""
    return "stars" if values is None or tuple(map(float, values)) == label_values_from_names(labels) else ""


def format_rating(value: float, unit: str = "stars", digits: int = 1) -> str:
    """ "1.6 stars", or "1.6" without a unit."""
    return f"{value:.{digits}f} {unit}".strip()


def expected_rating(probabilities, values: Sequence[float] | None):
    """Sum over labels of value x probability (the last axis): a float for one text, an array for many;
    None when the labels have no values."""
    if values is None:
        return None
    rating = np.asarray(probabilities, dtype=np.float64) @ np.asarray(values, dtype=np.float64)
    return float(rating) if np.ndim(rating) == 0 else rating
