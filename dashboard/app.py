"""review-explainer dashboard: why did this review get its stars?

Run with `explain dashboard [--port N]` or `streamlit run dashboard/app.py`. Rendering only: every
number comes from the `explain` package. The sidebar (model, review) is shared by the panels.
Extra models: see `allowed_models.py` (`REVIEW_EXPLAINER_MODELS`).
"""

from __future__ import annotations

import controls
import streamlit as st

st.set_page_config(
    page_title="review-explainer", layout="wide"
)  # no icons: a material-icon favicon is fetched from a font CDN

PANELS = [
    st.Page("panels/explain_review.py", title="Explain a review", default=True),
    st.Page("panels/attributions.py", title="Attributions"),
    st.Page("panels/attention.py", title="Attention"),
    st.Page("panels/compare.py", title="Compare"),
    st.Page("panels/whatif.py", title="What if"),
    st.Page("panels/batch.py", title="Batch"),
    st.Page("panels/corpus.py", title="Corpus"),
]

page = st.navigation(PANELS)
controls.take_opened_review()
st.session_state["selection"] = controls.sidebar()
page.run()
