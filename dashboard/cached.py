"""Cached calls into `explain`: a model loads once per process (`st.cache_resource`), and each result
(trace, explanation, attention view) is kept per input (`st.cache_data`), so a rerun is instant."""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import streamlit as st
from allowed_models import resolve
from streamlit.runtime.scriptrunner import add_script_run_ctx, get_script_run_ctx

from explain import default_model, whatif
from explain.answer import Answer, answer
from explain.classifier import Classifier, Trace, TruncationWarning
from explain.corpus import load_results, run_corpus
from explain.explanation import Explanation
from explain.methods import explain
from explain.methods.attention import relevance_matrix, rollout_matrix
from explain.models import load_classifier
from explain.planned import planned_rows
from explain.render.attention_view import (
    Passage,
    attention_inputs,
    ensure_assets,
    head_view_html,
    model_view_html,
    passage_attention,
)
from explain.report import build_report, report_html
from explain.store import ExplanationStore
from explain.whatif import WhatIf

N_EXAMPLES_PER_STAR = 1
EXAMPLE_MAX_CHARS = 400


@dataclass(frozen=True)
class LoadedModel:
    """A classifier shared by every session, and a lock so runs on it do not interleave (their
    evaluation counts stay per explanation, and two CPU-bound runs do not fight over the cores)."""

    classifier: Classifier
    lock: threading.Lock


@st.cache_resource(max_entries=4, show_spinner=False)  # controls.require_classifier says what is happening
def loaded_model(key: str) -> LoadedModel:
    choice = resolve(key)
    classifier = load_classifier(choice.source)
    classifier.name = choice.label  # one model name everywhere: the picker's, also in explanations and reports
    return LoadedModel(classifier, threading.Lock())


_BUILD_LOCK = threading.Lock()


def build_default_model(progress: Callable[[int, int], None]) -> None:
    """Build the missing default model (once: a second session waits for the first one's build)."""
    with _BUILD_LOCK:
        default_model.default_model_dir(build=True, progress=progress)


def classifier(key: str) -> Classifier:
    return loaded_model(key).classifier


@st.cache_data(max_entries=500, show_spinner=False)
def trace(key: str, text: str) -> Trace:
    """The three stages for one text; `Trace.truncated` tells the page to show a truncation note."""
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)  # shown on the page instead
        return model.classifier.trace(text)


@st.cache_data(max_entries=200, show_spinner=False)
def probabilities(key: str, texts: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """(probabilities (n, n_labels), truncation notes) for a batch of texts."""
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TruncationWarning)
        probs = model.classifier.predict_proba(list(texts))
    return probs, tuple(str(w.message) for w in caught if issubclass(w.category, TruncationWarning))


@st.cache_data(max_entries=5000, show_spinner=False)
def _explanation_dict(
    key: str,
    text: str,
    method: str,
    target: str | int | None,
    contrast: int | None,
    params: tuple[tuple[str, object], ...],
) -> dict:
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)  # the page shows a truncation note
        return explain(
            model.classifier, text, method=method, target=target, contrast=contrast, **dict(params)
        ).to_dict()


def explanation(
    key: str,
    text: str,
    method: str,
    target: str | int | None = None,
    contrast: int | None = None,
    params: dict | None = None,
) -> Explanation:
    """`explain.explain(...)` for an allowed model, cached on all of its arguments."""
    items = tuple(sorted((params or {}).items()))
    return Explanation.from_dict(_explanation_dict(key, text, method, target, contrast, items))


PROGRESS_AFTER_S = 0.3  # an explanation still running after this long gets a progress bar
PROGRESS_EVERY_S = 0.25


