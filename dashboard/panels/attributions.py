"""Panel: the review coloured by each chosen method, the top words, and each method's diagnostics."""

from __future__ import annotations

import logging

import cached
import charts
import controls
import pandas as pd
import streamlit as st

from explain.errors import UserError
from explain.render.html import explanation_html

DEFAULT_METHODS = ("shap", "occlusion")
LEVELS = {"words": "word", "subword tokens": "token"}
log = logging.getLogger(__name__)


def shown(value: object) -> str:
    """A diagnostic value as table text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


selection = st.session_state["selection"]
st.header("Attributions")
classifier, text, predicted = controls.review_context(selection)

chosen = controls.method_picker(DEFAULT_METHODS, key="attr_methods")
target, contrast = controls.label_pickers(classifier, predicted, key="attr")
level = LEVELS[st.radio("Show scores per", list(LEVELS), horizontal=True, key="attr_level")]
budgets = controls.budget_inputs(chosen, key="attr")
if not chosen:
    st.info("Choose one or more methods.")

for method in chosen:
    st.subheader(method.name)
    st.caption(f"{method.summary}" + (f" · {method.reference}" if method.reference else ""))
    try:
        with st.spinner(f"Running {method.name}..."):
            exp = cached.explanation(selection.model_key, text, method.name, target, contrast, budgets.get(method.name))
    except UserError as exc:
        st.error(str(exc))
        continue
    except Exception as exc:  # a failing method must not take the other panels down; details go to the log
        log.exception("method %s failed", method.name)
        st.error(f"{method.name} failed: {type(exc).__name__}: {exc}")
        continue
    st.html(explanation_html(exp, level=level))
    words_col, diag_col = st.columns([3, 2])
    with words_col:
        st.altair_chart(charts.top_words_chart(exp, k=10))
    with diag_col:
        diagnostics = {"question": exp.question, "aggregation to words": exp.aggregation} | dict(exp.diagnostics)
        params = {f"param {k}": v for k, v in exp.params.items()}
        rows = [(k, shown(v)) for k, v in (diagnostics | params).items()]
        st.dataframe(pd.DataFrame(rows, columns=["diagnostic", "value"]), hide_index=True)
