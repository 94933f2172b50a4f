"""Effects in the question's unit: the noise floor below which the answer names no word, and how an effect is
written in the answer line ("-0.90 stars", "at most 0.024 stars")."""

from __future__ import annotations

import math

from explain.explanation import Explanation

RATING_FLOOR_SHARE = 0.0125  # noise floor on the rating: this share of its range (0.05 stars on 1-5 stars)
UNIT_FLOORS = {"probability": 0.01, "logit": 0.05}  # noise floors of the other units


def noise_floor(explanation: Explanation, unit: str) -> float:
    """The smallest effect (in `unit`) the answer names: 0.05 stars on a 1-5 rating, 0.01 probability."""
    if explanation.explains == "rating" and unit not in UNIT_FLOORS:
        values = explanation.label_values or (0.0, 1.0)
        return RATING_FLOOR_SHARE * (max(values) - min(values))
    return UNIT_FLOORS.get(unit, 0.0)


def amount(value: float, unit: str = "") -> str:
    """An effect's size for a sentence: "0.90 stars", "0.021 stars", "0.004 probability"."""
    value = abs(float(value))
    digits = f"{value:.2f}" if value >= 0.095 else f"{value:.2g}" if value >= 0.001 else f"{value:.4f}"
    return f"{digits} {unit}".rstrip()


def at_most(value: float, unit: str = "") -> str:
    """An upper bound for a sentence, rounded up to two significant digits: 0.0234 -> "0.024 stars"."""
    value = max(abs(float(value)), 0.001)
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    bound = math.ceil(value / step - 1e-9) * step
    return f"{f'{bound:.2g}' if bound < 0.1 else f'{bound:.2f}'} {unit}".rstrip()


def signed_amount(value: float, unit: str = "") -> str:
    """ "-0.90 stars", "+0.021 stars"."""
    return ("-" if value < 0 else "+") + amount(value, unit)