def explanation_live(
    key: str,
    text: str,
    method: str,
    target: str | int | None = None,
    contrast: int | None = None,
    params: dict | None = None,
    *,
    label: str = "",
) -> Explanation:
    """`explanation(...)`, with a progress bar (model evaluations done of those planned, and time left) when it is
    not in the cache and takes longer than a moment. The work runs in a thread that counts its own evaluations
    (`Classifier.metered`); this thread draws the bar and returns the result (or raises the error)."""
    model = loaded_model(key)
    box: dict[str, object] = {}

    def work() -> None:
        with model.classifier.metered() as meter:
            box["meter"] = meter
            try:
                box["result"] = explanation(key, text, method, target, contrast, params)
            except BaseException as exc:  # raised again below, in the page's thread
                box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    add_script_run_ctx(thread, get_script_run_ctx())
    started = time.monotonic()
    thread.start()
    thread.join(PROGRESS_AFTER_S)
    if thread.is_alive():
        planned = planned_rows(model.classifier, text, method, params)
        slot = st.empty()
        while thread.is_alive():
            meter = box.get("meter")
            done = min(getattr(meter, "rows", 0), planned)
            elapsed = time.monotonic() - started
            left = (
                "estimating the time left"
                if not done
                else f"about {elapsed / done * (planned - done):.0f} s left"
                if done < planned
                else "finishing"
            )
            slot.progress(
                min(done / planned, 0.99),
                text=f"{label or method}: {done:,} of about {planned:,} model evaluations · {left}",
            )
            thread.join(PROGRESS_EVERY_S)
        slot.empty()
    thread.join()
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["result"]  # type: ignore[return-value]


@st.cache_data(max_entries=1000, show_spinner=False)
def _answer(
    key: str,
    text: str,
    methods: tuple[str, ...],
    target: str | int | None,
    contrast: int | None,
    params: tuple[tuple[str, tuple[tuple[str, object], ...]], ...],
) -> Answer:
    per_method = {name: dict(values) for name, values in params}
    explanations = [explanation(key, text, m, target, contrast, per_method.get(m)) for m in methods]
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return answer(explanations, model.classifier.rating_unit, classifier=model.classifier)


def review_answer(
    key: str,
    text: str,
    methods: Sequence[str],
    target: str | int | None = None,
    contrast: int | None = None,
    params: dict[str, dict] | None = None,
) -> Answer:
    """`explain.answer` from these methods' explanations (cached), each named word checked by removing it."""
    frozen = tuple(sorted((m, tuple(sorted(v.items()))) for m, v in (params or {}).items() if m in methods))
    return _answer(key, text, tuple(methods), target, contrast, frozen)


@st.cache_data(max_entries=100, show_spinner=False)
def attention(key: str, text: str, window: int = 0) -> tuple[tuple[str, ...], np.ndarray]:
    """Tokens and attentions (layers, heads, seq, seq) of the text (of one window of a long text)."""
    model = loaded_model(key)
    with model.lock:
        return attention_inputs(model.classifier, text, window)


@st.cache_resource(show_spinner="Fetching the attention view's JavaScript libraries with npm (once)...")
def js_assets() -> Path:
    return ensure_assets()


@st.cache_data(max_entries=50, show_spinner=False)
def attention_views(key: str, text: str, layers: tuple[int, ...], part: Passage | None = None) -> tuple[str, str]:
    """(head view HTML, model view HTML), offline: of the whole text, or of one passage of one window."""
    js_assets()
    tokens, attentions = attention(key, text, part.window if part else 0)
    if part is not None:
        tokens, attentions = passage_attention(tokens, attentions, part)
    return (head_view_html(tokens, attentions, layers=layers), model_view_html(tokens, attentions, layers=layers))


@st.cache_data(max_entries=100, show_spinner=False)
def rollout(key: str, text: str) -> np.ndarray:
    """Attention rollout matrix (seq, seq)."""
    return rollout_matrix(attention(key, text)[1])


@st.cache_data(max_entries=100, show_spinner=False)
def relevance(key: str, text: str, target: str | int, contrast: int | None) -> np.ndarray:
    """Gradient-weighted attention relevance (seq, seq) for a question ("rating" or a label, and a contrast)."""
    model = loaded_model(key)
    with model.lock:
        question = model.classifier.target(target, contrast, text)
        return np.asarray(relevance_matrix(model.classifier, text, question))


