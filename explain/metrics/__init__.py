"""Metrics that say which explanation to trust: faithfulness to the model, plausibility to humans,
agreement between methods.

Each metric is a function of a `Classifier` and an `Explanation` (agreement: of two explanations)
and carries a `MetricInfo` (`function.info`) that tables and the dashboard read instead of
hard-coding which way is good (ferret's evaluators do the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

FAMILIES = ("faithfulness", "plausibility", "agreement", "cost")


@dataclass(frozen=True)
class MetricInfo:
    """What a metric measures and how to read it."""

    name: str
    family: str  # one of FAMILIES
    higher_is_better: bool
    min_value: float
    max_value: float
    summary: str
    reference: str = ""

    @property
    def lower_is_better(self) -> bool:
        return not self.higher_is_better

    @property
    def arrow(self) -> str:
        """'↑' when higher is better, '↓' when lower is better (for table headers)."""
        return "↑" if self.higher_is_better else "↓"

    def best(self, values: dict[str, float]) -> str | None:
        """The key whose value is best by this metric (NaNs ignored); None when there is none."""
        finite = {k: v for k, v in values.items() if v == v}
        if not finite:
            return None
        pick = max if self.higher_is_better else min
        return pick(finite, key=finite.__getitem__)


METRICS: dict[str, MetricInfo] = {}

F = TypeVar("F", bound=Callable)


def metric(info: MetricInfo) -> Callable[[F], F]:
    """Decorator: attach `info` to a metric function as `.info` and list it in `METRICS`."""
    if info.family not in FAMILIES:
        raise ValueError(f"metric family {info.family!r} is not one of {FAMILIES}")

    def decorate(function: F) -> F:
        function.info = info  # type: ignore[attr-defined]
        METRICS[info.name] = info
        return function

    return decorate


def metric_info(name: str) -> MetricInfo:
    """The metadata of the metric called `name`."""
    if name not in METRICS:
        raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
    return METRICS[name]


# Imported last: these modules use `metric` and `MetricInfo` from above.
from explain.metrics.agreement import (  # noqa: E402
    AgreementMatrix,
    agreement,
    agreement_matrix,
    kendall,
    mean_agreement,
    spearman,
    top_k_overlap,
)
from explain.metrics.faithfulness import (  # noqa: E402
    BINS,
    FAITHFULNESS_METRICS,
    FaithfulnessResult,
    comprehensiveness,
    deletion_auc,
    deletion_curve,
    faithfulness,
    insertion_auc,
    insertion_curve,
    leave_one_out,
    random_baseline,
    sufficiency,
    tau_loo,
)
from explain.metrics.perturbation import Curve, top_k_count  # noqa: E402
from explain.metrics.plausibility import plausibility, rating_direction, sentence_spans  # noqa: E402

__all__ = [
    "BINS",
    "FAITHFULNESS_METRICS",
    "FAMILIES",
    "METRICS",
    "AgreementMatrix",
    "Curve",
    "FaithfulnessResult",
    "MetricInfo",
    "agreement",
    "agreement_matrix",
    "comprehensiveness",
    "deletion_auc",
    "deletion_curve",
    "faithfulness",
    "insertion_auc",
    "insertion_curve",
    "kendall",
    "leave_one_out",
    "mean_agreement",
    "metric",
    "metric_info",
    "plausibility",
    "random_baseline",
    "rating_direction",
    "sentence_spans",
    "spearman",
    "sufficiency",
    "tau_loo",
    "top_k_count",
    "top_k_overlap",
]
