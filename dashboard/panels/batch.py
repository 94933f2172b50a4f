"""Panel: a CSV of reviews -> predicted stars and each review's top words, as a table and downloads."""

from __future__ import annotations

import logging
import warnings
from dataclasses import replace
from pathlib import Path

import cached
import controls
import numpy as np
import pandas as pd
import streamlit as st
from batch_io import BatchResult, csv_bytes, csv_columns, guess_column, json_bytes, read_reviews

from explain import limits
from explain.corpus import label_stars
from explain.data import Review
from explain.errors import InputWarning, UserError
from explain.methods import methods

try:  # the same settings `explain dashboard` gives Streamlit's server (server.maxUploadSize)
    MAX_UPLOAD_MB, MAX_ROWS = limits.MAX_UPLOAD_MB.value(), limits.MAX_ROWS.value()
except UserError as exc:
    st.error(str(exc))
    st.stop()
PREDICTIONS_ONLY = "(predictions only)"
NO_STARS = "(none)"
log = logging.getLogger(__name__)

selection = st.session_state["selection"]
st.header("Batch")
classifier = controls.require_classifier(selection)
st.caption(
    f"Upload a CSV with a header row (at most {MAX_UPLOAD_MB} MB; the first {MAX_ROWS} reviews are used). "
    "Each review gets its predicted stars and the words that drove them."
)
upload = st.file_uploader("CSV file", type=["csv"], max_upload_size=MAX_UPLOAD_MB, key="batch_file")
if upload is None:
    st.stop()
if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
    st.error(
        f"{upload.name} is {upload.size / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB. Split the file "
        "or use `explain batch` on the command line."
    )
    st.stop()
data = upload.getvalue()
try:
    columns = csv_columns(data)
except UserError as exc:
    st.error(f"{upload.name}: {exc}")
    st.stop()

left, middle, right = st.columns(3)
text_col = left.selectbox("Text column", columns, index=guess_column(columns, "text") or 0, key="batch_text_col")
stars_options = [NO_STARS] + [c for c in columns if c != text_col]
stars_guess = guess_column(stars_options, "stars")
stars_col = middle.selectbox(
    "Given stars column (optional)", stars_options, index=stars_guess or 0, key="batch_stars_col"
)
names = [m.name for m in methods()]
method = right.selectbox(
    "Method for the top words",
    [PREDICTIONS_ONLY] + names,
    key="batch_method",
    index=1 + names.index("occlusion") if "occlusion" in names else 0,
)
k = st.slider("Top words per review", 1, 10, 3, key="batch_k")
run_id = (upload.file_id, upload.size, selection.model_key, text_col, stars_col, method, k)

if st.button("Run", type="primary", key="batch_run"):
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InputWarning)
            reviews = read_reviews(data, text_col, None if stars_col == NO_STARS else stars_col)
    except UserError as exc:
        st.error(f"{upload.name}: {exc}")
        st.stop()
    notes = [str(w.message) for w in caught if issubclass(w.category, InputWarning)]
    checked = []
    for i, review in enumerate(reviews):  # a review over the size limit (or without words) is skipped, not fatal
        try:
            checked.append(replace(review, text=limits.check_text(review.text, i)))
        except UserError as exc:
            notes.append(f"Skipped: {exc}")
    reviews = checked
    if len(reviews) > MAX_ROWS:
        notes.append(f"The file has {len(reviews)} reviews; only the first {MAX_ROWS} were run.")
        reviews = reviews[:MAX_ROWS]
    progress = st.progress(0.0, text=f"Predicting {len(reviews)} reviews...")
    probs, truncation = cached.probabilities(selection.model_key, tuple(r.text for r in reviews))
    notes += [f"{n} Their explanations cover the part the model saw." for n in truncation]
    rows, explanations, failures = [], [], 0
    for i, (review, p) in enumerate(zip(reviews, probs)):
        predicted = int(np.argmax(p))
        row = {"text": review.text, "predicted": classifier.labels[predicted], "confidence": float(p[predicted])}
        if stars_col != NO_STARS:
            row["given stars"] = review.stars
        exp = None
        if method != PREDICTIONS_ONLY:
            try:
                exp = cached.explanation(selection.model_key, review.text, method)
                row["top words"] = ", ".join(f"{w} ({s:+.3f})" for w, s in exp.top_words(k))
            except Exception as exc:  # one odd review must not stop the batch; it is counted and logged
                log.exception("%s failed on review %d", method, i + 1)
                failures += 1
                row["top words"] = f"(failed: {type(exc).__name__})"
            progress.progress((i + 1) / len(reviews), text=f"{method}: {i + 1}/{len(reviews)} reviews")
        rows.append(row)
        explanations.append(None if exp is None else exp.to_dict())
    progress.progress(1.0, text=f"Done: {len(reviews)} reviews.")
    if failures:
        notes.append(f"{method} failed on {failures} review(s); see the 'top words' column.")
    st.session_state["batch_result"] = BatchResult(
        run_id, None if method == PREDICTIONS_ONLY else method, rows, explanations, tuple(notes)
    )

result = st.session_state.get("batch_result")
if result is None or result.run_id != run_id:
    st.info("Choose the columns and the method, then press Run.")
    st.stop()
for note in result.notes:
    st.warning(note)
table = pd.DataFrame(result.rows)
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.3f")
    },
)
predicted_stars = table["predicted"].str.extract(r"^(\d+) stars?$")[0].astype(float)
if "given stars" in table and predicted_stars.notna().all():  # only for star labels ("4 stars")
    given = pd.to_numeric(table["given stars"], errors="coerce")
    valid = given.isin([s for s in label_stars(classifier.labels) if s is not None])
    if valid.any():  # rows without given stars, or stars outside the labels, are left out of the accuracy
        hits, diff = (predicted_stars == given)[valid], (predicted_stars - given)[valid].abs()
        left_out = int((~valid).sum())
        st.caption(
            f"Predicted stars equal the given stars for {float(hits.mean()):.1%} of {int(valid.sum())} reviews "
            f"(mean absolute difference {float(diff.mean()):.2f} stars)"
            + (f"; {left_out} review(s) without valid given stars are left out." if left_out else ".")
        )
stem = Path(upload.name).stem
down_csv, down_json, down_html = st.columns(3)
down_csv.download_button(
    "Download CSV", csv_bytes(result), file_name=f"{stem}-explained.csv", mime="text/csv", key="batch_csv"
)
down_json.download_button(
    "Download JSON", json_bytes(result), file_name=f"{stem}-explained.json", mime="application/json", key="batch_json"
)
if result.method is not None:
    if down_html.button("Build HTML report", key="batch_report"):
        reviews = tuple(Review(row["text"], row.get("given stars")) for row in result.rows)
        with st.spinner("Writing the report (explanations come from the cache)..."):
            st.session_state["batch_report_html"] = (
                run_id,
                cached.batch_report_html(selection.model_key, reviews, result.method),
            )
    built = st.session_state.get("batch_report_html")
    if built is not None and built[0] == run_id:
        down_html.download_button(
            "Download HTML report", built[1], file_name=f"{stem}-report.html", mime="text/html", key="batch_html"
        )
