"""Panel: what if the review said something else? Edit it (or click words to remove them) and see the new
rating beside the old one; and the smallest change that moves the predicted stars (`explain.whatif`)."""

from __future__ import annotations

import hashlib

import cached
import charts
import controls
import streamlit as st
from markupsafe import escape

from explain.words import remove_words

SMALLEST_METHOD = "occlusion"  # its ranking proposes the words to remove; the model verifies every proposal


def rating(prediction, labels) -> str:
    expected = "" if prediction.expected_stars is None else f" ({prediction.expected_stars:.1f} expected)"
    return f"{labels[prediction.label]}{expected}"


selection = st.session_state["selection"]
st.header("What if")
classifier, text, predicted = controls.review_context(selection)
labels = classifier.labels
exp = cached.explanation(selection.model_key, text, SMALLEST_METHOD)

st.subheader("Smallest change")
with st.spinner("Looking for the fewest words whose removal changes the stars..."):
    change = cached.smallest_change(selection.model_key, text, SMALLEST_METHOD)
if change is None:
    st.info(
        f"No removal of up to 4 of the words that push most toward {labels[predicted]} changes the predicted "
        "stars: the rating rests on many words."
    )
else:
    st.html(
        f'<div class="rx-smallest" data-text="{escape(change.text)}" data-label="{escape(labels[change.after.label])}"'
        ' style="font:16px system-ui,sans-serif">'
        f"{escape(change.sentence(tuple(labels))).replace('*', '')} "
        f'<span style="color:#666;font-size:13px">(now {escape(rating(change.before, labels))}; '
        f"{change.texts_tried} edited texts checked with the model)</span></div>"
    )
    st.caption(
        f"Candidates are the words {SMALLEST_METHOD} credits most for {labels[predicted]}; every combination of "
        "1, 2, ... of them is re-scored by the model, so the result is the model's own answer, not an estimate."
    )

st.subheader("Edit the review")
words = list(exp.words)
removable = [i for i, w in enumerate(words) if any(ch.isalnum() for ch in w)]
removed = st.pills(
    "Click words to remove them",
    removable,
    selection_mode="multi",
    format_func=lambda i: words[i],
    key="whatif_remove",
)
offsets = exp.alignment.word_offsets
without = remove_words(text, sorted(offsets[i] for i in removed or []))
digest = hashlib.sha1(without.encode()).hexdigest()[:12]  # a new box when the clicked words change
edited = st.text_area("...or edit the text", value=without, key=f"whatif_text_{digest}", height=120)
if not edited.strip():
    st.info("The edited review is empty.")
    st.stop()
edit = cached.compare_edit(selection.model_key, text, edited)
before_col, after_col = st.columns(2)
before_col.metric("Before", rating(edit.before, labels))
delta = None if edit.after.expected_stars is None else round(edit.after.expected_stars - edit.before.expected_stars, 2)
after_col.metric("After the edit", rating(edit.after, labels), delta=delta, help="Delta: change in expected stars.")
st.html(charts.word_diff_html(edit.diff))
if edit.label_changed:
    st.success(f"The predicted stars change: {labels[edit.before.label]} -> {labels[edit.after.label]}.")
if edited != text:
    st.page_link(
        "panels/attributions.py", label="Explain the edited review", query_params={controls.OPEN_PARAM: edited}
    )
