"""Labels of a rating column: 1-5 stars, whole-number scales (1-10, 0-4), other numbers, or named labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from explain.errors import DataError
from explain.labels import parse_label_value

STAR_LABELS = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")
MAX_LABELS = 20


@dataclass(frozen=True)
class LabelSet:
    """The labels a model predicts, in order, and the rating value of each (its `config.label_values`).
    `ordered=False` marks categories with no order: training then starts from MiniLM-L6 with a new head,
    not from the default star model (see `explain.training.start`)."""

    names: tuple[str, ...]
    values: tuple[float, ...]
    ordered: bool = True

    @classmethod
    def stars(cls) -> LabelSet:
        return cls(STAR_LABELS, (1.0, 2.0, 3.0, 4.0, 5.0))

    def __len__(self) -> int:
        return len(self.names)


def _number_name(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _parse_numbers(raw: Sequence[str], column: str) -> list[float]:
    numbers = []
    for r in raw:
        try:
            v = float(r)
        except ValueError:
            words = sorted({x for x in raw if not _is_number(x)})[:3]
            raise DataError(
                f"column {column!r} holds labels that are not numbers ({', '.join(map(repr, words))}); "
                f"give their order, e.g. --label-order {','.join(words) or 'negative,neutral,positive'}"
            ) from None
        if not math.isfinite(v):
            raise DataError(f"column {column!r} holds {r!r}; ratings must be finite numbers")
        numbers.append(v)
    return numbers


def _is_number(x: str) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return False


def infer_labels(
    raw: Sequence[str], order: Sequence[str] | None = None, stars: bool = False, column: str = "label"
) -> tuple[LabelSet, list[int]]:
    """The label set of a rating column and each row's label index.

    `order` names the labels from lowest to highest (values: what `explain.labels.parse_label_value`
    reads from the names when it reads an increasing value from each, e.g. numbers or
    negative/neutral/positive -> -1, 0, 1; else 1..k); `stars` means the column holds 1-5 stars (the five star labels);
    otherwise the column must be numeric: whole numbers give every label from the lowest to the
    highest value (1-10, 0-4), other numbers one label per distinct value (at most 20).
    """
    raw = [str(r).strip() for r in raw]
    if order:
        names = tuple(o.strip() for o in order if o.strip())
        keys = [n.casefold() for n in names]
        if len(names) < 2 or len(set(keys)) != len(keys):
            raise DataError(f"--label-order needs at least two different labels; got {','.join(order)!r}")
        index = {k: i for i, k in enumerate(keys)}
        unknown = sorted({r for r in raw if r.casefold() not in index})
        if unknown:
            raise DataError(
                f"column {column!r} holds {', '.join(map(repr, unknown[:5]))}, not in --label-order {','.join(names)}"
            )
        parsed = [parse_label_value(n) for n in names]  # "1".."10", "negative/neutral/positive" -> -1, 0, 1
        ordered = None not in parsed and all(a < b for a, b in zip(parsed, parsed[1:], strict=False))
        values = tuple(parsed) if ordered else tuple(range(1, len(names) + 1))
        return LabelSet(names, tuple(map(float, values))), [index[r.casefold()] for r in raw]
    numbers = _parse_numbers(raw, column)
    if stars:
        bad = sorted({v for v in numbers if v not in (1, 2, 3, 4, 5)})
        if bad:
            raise DataError(f"column {column!r} must hold stars 1-5; found {[_number_name(v) for v in bad[:5]]}")
        return LabelSet.stars(), [int(v) - 1 for v in numbers]
    distinct = sorted(set(numbers))
    if all(v.is_integer() for v in distinct) and distinct[-1] - distinct[0] < MAX_LABELS:
        values = tuple(float(v) for v in range(int(distinct[0]), int(distinct[-1]) + 1))
    elif len(distinct) <= MAX_LABELS:
        values = tuple(distinct)
    else:
        raise DataError(
            f"column {column!r} has {len(distinct)} different values; a rating column needs at most {MAX_LABELS}"
        )
    if len(values) < 2:
        raise DataError(f"column {column!r} holds only one rating ({_number_name(values[0])}); nothing to learn")
    position = {v: i for i, v in enumerate(values)}
    return LabelSet(tuple(map(_number_name, values)), values), [position[v] for v in numbers]
