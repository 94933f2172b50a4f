"""Panel: what lowers and raises the rating across a corpus (an uploaded CSV or the last batch): the drivers with
their intervals (plot and tables), given vs predicted stars and the most surprising reviews; a driver's example
opens that review's full explanation on the Attributions page. Every number comes from
`explain.corpus.drivers` (explanations through the SQLite store, so a rerun recomputes nothing)."""

from __future__ import annotations

import cached
import controls
import streamlit as st

from explain.corpus.drivers import check_method, default_method
from explain.data import read_review_rows
from explain.errors import UserError
from explain.limits import MAX_ROWS, MAX_UPLOAD_MB
from explain.methods import methods
from explain.render.drivers_view import drivers_html, plot_document

UPLOAD = "Upload a CSV"
LAST_BATCH = "The last batch"
OPEN_PAGE = "panels/attributions.py"
EXAMPLE_CHARS = 90

selection = st.session_state["selection"]
st.header("Corpus")
classifier = controls.require_classifier(selection)
if not classifier.has_rating:
    st.error("This model's labels have no numeric order, so it has no rating to find drivers of.")
    st.stop()
st.caption(
    "The words and short phrases that lower and raise the expected rating across many reviews: each one's mean "
    "effect in stars over the reviews it occurs in, with a 95 % bootstrap interval and example reviews."
)

batch = st.session_state.get("batch_result")
sources = [UPLOAD] + ([LAST_BATCH] if batch is not None and batch.reviews else [])
source = st.radio("Reviews", sources, horizontal=True, key="corpus_source")
max_mb, max_rows = MAX_UPLOAD_MB.value(), MAX_ROWS.value()
notes: list[str] = []
if source == LAST_BATCH:
    reviews = tuple(batch.reviews)
    origin = f"the last batch ({len(reviews)} reviews)"
else:
    upload = st.file_uploader(
        f"CSV file with a header row (at most {max_mb} MB; the first {max_rows} reviews are used)",
        type=["csv"],
        max_upload_size=max_mb,
        key="corpus_file",
    )
    if upload is None:
        st.stop()
    data, columns = controls.read_csv_upload(upload, max_mb)
    text_col, stars_col = controls.pick_text_and_stars(columns, *st.columns(2), ("corpus_text", "corpus_stars"))
    try:
        _, rows = read_review_rows(data, text_col, stars_col)
    except UserError as exc:
        st.error(f"{upload.name}: {exc}")
        st.stop()
    notes += [r.problem for r in rows if r.problem]
    usable = [r.review for r in rows if r.review is not None]
    if len(usable) > max_rows:
        notes.append(f"The file has {len(usable)} reviews; only the first {max_rows} are used.")
        usable = usable[:max_rows]
    reviews = tuple(usable)
    origin = f"{upload.name} ({len(reviews)} reviews)"

usable_methods = []
for m in methods():
    try:
        usable_methods.append(check_method(m.name))
    except UserError:
        continue  # class-agnostic or unsigned: no direction, so no drivers
default = default_method(classifier)
method = st.selectbox(
    "Method for each review",
    usable_methods,
    index=usable_methods.index(default) if default in usable_methods else 0,
    key="corpus_method",
    help="amortized (one forward pass per review) when its head exists for this model, else occlusion.",
)
run_id = (selection.model_key, origin, hash(reviews), method)
for note in notes:
    st.warning(note)

if st.button("Find drivers", type="primary", key="corpus_run"):
    bar = st.progress(0.0, text=f"{method}: explaining {len(reviews)} reviews...")

    def progress(done: int, total: int, what: str) -> None:
        bar.progress(done / max(total, 1), text=f"{method}: {done}/{total} reviews explained ({what})")

    try:
        result = cached.corpus_drivers(selection.model_key, reviews, method, progress)
        st.session_state["corpus_result"] = (run_id, result)
    except UserError as exc:
        st.error(str(exc))
        st.stop()
    bar.progress(1.0, text=f"Done: {len(reviews)} reviews.")

found = st.session_state.get("corpus_result")
if found is None or found[0] != run_id:
    st.info("Choose the reviews and the method, then press Find drivers.")
    st.stop()
drivers = found[1]
plot, height = plot_document(drivers)
st.iframe(plot, height=height)  # the plot in its own frame: st.html's sanitizer drops inline SVG
st.html(drivers_html(drivers, include_plot=False))

st.subheader("Open an example")
ranked = [("lowers", d) for d in drivers.lowering] + [("raises", d) for d in drivers.raising]
if not ranked:
    st.info("No phrase meets the support rule, so there is no example to open.")
    st.stop()
choice = st.selectbox(
    "Driver",
    range(len(ranked)),
    format_func=lambda i: f"{ranked[i][1].phrase} ({ranked[i][0]} the rating by {abs(ranked[i][1].effect):.2f})",
    key="corpus_driver",
)
for example in ranked[choice][1].examples:
    preview = example.text if len(example.text) <= EXAMPLE_CHARS else example.text[: EXAMPLE_CHARS - 3] + "..."
    st.page_link(
        OPEN_PAGE,
        label=f"Row {example.index + 1} ({example.effect:+.2f}): {preview}",
        query_params={controls.OPEN_PARAM: example.text},
    )
