"""Panel: the prediction for the review, a first explanation, and the three stages behind it."""

from __future__ import annotations

import cached
import charts
import controls
import numpy as np
import pandas as pd
import streamlit as st

from explain.errors import UserError
from explain.methods import methods
from explain.render.html import explanation_html

QUICK_METHOD = controls.ANSWER_METHOD

selection = st.session_state["selection"]
st.header("Explain a review")
classifier = controls.require_classifier(selection)
text = controls.require_text(selection)
page = st.empty()  # replaces the previous review's card at once, so a stale answer is never shown as this one's
with page.container():
    with st.spinner("Reading the review..."):
        trace = cached.trace(selection.model_key, text)
    quick, problem = None, None
    if QUICK_METHOD in {m.name for m in methods()}:
        try:  # a progress bar with work done and time left when it takes more than a moment (long reviews)
            quick = cached.explanation_live(
                selection.model_key, text, QUICK_METHOD, label="Explaining the review (leave-one-out)"
            )
        except UserError as exc:
            problem = str(exc)
probs = np.asarray(trace.probabilities)
predicted = int(probs.argmax())

with page.container():
    controls.answer_line(selection)
    left, right = st.columns([2, 3])
    with left:
        st.subheader(f"Prediction: {classifier.labels[predicted]}")
        st.caption(f"{probs[predicted]:.1%} probability · model: {controls.model_label(selection.model_key)}")
        st.altair_chart(charts.prediction_chart(classifier.labels, probs))
    with right:
        controls.truncation_note(selection)
        if problem:
            st.error(problem)
        elif quick is not None:
            long_review = quick.diagnostics.get("unit", "word") != "word" or bool(trace.windows)
            removed = "sentence" if long_review else "word"
            st.subheader("Which sentences mattered" if long_review else "Which words mattered")
            st.html(explanation_html(quick, level="sentence" if long_review else "word"))
            if long_review:
                with st.expander("Words"):
                    st.html(explanation_html(quick, header=False))
            st.caption(
                f"Leave-one-out ({quick.question}): how much the output changes without each {removed} "
                f"({quick.diagnostics.get('seconds', 0):.2f} s). More methods: **Attributions**, **Compare**."
            )

with st.expander("The three stages: tokenize -> infer -> postprocess"):
    st.markdown("**Stage 1: preprocessing** (tokenizer)")
    stage1 = {
        "token": trace.tokens,
        "input_id": trace.input_ids[: len(trace.tokens)],
        "attention_mask": trace.attention_mask[: len(trace.tokens)],
    }
    if trace.token_type_ids is not None:
        stage1["token_type_id"] = trace.token_type_ids[: len(trace.tokens)]
    st.dataframe(pd.DataFrame(stage1), hide_index=False)
    if trace.truncated:
        st.caption(f"Truncated to the model's maximum of {trace.max_length} tokens.")
    st.markdown("**Stage 2: model inference** (logits)")
    st.dataframe(pd.DataFrame({"label": classifier.labels, "logit": trace.logits}), hide_index=True)
    st.markdown("**Stage 3: post-processing** (softmax over the logits)")
    st.dataframe(
        pd.DataFrame(
            {"id": list(trace.id2label), "label": list(trace.id2label.values()), "probability": trace.probabilities}
        ),
        hide_index=True,
    )
    st.markdown("**Token id -> token**")
    st.json({str(k): v for k, v in trace.id_to_token.items()}, expanded=False)