@st.cache_data(show_spinner=False)
def examples() -> list[tuple[str, str]]:
    """(label, text) examples: the seed's two sentences, then a short held-out review per star."""
    from explain.default_model import SEED_SENTENCES, heldout_reviews
    from explain.errors import UserError

    found = [(f"Seed: {s}", s) for s in SEED_SENTENCES]
    try:
        reviews = heldout_reviews()
    except UserError:  # no data yet (registry unreachable): the seed sentences still work
        return found
    for stars in range(1, 6):
        short = [r for r in reviews if r.stars == stars and len(r.text) <= EXAMPLE_MAX_CHARS]
        for review in short[:N_EXAMPLES_PER_STAR]:
            preview = review.text if len(review.text) <= 60 else review.text[:57] + "..."
            found.append((f"Held-out, people gave {stars} star{'s' if stars > 1 else ''}: {preview}", review.text))
    return found


@st.cache_data(max_entries=2000, show_spinner=False)
def _faithfulness(
    key: str,
    text: str,
    method: str,
    target: str | int | None,
    contrast: int | None,
    params: tuple[tuple[str, object], ...],
    random_rankings: int,
) -> dict[str, dict[str, float]]:
    from explain.metrics import faithfulness

    exp = explanation(key, text, method, target, contrast, dict(params))
    model = loaded_model(key)
    with model.lock:
        result = faithfulness(model.classifier, exp, random_rankings=random_rankings)
    return {"values": dict(result.values), "random": dict(result.random)}


def faithfulness_values(
    key: str,
    text: str,
    method: str,
    target: str | int | None,
    contrast: int | None,
    params: dict | None,
    random_rankings: int = 3,
) -> dict[str, dict[str, float]]:
    """{"values": metric -> value, "random": metric -> chance level} for one explanation (cached)."""
    return _faithfulness(key, text, method, target, contrast, tuple(sorted((params or {}).items())), random_rankings)


def explain_corpus(key: str, texts: tuple[str, ...], method: str) -> list[Explanation | None]:
    """Each text's explanation of its predicted label (None where the method failed), through
    `explain.corpus.run_corpus` into the SQLite store: what the store holds is not recomputed, and the
    HTML report reads the same results."""
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings(), ExplanationStore() as store:
        warnings.simplefilter("ignore", TruncationWarning)  # the page shows truncation notes
        run_corpus(model.classifier, list(texts), [method], store)
        results = load_results(store, model.classifier, list(texts), [method])
    return [r.get(method) for r in results]


def batch_report_html(key: str, reviews: tuple, method: str) -> str:
    """A self-contained HTML report of a batch (`explain.report`), from the explanations already in the store."""
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings(), ExplanationStore() as store:
        warnings.simplefilter("ignore", TruncationWarning)  # the report marks truncated reviews itself
        return report_html(build_report(model.classifier, list(reviews), [method], store))


@st.cache_data(max_entries=500, show_spinner=False)
def compare_edit(key: str, text: str, edited: str) -> WhatIf:
    """The prediction before and after an edit, and the word diff (`explain.whatif.compare_edit`)."""
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return whatif.compare_edit(model.classifier, text, edited)


@st.cache_data(max_entries=200, show_spinner=False)
def smallest_change(key: str, text: str, method: str) -> whatif.SmallestChange | None:
    """The fewest words whose removal changes the predicted stars, from `method`'s ranking, verified by the model."""
    exp = explanation(key, text, method, "predicted")  # words pushing toward the predicted stars
    model = loaded_model(key)
    with model.lock, warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        return whatif.smallest_change(model.classifier, exp)


def corpus_drivers(key: str, reviews: tuple, method: str, progress: Callable[[int, int, str], None] | None = None):
    """`explain.corpus.drivers.corpus_drivers` for a corpus, through the SQLite store (what it holds is not
    recomputed, so a rerun only re-reads it); not st.cache_data, since `progress` draws on the page."""
    from explain.corpus.drivers import corpus_drivers as compute

    model = loaded_model(key)
    with model.lock, warnings.catch_warnings(), ExplanationStore() as store:
        warnings.simplefilter("ignore", TruncationWarning)
        return compute(model.classifier, list(reviews), store, method=method, progress=progress).drivers
