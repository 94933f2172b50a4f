"""Widgets every panel shares: the sidebar's model picker and review box, label and method pickers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import cached
import charts
import numpy as np
import streamlit as st
from allowed_models import DEFAULT_CHOICE_LABEL, DEFAULT_KEY, MODELS_ENV, ModelChoice, allowed_models

from explain.classifier import Classifier
from explain.default_model import default_model_built
from explain.errors import UserError
from explain.explanation import Explanation
from explain.limits import MAX_TEXT_CHARS, MAX_WINDOW_EVALUATIONS, check_text, has_words
from explain.methods import Method, methods
from explain.methods.budget import budget_limit, window_share
from explain.metrics.consensus import is_signed
from explain.render.html import explanation_html

MAX_REVIEW_CHARS = MAX_TEXT_CHARS.value()  # the same limit as the CLI and the API (REVIEW_EXPLAINER_MAX_CHARS)
NO_EXAMPLE = "(choose an example)"
NO_CONTRAST = "(none)"


@dataclass(frozen=True)
class Selection:
    """What the sidebar currently points at."""

    model_key: str
    text: str


def _use_example() -> None:
    chosen = st.session_state.get("example")
    texts = dict(cached.examples())
    if chosen in texts:
        st.session_state["review"] = texts[chosen]


OPEN_PARAM = "open"  # ?open=<review>: a link that opens a review (the review box itself is bound to ?review=)


def take_opened_review() -> None:
    """A link with ?open=<text> makes that text the review (before the review box is drawn), then drops `open`."""
    opened = st.query_params.get(OPEN_PARAM)
    if opened:
        st.session_state["review"] = opened
        del st.query_params[OPEN_PARAM]


def sidebar() -> Selection:
    """Model picker (operator-allowed models only), example picker and the review box."""
    try:
        choices = allowed_models()
    except UserError as exc:
        st.sidebar.error(str(exc))
        choices = [ModelChoice(DEFAULT_KEY, DEFAULT_CHOICE_LABEL, None)]
    labels = {c.key: c.label for c in choices}
    key = st.sidebar.selectbox(
        "Model",
        list(labels),
        format_func=labels.__getitem__,
        key="model",
        help=f"Models the operator allowed (set {MODELS_ENV} to add folders or hub ids).",
        bind="query-params",
    )
    st.sidebar.selectbox(
        "Example reviews",
        [NO_EXAMPLE] + [label for label, _ in cached.examples()],
        key="example",
        on_change=_use_example,
    )
    if "review" not in st.query_params:  # a link's review (bound below) wins over the first example
        st.session_state.setdefault("review", cached.examples()[0][1])
    with st.sidebar.form("review_form", border=False):
        st.text_area(
            "Review",
            key="review",
            height=170,  # no max_chars: the browser would silently refuse a longer paste; require_text says so
            help=f"Press Explain (or Ctrl+Enter) to explain the new text (at most {MAX_REVIEW_CHARS:,} characters). "
            "The review, page and options are kept in the address bar: copy it to share this view.",
            bind="query-params",
        )
        st.form_submit_button("Explain", type="primary", key="explain_button")
    return Selection(key, st.session_state.get("review") or "")


def model_label(key: str) -> str:
    """The picker's name of a model: the one name the dashboard uses for it."""
    try:
        return next(c.label for c in allowed_models() if c.key == key)
    except (UserError, StopIteration):
        return key


def require_classifier(selection: Selection) -> Classifier:
    """The selected model, or a clear message and a stopped page."""
    try:
        if selection.model_key == DEFAULT_KEY and not default_model_built():
            build_default_model_with_progress()
        with st.spinner("Loading the model...", show_time=True):
            return cached.classifier(selection.model_key)
    except UserError as exc:
        st.error(f"Could not load the model: {exc}")
        st.stop()


