"""Agreement and faithfulness tables for the Compare panel, with the library's verdict on which to trust.

Which way is better, each metric's definition and the verdict come from `explain.metrics`; this module
only draws them.
"""

from __future__ import annotations

import logging

import cached
import pandas as pd
import streamlit as st

from explain.explanation import Explanation
from explain.metrics import agreement_matrix, metric_info
from explain.metrics.verdict import faithfulness_verdict, is_reference, sign_reversals

log = logging.getLogger(__name__)
RANDOM_RANKINGS = 3
MEASURES = {
    "spearman": "Spearman rank correlation of the word scores (1: same order, 0: unrelated, -1: reversed)",
    "kendall": "Kendall rank correlation of the word scores (1: same order, 0: unrelated, -1: reversed)",
    "top_k_overlap": "share of the 10 highest-|score| words both methods have in common",
}


def show_agreement(explanations: dict[str, Explanation]) -> None:
    """Spearman, Kendall and top-k overlap of the word scores, methods x methods, and sign reversals."""
    if len(explanations) < 2:
        return
    st.subheader("Agreement between methods")
    for (measure, meaning), tab in zip(MEASURES.items(), st.tabs(list(MEASURES)), strict=True):
        matrix = agreement_matrix(explanations, measure)
        tab.caption(meaning + ". Agreement is not correctness: two methods can agree and both be wrong.")
        tab.dataframe(pd.DataFrame(matrix.values, index=list(matrix.methods), columns=list(matrix.methods)).round(3))
    for reversal in sign_reversals(explanations):  # both beyond the noise floor, wherever they rank
        unit = f" {reversal.unit}" if reversal.unit else ""
        words = ", ".join(
            f'"{w}" ({a:+.3g} vs {b:+.3g}{unit})' for w, (a, b) in zip(reversal.words, reversal.effects, strict=True)
        )
        st.warning(
            f"**{reversal.first}** and **{reversal.second}** push {words} in opposite directions, both beyond the "
            "noise floor: at most one of them is right about these words (the faithfulness numbers below say "
            "which to trust)."
        )


def _cell(method: str, metric: str, value: float) -> str:
    return f"{value:.3f} (reference)" if is_reference(method, metric) else f"{value:.3f}"


def show_faithfulness(selection, explanations: dict[str, Explanation], budgets: dict[str, dict]) -> None:
    """Comprehensiveness, sufficiency, deletion/insertion AUC and tau-LOO per method, the random baseline and
    the verdict."""
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
                    selection.model_key,
                    exp.text,
                    name,
                    "rating" if exp.explains == "rating" else exp.target,
                    exp.contrast,
                    budgets.get(name),
                    RANDOM_RANKINGS,
                )
        except Exception as exc:  # a metric failing on one method must not hide the others
            log.exception("faithfulness of %s failed", name)
            st.error(f"faithfulness of {name} failed: {type(exc).__name__}: {exc}")
            continue
        rows[name] = result["values"]
        random = random or result["random"]
    if not rows:
        return
    verdict = faithfulness_verdict(rows, random)
    st.markdown(f"**{verdict.sentence}**")
    metrics = list(next(iter(rows.values())))
    table = {name: {m: _cell(name, m, v) for m, v in per.items()} for name, per in rows.items()}
    table[f"random ranking (mean of {RANDOM_RANKINGS})"] = {m: f"{random[m]:.3f}" for m in metrics if m in random}
    frame = pd.DataFrame(table).T
    st.dataframe(
        frame,
        column_config={
            m: st.column_config.TextColumn(
                f"{m} {metric_info(m).arrow}", help=f"{metric_info(m).summary} ({metric_info(m).arrow} is better)"
            )
            for m in metrics
        },
    )
    asked = {exp.explains for exp in explanations.values() if exp.class_specific}
    unit = (
        "stars of the expected rating"
        if asked == {"rating"}
        else "probability of the explained class (for a contrast, the difference of two)"
    )
    st.caption(f"Comprehensiveness, sufficiency and the deletion/insertion areas are in {unit}.")
    with st.expander("What the measures mean"):
        for m in metrics:
            info = metric_info(m)
            better = "higher" if info.higher_is_better else "lower"
            st.markdown(f"- **{m}** ({better} is better): {info.summary}. {info.reference}")
        if "occlusion" in rows and "tau_loo" in metrics:
            st.markdown(
                "- tau_loo compares a ranking with leave-one-out drops; occlusion *is* leave-one-out, so its "
                "tau_loo is the reference (about 1 by construction), not a score, and it is left out of the verdict."
            )


def show(explanations: dict[str, Explanation], selection, budgets: dict[str, dict]) -> None:
    """Agreement, sign reversals, faithfulness and the verdict for these explanations."""
    show_agreement(explanations)
    show_faithfulness(selection, explanations, budgets)
