"""Panel: methods side by side on one review, with agreement and faithfulness numbers when available."""

from __future__ import annotations

import logging

import cached
import controls
import metrics_view
import pandas as pd
import streamlit as st

from explain.errors import UserError
from explain.render.html import scale_key, shared_scales

DEFAULT_METHODS = ("occlusion", "shap", "ig", "rollout")
PER_ROW = 2
log = logging.getLogger(__name__)

selection = st.session_state["selection"]
st.header("Compare methods")
classifier, text, predicted = controls.review_context(selection, preview=True)

chosen = controls.method_picker(DEFAULT_METHODS, key="cmp_methods")
target, contrast = controls.label_pickers(classifier, predicted, key="cmp")
budgets = controls.budget_inputs(chosen, key="cmp", classifier=classifier, text=text)

explanations = {}
for method in chosen:
    try:
        explanations[method.name] = cached.explanation_live(  # a progress bar with time left while it runs
            selection.model_key, text, method.name, target, contrast, budgets.get(method.name), label=method.name
        )
    except UserError as exc:
        st.error(f"{method.name}: {exc}")
    except Exception as exc:  # one failing method must not hide the others; details go to the log
        log.exception("method %s failed", method.name)
        st.error(f"{method.name} failed: {type(exc).__name__}: {exc}")

controls.page_answer(selection, explanations, target, contrast, budgets)  # the answer from the methods shown

if len(explanations) < 2:
    st.info("Choose at least two methods to compare.")
names = list(explanations)
scales = shared_scales(list(explanations.values()))  # cards in one unit share one colour scale
for start in range(0, len(names), PER_ROW):
    for column, name in zip(st.columns(PER_ROW), names[start : start + PER_ROW], strict=False):
        with column:
            controls.explanation_card(explanations[name], scale=scales[scale_key(explanations[name])])

if explanations:
    first = next(iter(explanations.values()))
    st.subheader("Word scores")
    table = pd.DataFrame({name: e.word_scores for name, e in explanations.items()}, index=list(first.words))
    ranks = table.abs().rank(ascending=False, method="min").astype(int).add_suffix(" rank")
    st.dataframe(pd.concat([table, ranks], axis=1).reset_index(names="word"), hide_index=True)
    st.caption(
        "Each method's own units: compare ranks and signs across methods, not raw sizes. Seconds: "
        + ", ".join(f"{n} {e.diagnostics.get('seconds', float('nan')):.2f}" for n, e in explanations.items())
    )
    metrics_view.show(explanations, selection, budgets)
