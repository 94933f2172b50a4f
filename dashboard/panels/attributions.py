"""Panel: the review coloured by each chosen method, the top words, and each method's diagnostics."""

from __future__ import annotations

import logging

import cached
import charts
import controls
import streamlit as st

from explain.errors import UserError
from explain.render.diagnostics import readable_diagnostics
from explain.render.html import scale_key, shared_scales

DEFAULT_METHODS = ("shap", "occlusion")
LEVELS = {"words": "word", "subword tokens": "token", "sentences": "sentence"}
log = logging.getLogger(__name__)


selection = st.session_state["selection"]
st.header("Attributions")
classifier, text, predicted = controls.review_context(selection, preview=True)

chosen = controls.method_picker(DEFAULT_METHODS, key="attr_methods")
target, contrast = controls.label_pickers(classifier, predicted, key="attr")
level = LEVELS[st.radio("Show scores per", list(LEVELS), horizontal=True, key="attr_level", bind="query-params")]
budgets = controls.budget_inputs(chosen, key="attr", classifier=classifier, text=text)
params = controls.merged_params(budgets, controls.removal_units(chosen, level))
by_sentence = [m.name for m in chosen if "units" in params.get(m.name, {})]
if by_sentence:
    st.caption(f"Per sentence, {' and '.join(by_sentence)} remove whole sentences: each sentence's own effect.")
if not chosen:
    st.info("Choose one or more methods.")

explanations = {}
for method in chosen:
    try:
        explanations[method.name] = cached.explanation_live(  # a progress bar with time left while it runs
            selection.model_key, text, method.name, target, contrast, params.get(method.name), label=method.name
        )
    except UserError as exc:
        st.error(f"{method.name}: {exc}")
    except Exception as exc:  # a failing method must not take the other panels down; details go to the log
        log.exception("method %s failed", method.name)
        st.error(f"{method.name} failed: {type(exc).__name__}: {exc}")

controls.page_answer(selection, explanations, target, contrast, params)  # the answer from the methods shown

# one colour scale per unit: cards in the same unit (e.g. stars) are drawn on the same numbers, never on less
# than the unit's fixed minimum range (a 0.01-star effect stays pale)
scales = shared_scales(list(explanations.values()), level)

for method in chosen:
    exp = explanations.get(method.name)
    if exp is None:
        continue
    st.subheader(method.name)
    st.caption(f"{method.summary}" + (f" · {method.reference}" if method.reference else ""))
    controls.explanation_card(exp, level=level, scale=scales[scale_key(exp)])  # same unit, same colour scale
    words_col, diag_col = st.columns([3, 2])
    with words_col:
        chart_level = "sentence" if level == "sentence" else "word"
        same_axis = scales[scale_key(exp)] if level == "word" else None  # the cards' scale, when it is the words'
        st.altair_chart(charts.top_words_chart(exp, k=10, level=chart_level, scale=same_axis))
    with diag_col:
        st.html(charts.diagnostics_html(readable_diagnostics(exp)))
