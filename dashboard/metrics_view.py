"""Agreement and faithfulness tables for the Compare panel, shown when `explain.metrics` is installed.

The metrics package is optional here: its absence (or an older version without these functions)
gives a note, not an error. Which way is better comes from each metric's own `MetricInfo`.
"""

from __future__ import annotations

import logging

import cached
import pandas as pd
import streamlit as st

from explain.explanation import Explanation

log = logging.getLogger(__name__)
RANDOM_RANKINGS = 3
MEASURES = ("spearman", "kendall", "top_k_overlap")


def _metrics_module():
    try:
        from explain import metrics
    except ImportError:
        return None
    return metrics


def _header(metrics, name: str) -> str:
    try:
        return f"{name} {metrics.metric_info(name).arrow}"
    except (AttributeError, KeyError):
        return name


def show_agreement(metrics, explanations: dict[str, Explanation]) -> None:
    """Spearman, Kendall and top-k overlap of the word scores, methods x methods."""
    if not hasattr(metrics, "agreement_matrix") or len(explanations) < 2:
        return
    st.subheader("Agreement between methods")
    for measure, tab in zip(MEASURES, st.tabs([_header(metrics, m) for m in MEASURES])):
        matrix = metrics.agreement_matrix(explanations, measure)
        tab.dataframe(pd.DataFrame(matrix.values, index=list(matrix.methods), columns=list(matrix.methods)).round(3))
    st.caption(
        "Rank agreement of the word scores (1: same ranking, 0: unrelated, -1: reversed); top-k overlap: "
        "share of the 10 highest-|score| words in common."
    )


def show_faithfulness(selection, explanations: dict[str, Explanation], budgets: dict[str, dict]) -> None:
    """Comprehensiveness, sufficiency, deletion/insertion AUC and tau-LOO per method, with random rankings."""
    metrics = _metrics_module()
    if metrics is None or not hasattr(metrics, "faithfulness"):
        return
    st.subheader("Faithfulness to this model")
    if not st.checkbox(
        "Compute faithfulness (about a hundred extra model calls per method)", value=True, key="cmp_faithfulness"
    ):
        return
    rows, random = {}, {}
    for name, exp in explanations.items():
        try:
            with st.spinner(f"Faithfulness of {name}..."):
                result = cached.faithfulness_values(
                    selection.model_key, exp.text, name, exp.target, exp.contrast, budgets.get(name), RANDOM_RANKINGS
                )
        except Exception as exc:  # a metric failing on one method must not hide the others
            log.exception("faithfulness of %s failed", name)
            st.error(f"faithfulness of {name} failed: {type(exc).__name__}: {exc}")
            continue
        rows[name] = result["values"]
        random = random or result["random"]
    if not rows:
        return
    table = pd.DataFrame(rows).T
    if random:
        table.loc[f"random ranking (mean of {RANDOM_RANKINGS})"] = pd.Series(random)
    table.columns = [_header(metrics, c) for c in table.columns]
    st.dataframe(table.round(4))
    best = []
    for column in rows[next(iter(rows))]:
        try:
            winner = metrics.metric_info(column).best({n: v[column] for n, v in rows.items()})
        except (AttributeError, KeyError):
            winner = None
        if winner:
            best.append(f"{column}: **{winner}**")
    st.caption(
        "↑ higher is better, ↓ lower is better; read each against the random ranking. Best here: " + "; ".join(best)
    )


def show(explanations: dict[str, Explanation], selection, budgets: dict[str, dict]) -> None:
    """Everything the metrics package offers for these explanations, or a note that it is missing."""
    metrics = _metrics_module()
    if metrics is None:
        st.info("Agreement and faithfulness numbers appear here once `explain.metrics` is installed.")
        return
    show_agreement(metrics, explanations)
    show_faithfulness(selection, explanations, budgets)
