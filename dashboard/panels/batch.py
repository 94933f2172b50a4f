"""Panel: a CSV of reviews -> every input column plus predicted stars, surprise and top words; a row opens
that review's full explanation. Runs through `explain.corpus` (the SQLite store), so the HTML report
reuses the explanations."""

from __future__ import annotations

from pathlib import Path

import cached
import controls
import numpy as np
import pandas as pd
import streamlit as st
from batch_io import BatchResult, csv_bytes, json_bytes

from explain.corpus import content_top_words, stars_surprise, summarize
from explain.data import read_review_rows
from explain.errors import UserError
from explain.explanation import Explanation
from explain.limits import MAX_ROWS, MAX_UPLOAD_MB
from explain.methods import methods
from explain.render.html import direction_words, explanation_html

PREDICTIONS_ONLY = "(predictions only)"
CHUNK = 5  # reviews per corpus run, so the progress bar moves
OPEN_PAGE = "panels/attributions.py"

selection = st.session_state["selection"]
st.header("Batch")
classifier = controls.require_classifier(selection)
max_mb, max_rows = MAX_UPLOAD_MB.value(), MAX_ROWS.value()
st.caption(
    f"Upload a CSV with a header row (at most {max_mb} MB; the first {max_rows} reviews are used). "
    "Each review keeps its columns and gets its predicted stars and the words that drove them."
)
upload = st.file_uploader("CSV file", type=["csv"], max_upload_size=max_mb, key="batch_file")
if upload is None:
    st.stop()
data, columns = controls.read_csv_upload(upload, max_mb)
left, middle, right = st.columns(3)
text_col, stars_col = controls.pick_text_and_stars(columns, left, middle, ("batch_text_col", "batch_stars_col"))
names = [m.name for m in methods()]
method = right.selectbox(
    "Method for the top words",
    [PREDICTIONS_ONLY] + names,
    key="batch_method",
    index=1 + names.index("occlusion") if "occlusion" in names else 0,
)
k_col, skip_col = st.columns(2)
k = k_col.slider("Top words per review", 1, 10, 3, key="batch_k")
skip = skip_col.checkbox(
    "Skip punctuation and stopwords in top words", value=True, key="batch_skip", help="Negations are kept."
)
run_id = (upload.file_id, upload.size, selection.model_key, text_col, stars_col, method, k, skip)


def question_text(exp: Explanation) -> str:
    """What the scores answer, with their unit and direction: "what moved the rating (stars; + raised it)"."""
    toward, away = direction_words(exp)
    unit = f"{exp.unit}; " if exp.unit else ""
    return f"{exp.question} ({unit}+ {toward}" + (f", - {away})" if away else ")")


def run_batch() -> BatchResult:
    """Predict (and explain) every usable row; bad rows are reported in the notes and kept, with their reason,
    in the downloads; the rest still run."""
    _, rows = read_review_rows(data, text_col, stars_col)
    notes = [r.problem for r in rows if r.problem]
    usable = [r for r in rows if r.review is not None]
    skipped = [{"row": r.row, "skipped": r.problem or "no text"} | r.cells for r in rows if r.review is None]
    if len(usable) > max_rows:
        notes.append(f"The file has {len(usable)} reviews; only the first {max_rows} were run.")
        reason = f"over the limit of {max_rows} reviews per upload ({MAX_ROWS.env}); not run"
        skipped += [{"row": r.row, "skipped": reason} | r.cells for r in usable[max_rows:]]
        usable = usable[:max_rows]
    texts = tuple(r.review.text for r in usable)
    progress = st.progress(0.0, text=f"Predicting {len(texts)} reviews...")
    probs, truncation = cached.probabilities(selection.model_key, texts)
    notes += [f"{n} Their explanations cover the part the model saw." for n in truncation]
    explanations = [None] * len(texts)
    if method != PREDICTIONS_ONLY:
        for start in range(0, len(texts), CHUNK):
            progress.progress(start / len(texts), text=f"{method}: {start}/{len(texts)} reviews")
            explanations[start : start + CHUNK] = cached.explain_corpus(
                selection.model_key, texts[start : start + CHUNK], method
            )
        failed = sum(e is None for e in explanations)
        if failed:
            notes.append(f"{method} failed on {failed} review(s); their 'top words' say so.")
    progress.progress(1.0, text=f"Done: {len(texts)} reviews.")
    table = []
    for row, p, exp in zip(usable, probs, explanations, strict=True):
        predicted = int(np.argmax(p))  # results first, the file's own (often long) columns after them
        out = {"row": row.row, "predicted": classifier.labels[predicted], "confidence": float(p[predicted])}
        if stars_col is not None:
            out["surprise"] = stars_surprise(classifier.labels, predicted, row.review.stars)
        if method != PREDICTIONS_ONLY:
            words = [] if exp is None else content_top_words(exp, k, skip_stopwords=skip)
            out["top words"] = "(failed)" if exp is None else ", ".join(f"{w} ({s:+.3f})" for w, s in words)
            out["question"] = "" if exp is None else question_text(exp)
            out["method"] = method
        table.append(out | row.cells)
    summary = None
    if method != PREDICTIONS_ONLY and stars_col is not None:
        done = [(r.review, {method: e}) for r, e in zip(usable, explanations, strict=True) if e is not None]
        summary = summarize([r for r, _ in done], [m for _, m in done], classifier.labels)
    if summary is not None and summary.accuracy is not None:
        notes.append(
            f"Predicted stars equal the given stars for {summary.accuracy:.1%} of the reviews with given stars "
            f"(mean absolute difference {summary.mae_stars:.2f} stars)."
        )
    return BatchResult(
        run_id,
        None if method == PREDICTIONS_ONLY else method,
        table,
        [None if e is None else e.to_dict() for e in explanations],
        tuple(notes),
        tuple(r.review for r in usable),
        tuple(skipped),
    )


