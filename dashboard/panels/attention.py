"""Panel: BertViz head view and model view (offline), attention rollout and gradient-weighted attention.

The views run as scripts in an iframe (`st.iframe`), which may reach the app: they are BertViz's code
and our inlined libraries only; review tokens enter as escaped JSON data and BertViz draws them with
d3's `.text()`, never as HTML.
"""

from __future__ import annotations

import cached
import charts
import controls
import numpy as np
import streamlit as st

from explain.errors import UserError
from explain.render.attention_view import MAX_TOKENS, head_view_height, model_view_height, passages
from explain.render.html import explanation_html

MAX_FRAME_HEIGHT = 1400

selection = st.session_state["selection"]
st.header("Attention")
classifier = controls.require_classifier(selection)
text = controls.require_text(selection)
with st.spinner("Explaining the review..."):
    controls.answer_line(selection)
controls.truncation_note(selection)
n_windows = len(cached.trace(selection.model_key, text).windows) or 1
window = 0
if n_windows > 1:
    window = st.selectbox(
        "Window",
        range(n_windows),
        format_func=lambda w: f"window {w + 1} of {n_windows}",
        key="att_window",
        help="The model reads this long review in overlapping windows; each attends only within itself.",
    )
tokens, attentions = cached.attention(selection.model_key, text, window)
n_layers, n_heads = int(attentions.shape[0]), int(attentions.shape[1])
st.caption(
    f"{n_layers} layers x {n_heads} heads over {len(tokens)} tokens"
    + (f" (window {window + 1} of {n_windows})" if n_windows > 1 else "")
    + ". Raw attention shows where the model looks, not why it decides; rollout and gradient-weighted "
    "attention below get closer to that."
)

part = None
if len(tokens) > MAX_TOKENS:
    parts = passages(window, len(tokens))
    part = st.selectbox(
        "Part",
        parts,
        format_func=lambda p: f"tokens {p.start}-{p.end - 1}: {' '.join(tokens[p.start : p.start + 8])} ...",
        key="att_part",
    )
    st.caption(
        f"The views draw at most {MAX_TOKENS} tokens (they embed every token pair), so they show one part at a "
        "time: the attention among that part's tokens (and the window's first and last tokens) as the model "
        "computes it over the whole window; attention to the rest of the window is left out."
    )
shown = len(tokens) if part is None else part.end - part.start + 2
layers = st.multiselect(
    "Layers to show",
    list(range(n_layers)),
    default=list(range(n_layers)),
    key="att_layers",
    help="Fewer layers make the views lighter for long reviews.",
)
if not layers:
    st.info("Choose at least one layer.")
else:
    try:
        head_html, model_html = cached.attention_views(selection.model_key, text, tuple(sorted(layers)), part)
    except UserError as exc:
        st.error(str(exc))
    else:
        st.subheader("Head view")
        st.caption(
            "Lines: how much each token (left) attends to each token (right) in the chosen layer; "
            "colours are heads (click a colour to toggle it, double-click to show only it)."
        )
        st.iframe(  # scaled to the frame's width at any length, like the model view
            head_html + charts.FIT_TO_FRAME_SCRIPT, height=min(head_view_height(shown), MAX_FRAME_HEIGHT)
        )
        st.subheader("Model view")
        st.caption("Every layer (rows) and head (columns) at once; click a thumbnail to enlarge it.")
        st.iframe(
            model_html + charts.FIT_TO_FRAME_SCRIPT,
            height=min(model_view_height(shown, len(layers), n_heads), MAX_FRAME_HEIGHT),
        )


def token_map(
    matrix, method: str, title: str, value: str, target: str | int | None = None, contrast: int | None = None
):
    """The token x token map when it fits (every row labelled), else the [CLS] row as coloured words."""
    if len(tokens) <= charts.MAX_HEATMAP_TOKENS:
        st.altair_chart(charts.heatmap_chart(matrix, tokens, title, value=value), width="content")
        return
    st.caption(
        f"{len(tokens)} tokens: too many rows to label at {charts.ROW_PX} px each, so here is the [CLS] row "
        f"(the '{method}' explanation) as coloured tokens."
    )
    exp = cached.explanation(selection.model_key, text, method, target, contrast)
    st.html(explanation_html(exp, level="token"))


st.subheader("Attention rollout")
st.caption(
    "Abnar & Zuidema 2020: attention propagated through all layers (residual included, heads "
    "averaged). Row i: where token i's final representation draws from. The [CLS] row is the "
    "'rollout' explanation. Colours span the off-diagonal range (each token's share of itself is "
    "clipped), so the mixing between tokens stays visible."
)
token_map(cached.rollout(selection.model_key, text), "rollout", "attention rollout", "weight")

st.subheader("Gradient-weighted attention")
predicted = int(np.argmax(cached.trace(selection.model_key, text).probabilities))
target, contrast = controls.label_pickers(classifier, predicted, key="att")
try:
    relevance = cached.relevance(selection.model_key, text, target, contrast)
except UserError as exc:
    st.error(str(exc))
else:
    st.caption(
        "Chefer, Gur & Wolf 2021: per layer, attention weighted by its gradient for the chosen label "
        "(positive part, heads averaged), accumulated over layers. The [CLS] row is the 'grad_attn' "
        "explanation; it changes with the question, unlike raw attention. The diagonal (the identity the "
        "accumulation starts from, ~1) is clipped so the off-diagonal relevance is readable."
    )
    title = "the expected rating" if target == controls.RATING else classifier.labels[target]
    token_map(relevance, "grad_attn", f"relevance for {title}", "relevance", target, contrast)