def build_default_model_with_progress() -> None:
    """First run on this machine: build the default model here, with its progress and time left on the page."""
    intro = (
        "Building the default model once (MiniLM-L6 fine-tuned on human-rated review sentences, about 5 minutes "
        "on 2 CPU cores); later starts load it in a second."
    )
    slot = st.empty()
    bar = slot.progress(0.0, text=f"{intro} Preparing the data...")
    started = time.monotonic()

    def update(done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        left = elapsed / done * (total - done)
        bar.progress(done / total, text=f"{intro} Training step {done:,} of {total:,}, about {left / 60:.0f} min left.")

    cached.build_default_model(update)
    slot.success(f"The default model was built in {(time.monotonic() - started) / 60:.1f} minutes.")


def require_text(selection: Selection) -> str:
    """The review, or a one-line message and a stopped page: nothing typed, or too long (never the previous
    review explained in its place)."""
    text = selection.text
    if not text.strip():
        st.info("Type a review in the sidebar (or pick an example) to see its explanation.")
        st.stop()
    try:
        check_text(text)
    except UserError as exc:
        st.error(f"Not explained: {exc}.")
        st.stop()
    return text


def truncation_note(selection: Selection) -> None:
    """Tell the user when a review is longer than the model reads at once: read in windows, or truncated."""
    t = cached.trace(selection.model_key, selection.text)
    if t.windows:
        st.info(
            f"This review is longer than the model's limit of {t.max_length} tokens: it is read whole, in "
            f"{len(t.windows)} overlapping windows; the prediction is their weighted mean."
        )
    elif t.truncated:
        st.warning(
            f"This review is longer than the model's limit of {t.max_length} tokens: only its first "
            f"{t.max_length} tokens are classified and explained; the rest is shown in grey."
        )


def review_context(selection: Selection, preview: bool = False) -> tuple[Classifier, str, int]:
    """(classifier, review, predicted label index) for a panel, with the answer line and the truncation note
    shown. `preview`: the page explains with its own methods later (`page_answer` replaces the line); until
    then the line is occlusion's, labelled as a preview."""
    classifier = require_classifier(selection)
    text = require_text(selection)
    slot = st.empty()  # one element only: an empty's container keeps a longer earlier content (streamlit#12069)
    st.session_state[ANSWER_SLOT] = slot
    answer_line(selection, note=PREVIEW_NOTE if preview else "", slot=slot)
    truncation_note(selection)
    return classifier, text, int(np.argmax(cached.trace(selection.model_key, text).probabilities))


RATING = "rating"


def label_pickers(classifier: Classifier, predicted: int, key: str) -> tuple[str | int, int | None]:
    """(target, contrast): the expected rating (default, when the model has one) or a label index, and an
    optional contrast label (only for a label)."""
    labels = classifier.labels
    options: list[str | int] = ([RATING] if classifier.label_values is not None else []) + list(range(len(labels)))
    left, right = st.columns(2)
    target = left.selectbox(
        "What to explain",
        options,
        index=0 if options[0] == RATING else predicted,
        key=f"{key}_target",
        bind="query-params",
        format_func=lambda i: (
            "the expected rating" if i == RATING else (f"{labels[i]} (predicted)" if i == predicted else labels[i])
        ),
    )
    if target == RATING:
        return target, None
    contrast_options = [NO_CONTRAST] + [i for i in range(len(labels)) if i != target]
    contrast = right.selectbox(
        "...rather than (contrast)",
        contrast_options,
        key=f"{key}_contrast",
        bind="query-params",
        format_func=lambda i: i if i == NO_CONTRAST else labels[i],
    )
    return target, None if contrast == NO_CONTRAST else contrast


def method_picker(default: tuple[str, ...], key: str, label: str = "Methods") -> list[Method]:
    """A multi-select of every registered method (new methods appear on their own)."""
    registry = {m.name: m for m in methods()}
    chosen_default = [name for name in default if name in registry] or list(registry)[:1]
    names = st.multiselect(
        label,
        list(registry),
        default=None if key in st.session_state else chosen_default,
        key=key,
        bind="query-params",
        help="\n\n".join(f"**{m.name}**: {m.summary}. {m.reference}" for m in registry.values()),
    )
    return [registry[n] for n in names]


def budget_inputs(
    chosen: list[Method], key: str, classifier: Classifier | None = None, text: str = ""
) -> dict[str, dict[str, object]]:
    """Per-method budget parameters (`max_evals`, `num_samples`, `n_steps`), with the methods' defaults; for a
    review, each box's maximum is the library's budget rule for it (`explain.methods.budget_limit`)."""
    params: dict[str, dict[str, object]] = {}
    budgeted = [m for m in chosen if m.budget and isinstance(m.parameters.get(m.budget), int)]
    if not budgeted:
        return params
    share = window_share(classifier, text) if classifier is not None and has_words(text) else None
    with st.expander("Budgets (more evaluations: slower, more precise)"):
        for m in budgeted:
            default = int(m.parameters[m.budget])
            most = max(1, budget_limit(m, share)) if share is not None else None
            widget = f"{key}_{m.name}_{m.budget}"
            start = {"value": default if most is None else min(default, most)}
            if widget in st.session_state:  # the box keeps the user's value, within this review's maximum
                start = {}
                if most is not None and int(st.session_state[widget]) > most:
                    st.session_state[widget] = most
            value = st.number_input(
                f"{m.name}: {m.budget}",
                min_value=1,
                max_value=most,
                step=max(1, default // 4),
                key=widget,
                help=None if most is None else f"At most {most:,} for this review ({MAX_WINDOW_EVALUATIONS.env}).",
                **start,
            )
            if value != default:
                params[m.name] = {m.budget: int(value)}
    return params


def removal_units(chosen: list[Method], level: str) -> dict[str, dict[str, object]]:
    """Shown per sentence, perturbation methods that can (occlusion, lime) remove whole sentences: the sentence
    question asked directly (on the held-out reviews lime's sentence scores follow people's sentence ratings
    at 0.67 this way, 0.59 summed from words; see the README)."""
    if level != "sentence":
        return {}
    return {m.name: {"units": "sentence"} for m in chosen if "units" in m.parameters}


def merged_params(*per_method: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """Per-method parameter dicts merged (later ones win)."""
    out: dict[str, dict[str, object]] = {}
    for params in per_method:
        for name, values in params.items():
            out[name] = out.get(name, {}) | values
    return out


ANSWER_METHOD = "occlusion"  # one batched model call: the quickest word-level explanation of the prediction
ANSWER_SLOT = "_answer_slot"  # this run's answer line, replaced by `page_answer` once the page's methods are done
PREVIEW_NOTE = "quick preview from occlusion; the answer from this page's methods follows"


def answer_line(
    selection: Selection,
    methods: Sequence[str] = (ANSWER_METHOD,),
    target: str | int | None = None,
    contrast: int | None = None,
    params: dict[str, dict] | None = None,
    *,
    note: str = "",
    slot=None,
) -> None:
    """The page's first line: predicted rating, close-call flag, the words that drove it with their effects (or
    that none clears the noise floor), methods and time: `explain.answer`'s one rule, drawn (into `slot`, an
    `st.empty()`, when given; progress bars, if any, go below it)."""
    text = selection.text
    if not text.strip():
        return
    require_classifier(selection)
    for method in methods:  # cached when the page has run them; else a progress bar while they run
        cached.explanation_live(
            selection.model_key, text, method, target, contrast, (params or {}).get(method), label=f"Answer: {method}"
        )
    line = cached.review_answer(selection.model_key, text, methods, target, contrast, params)
    (slot or st).html(charts.answer_html(line, note=note))


def page_answer(
    selection: Selection,
    explanations: dict[str, Explanation],
    target: str | int | None,
    contrast: int | None,
    params: dict[str, dict] | None = None,
) -> None:
    """Replace the preview line with the answer from the methods this page shows (its signed ones, on its
    question); a page with no signed method keeps occlusion's line, no longer called a preview."""
    slot = st.session_state.get(ANSWER_SLOT)
    if slot is None:
        return
    signed = [name for name, exp in explanations.items() if is_signed(exp)]
    if signed:
        answer_line(selection, signed, target, contrast, params, slot=slot)
    else:
        answer_line(selection, slot=slot)


def explanation_card(exp: Explanation, level: str = "word", scale: float | None = None) -> None:
    """The coloured review; class-agnostic methods say "where the model looked", never a "why" question."""
    st.html(explanation_html(exp, level=level, scale=scale))


NO_STARS = "(none)"  # the stars-column choice of a file without given stars


def read_csv_upload(upload, max_mb: int) -> tuple[bytes, list[str]]:
    """An uploaded CSV's bytes and header columns; one error line and a stopped page when it is over `max_mb` or
    has no readable header (the Batch and Corpus pages)."""
    from explain.data import csv_header

    if upload.size > max_mb * 1024 * 1024:
        st.error(
            f"{upload.name} is {upload.size / 2**20:.1f} MB; the limit is {max_mb} MB. Split the file "
            "or use the command line (`explain batch`, `explain drivers`)."
        )
        st.stop()
    data = upload.getvalue()
    try:
        return data, csv_header(data)
    except UserError as exc:
        st.error(f"{upload.name}: {exc}")
        st.stop()
        raise  # not reached: st.stop() ends the run


def pick_text_and_stars(columns: list[str], left, right, keys: tuple[str, str]) -> tuple[str, str | None]:
    """The text column and the optional given-stars column (None for "(none)"), guessed from the header names."""
    from batch_io import guess_column

    text_col = left.selectbox("Text column", columns, index=guess_column(columns, "text") or 0, key=keys[0])
    options = [NO_STARS] + [c for c in columns if c != text_col]
    stars_col = right.selectbox(
        "Given stars column (optional)", options, index=guess_column(options, "stars") or 0, key=keys[1]
    )
    return text_col, None if stars_col == NO_STARS else stars_col