if st.button("Run", type="primary", key="batch_run"):
    try:
        st.session_state["batch_result"] = run_batch()
    except UserError as exc:
        st.error(f"{upload.name}: {exc}")
        st.stop()

result = st.session_state.get("batch_result")
if result is None or result.run_id != run_id:
    st.info("Choose the columns and the method, then press Run.")
    st.stop()
for note in result.notes:
    (st.caption if note.startswith("Predicted stars equal") else st.warning)(note)
order = list(range(len(result.rows)))
if any(row.get("surprise") is not None for row in result.rows):  # most surprising first: where to look
    order.sort(key=lambda i: -(result.rows[i].get("surprise") or 0.0))
    st.caption("Sorted by surprise: |given stars - predicted stars|, largest first. Select a row to explain it.")
else:
    st.caption("Select a row to see its full explanation.")
table = pd.DataFrame([result.rows[i] for i in order])
picked = st.dataframe(  # the results' columns come first, so "top words" is on screen without scrolling
    table,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="batch_table",
    column_config={
        "confidence": st.column_config.ProgressColumn("confidence", min_value=0.0, max_value=1.0, format="%.3f"),
        "top words": st.column_config.TextColumn("top words", width="large"),
    },
)
if result.skipped:
    with st.expander(f"Skipped rows ({len(result.skipped)}): in the downloads too, with the reason"):
        st.dataframe(pd.DataFrame(list(result.skipped)), hide_index=True, key="batch_skipped")
chosen = picked.selection.rows if picked is not None else []
if chosen:
    index = order[chosen[0]]
    exp_dict = result.explanations[index]
    text = result.reviews[index].text
    st.subheader(f"Row {result.rows[index]['row']}")
    if exp_dict:
        st.html(explanation_html(Explanation.from_dict(exp_dict)))
    # a link, not st.switch_page (which cannot clear the URL-bound review box): app.py takes `open` as the review
    st.page_link(OPEN_PAGE, label="Open this review's full explanation", query_params={controls.OPEN_PARAM: text})

stem = Path(upload.name).stem
down_csv, down_json, down_html = st.columns(3)
down_csv.download_button(  # in the on-screen order, then the skipped rows with their reason
    "Download CSV", csv_bytes(result, order), file_name=f"{stem}-explained.csv", mime="text/csv", key="batch_csv"
)
down_json.download_button(
    "Download JSON",
    json_bytes(result, order),
    file_name=f"{stem}-explained.json",
    mime="application/json",
    key="batch_json",
)
if result.method is not None:
    if down_html.button("Build HTML report", key="batch_report"):
        reviews = tuple(r for r, e in zip(result.reviews, result.explanations, strict=True) if e is not None)
        with st.spinner("Writing the report (explanations come from the store)..."):
            st.session_state["batch_report_html"] = (
                run_id,
                cached.batch_report_html(selection.model_key, reviews, result.method),
            )
    built = st.session_state.get("batch_report_html")
    if built is not None and built[0] == run_id:
        down_html.download_button(
            "Download HTML report", built[1], file_name=f"{stem}-report.html", mime="text/html", key="batch_html"
        )
