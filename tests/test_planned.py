"""The model work an explanation plans (`explain.planned`), which the dashboard's progress bars count against."""

from __future__ import annotations

import pytest

from explain.methods import explain
from explain.planned import planned_rows

TEXT = "The battery died after two days, what a waste of money."


def run_rows(clf, method: str, **params) -> int:
    with clf.metered() as meter:
        explain(clf, TEXT, method=method, **params)
    return meter.rows


def test_occlusion_plans_exactly_the_rows_it_runs(tiny_bert):
    planned = planned_rows(tiny_bert, TEXT, "occlusion")
    assert planned == len(tiny_bert.align(TEXT).words) + 2  # the review, one text without each word, the review
    assert run_rows(tiny_bert, "occlusion") == planned
    sentences = planned_rows(tiny_bert, "It broke. I hate it. Fine.", "occlusion", {"units": "sentence"})
    assert sentences == 5


LONGER = "It arrived late and the box was torn, but the phone itself works well, the screen is bright, the battery " * 2


@pytest.mark.parametrize(("method", "params"), [("shap", {"max_evals": 60}), ("lime", {"num_samples": 40})])
def test_sampling_methods_run_about_what_they_plan(tiny_bert, method, params):
    """Within a few rows on a 40-word review (SHAP's partition tree may evaluate more than max_evals on a
    short one; the bar then waits at 99 % until the result is there)."""
    planned = planned_rows(tiny_bert, LONGER, method, params)
    assert planned >= params[next(iter(params))]
    with tiny_bert.metered() as meter:
        explain(tiny_bert, LONGER, method=method, **params)
    assert planned - 10 <= meter.rows <= planned + 3
