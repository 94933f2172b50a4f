"""The one budget rule of an explanation, for every method and entry (CLI, Python, report, batch, evaluate, the
dashboard): the model windows a call plans to read are counted before any work and refused above
`explain.limits.MAX_WINDOW_EVALUATIONS`, in one line naming the parameter to lower and the largest value allowed.

A window is up to the model's maximum length in tokens: a long review reads all its windows per evaluation, a
short one its share of one (`window_share`). A method's planned evaluations come from its registration
(`Method.evaluations`: lime's num_samples, shap's max_evals, ig's 3 x (n_steps + 2)); occlusion plans its own
(one variant per unit) and checks it in the method.
"""

from __future__ import annotations

import math
from typing import Any

from explain.classifier import Classifier
from explain.limits import MAX_WINDOW_EVALUATIONS, check_window_evaluations
from explain.methods import Method


def window_share(classifier: Classifier, text: str) -> float:
    """How many model windows one evaluation of `text` reads: a long text's windows (under `long="windows"`),
    else its share of one window (its tokens, specials included, over the model's maximum length)."""
    windowed = classifier.engine.split([text])[0]
    if classifier.long == "windows" and len(windowed.windows) > 1:
        return float(len(windowed.windows))
    before, after, _ = classifier.engine.special_layout
    return min(len(windowed.ids) + len(before) + len(after), classifier.max_length) / classifier.max_length


def planned_windows(method: Method, params: dict[str, Any], share: float) -> int:
    """Model windows a call is planned to read: its evaluations times `share` (`window_share`), rounded up;
    0 for a method without a planned count."""
    if method.evaluations is None:
        return 0
    return math.ceil(method.evaluations(params) * share - 1e-9)


def budget_limit(method: Method, share: float, params: dict[str, Any] | None = None) -> int | None:
    """The largest value of `method`'s budget parameter (lime's num_samples, ...) that `check_budget` allows for
    a text of `share` (`window_share`); None for a method without a budget parameter."""
    if method.budget is None or method.evaluations is None:
        return None
    full = method.resolve(params)
    allowed = MAX_WINDOW_EVALUATIONS.value()
    low, high = 0, 1
    while high < 10**15 and planned_windows(method, full | {method.budget: high}, share) <= allowed:
        low, high = high, high * 2
    while high - low > 1:  # the largest value within the limit, in [low, high)
        mid = (low + high) // 2
        within = planned_windows(method, full | {method.budget: mid}, share) <= allowed
        low, high = (mid, high) if within else (low, mid)
    return low


def check_budget(method: Method, params: dict[str, Any], share: float, which: str = "this review") -> None:
    """The one budget rule, for every method and entry (CLI, Python, report, batch, dashboard): the model windows
    a call plans to read (`planned_windows`) are refused above `explain.limits.MAX_WINDOW_EVALUATIONS` before
    any work, in one line naming the parameter to lower and the largest value allowed. Memory stays bounded:
    the engine holds one batch of activations, and the samples a method draws stay within the limit."""
    if method.evaluations is None:
        return
    planned = planned_windows(method, params, share)
    limit = budget_limit(method, share, params)
    budget = method.budget or "the budget"
    lower = f"lower {budget} (at most {limit:,} for {which})" if limit else f"lower {budget}"
    check_window_evaluations(method.name, planned, lower, which=which)
