"""Explanation reports: one self-contained HTML file (or JSON, or CSV) for one review or a corpus.

The HTML needs no network to open: styles are inline, charts are HTML/CSS, and each BertViz head
view sits in its own `<iframe srcdoc>` with its JavaScript inlined (`explain.render.attention_view`).
Everything user-given (review text, words, labels) goes through jinja2 autoescaping. Explanations
and each review's three-stage trace come from the store, so a re-run recomputes nothing cached;
only the attention views (one forward pass each) are recomputed. CSV cells a spreadsheet would run
as a formula (leading = + - @ tab CR) are prefixed with a single quote.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup

from explain.atomic import write_atomic
from explain.classifier import Classifier, Trace, quiet_truncation
from explain.corpus import (
    CorpusSummary,
    MethodSpec,
    RunStats,
    label_stars,
    load_results,
    method_specs,
    run_corpus,
    split_methods,
    summarize,
)
from explain.corpus.drivers import Drivers, drivers_from_store
from explain.data import Review
from explain.errors import UserError
from explain.explanation import Explanation
from explain.inert import json_dumps
from explain.progress import Progress
from explain.render.drivers_view import drivers_html
from explain.render.templating import POSITIVE_RGB, render_template, tint
from explain.report_csv import neutralize_cell as neutralize_cell  # re-exported: the dashboard's CSV uses it
from explain.report_csv import report_csv
from explain.store import NO_CONTRAST, PREDICTED, ExplanationStore, StoreKey, fingerprint, text_hash

FORMATS = ("html", "json", "csv")
TRACE_METHOD = "_trace"  # store rows holding a review's three-stage trace (not an explanation method)


@dataclass(frozen=True)
class ReviewEntry:
    """One review of a report: its explanations, its three-stage trace, optionally its attention view."""

    index: int
    review: Review
    explanations: Mapping[str, Explanation]
    trace: Trace | None
    attention_html: str | None = None
    attention_note: str | None = None

    @property
    def probabilities(self) -> np.ndarray | None:
        if self.trace is not None:
            return np.asarray(self.trace.probabilities)
        first = next(iter(self.explanations.values()), None)
        return None if first is None else first.probabilities


@dataclass(frozen=True)
class Report:
    """Everything a report shows, ready to render as HTML, JSON or CSV."""

    model: str
    fingerprint: str
    labels: tuple[str, ...]
    methods: tuple[MethodSpec, ...]
    entries: tuple[ReviewEntry, ...]
    summary: CorpusSummary
    run: RunStats
    created: str
    failures: tuple[tuple[str, str, str], ...] = field(default_factory=tuple)
    drivers: Drivers | None = None  # what lowers and raises the rating across the corpus (explain.corpus.drivers)


# ---------------------------------------------------------------------------- building
def build_report(
    classifier: Classifier,
    reviews: Sequence[Review],
    methods: Sequence[str],
    store: ExplanationStore,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    attention_views: int = 1,
    top_k: int = 10,
    progress: Progress | None = None,
) -> Report:
    """Explain what the store lacks (locally), then gather every review's results into a `Report`.

    `attention_views`: how many reviews (the first ones) get a BertViz head view.
    """
    if not reviews:
        raise UserError("the report has no reviews")
    texts = [r.text for r in reviews]
    specs = method_specs(methods, params)
    run = run_corpus(
        classifier, texts, [s.name for s in specs], store, params={s.name: s.params for s in specs}, progress=progress
    )
    results = load_results(store, classifier, texts, [s.name for s in specs], {s.name: s.params for s in specs})
    traces = stored_traces(store, classifier, texts)
    entries = []
    for i, (review, per_method, trace) in enumerate(zip(reviews, results, traces, strict=True)):
        view, note = _attention(classifier, review.text) if i < attention_views else (None, None)
        entries.append(ReviewEntry(i, review, per_method, trace, view, note))
    summary = summarize(reviews, results, classifier.labels, top_k=top_k, min_reviews=min(2, len(reviews)))
    drivers = drivers_from_store(classifier, reviews, specs, store)
    return Report(
        model=classifier.name,
        fingerprint=fingerprint(classifier),
        labels=tuple(classifier.labels),
        methods=tuple(specs),
        entries=tuple(entries),
        summary=summary,
        run=run,
        created=time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        failures=tuple(run.failed),
        drivers=drivers,
    )


def stored_traces(store: ExplanationStore, classifier: Classifier, texts: Sequence[str]) -> list[Trace]:
    """Each text's three-stage trace, from the store, or computed (one forward pass) and stored."""
    fp = fingerprint(classifier)
    out: list[Trace] = []
    for text in texts:
        key = StoreKey(fp, TRACE_METHOD, "{}", PREDICTED, NO_CONTRAST, text_hash(text))
        payload = store.get_payload(key)
        if payload is None:
            with quiet_truncation():  # the trace itself records truncation
                trace = classifier.trace(text)
            store.put(key, dataclasses.asdict(trace))
        else:
            payload["id_to_token"] = {int(k): v for k, v in payload["id_to_token"].items()}
            payload["id2label"] = {int(k): v for k, v in payload["id2label"].items()}
            trace = Trace(**payload)
        out.append(trace)
    return out


def _attention(classifier: Classifier, text: str) -> tuple[str | None, str | None]:
    """(head view HTML, None) or (None, why there is none)."""
    from explain.render.attention_view import attention_inputs, head_view_height, head_view_html
    from explain.render.html import iframe_html

    try:
        tokens, attentions = attention_inputs(classifier, text)
        return iframe_html(head_view_html(tokens, attentions), head_view_height(len(tokens))), None
    except UserError as exc:
        return None, f"no attention view: {exc}"


# ---------------------------------------------------------------------------- JSON
def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    return {
        "model": report.model,
        "fingerprint": report.fingerprint,
        "labels": list(report.labels),
        "created": report.created,
        "methods": {s.name: dict(s.params) for s in report.methods},
        "run": {
            "engine": report.run.engine,
            "items": report.run.items,
            "cached": report.run.cached,
            "computed": report.run.computed,
            "failed": len(report.run.failed),
            "seconds": round(report.run.seconds, 3),
        },
        "failures": [{"method": m, "text": t, "error": e} for m, t, e in report.failures],
        "reviews": [
            {
                "index": e.index,
                "text": e.review.text,
                "stars": e.review.stars,
                "predicted": None if e.probabilities is None else report.labels[int(np.argmax(e.probabilities))],
                "probabilities": None if e.probabilities is None else [float(p) for p in e.probabilities],
                "trace": None if e.trace is None else dataclasses.asdict(e.trace),
                "explanations": {m: x.to_dict() for m, x in e.explanations.items()},
            }
            for e in report.entries
        ],
        "summary": report.summary.to_dict(),
        "drivers": None if report.drivers is None else report.drivers.to_dict(),
    }


def report_json(report: Report) -> str:
    return json_dumps(report_dict(report), indent=1)  # controls escaped, NaN as null


# ---------------------------------------------------------------------------- CSV


def _heat(n: int, peak: int) -> str:
    r, g, b = tint(POSITIVE_RGB, 0.0 if peak <= 0 else 0.75 * n / peak)
    return f"rgb({r},{g},{b})"


def report_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    star_to_label = {stars: i for i, stars in enumerate(label_stars(report.labels)) if stars is not None}
    return render_template(
        "report.html.j2",
        r=report,
        corpus_html=Markup(corpus_summary_html(report.summary, min_reviews=min(2, len(report.entries)), link=True)),
        entries=[_entry_view(e, report.labels, star_to_label) for e in report.entries],
        drivers_html=None if report.drivers is None else Markup(drivers_html(report.drivers, link="#review-{index}")),
    )


def corpus_summary_html(summary: CorpusSummary, *, min_reviews: int = 2, link: bool = False) -> str:
    """The corpus part of a report as one self-contained fragment (its CSS scoped to it): predicted and given
    stars, the confusion matrix, the words that push reviews toward each label, the most confidently wrong
    reviews (`link`: numbers link to the report's review sections)."""
    return render_template(
        "corpus_summary.html.j2",
        s=summary,
        labels=summary.labels,
        dist=_distribution(summary, summary.labels),
        confusion=_confusion_rows(summary, summary.labels),
        min_reviews=min_reviews,
        link_reviews=link,
    )


def _distribution(s: CorpusSummary, labels: Sequence[str]) -> list[dict]:
    total_pred = max(sum(s.predicted_counts), 1)
    total_given = max(sum(s.given_counts or ()), 1)
    return [
        {
            "label": label,
            "pred": s.predicted_counts[i],
            "pred_pct": f"{100 * s.predicted_counts[i] / total_pred:.1f}",
            "given": s.given_counts[i] if s.given_counts else 0,
            "given_pct": f"{100 * s.given_counts[i] / total_given:.1f}" if s.given_counts else "0",
        }
        for i, label in enumerate(labels)
    ]


def _confusion_rows(s: CorpusSummary, labels: Sequence[str]) -> list[dict]:
    if not s.confusion:
        return []
    peak = max(max(row) for row in s.confusion)
    return [
        {
            "label": labels[g],
            "total": sum(row),
            "cells": [{"n": n, "bg": _heat(n, peak), "diag": g == p} for p, n in enumerate(row)],
        }
        for g, row in enumerate(s.confusion)
    ]


def _entry_view(e: ReviewEntry, labels: Sequence[str], star_to_label: Mapping[int, int]) -> dict:
    """What the template shows of one review: prediction, given stars, the three stages, each method."""
    from explain.labels import rating_unit
    from explain.metrics.consensus import consensus
    from explain.render.cards import trace_html
    from explain.render.html import (
        emphasis_html,
        explanation_html,
        natural_level,
        prediction_bar_html,
        top_words_html,
    )
    from explain.render.plain import answer_line, top_sentences

    probs, t = e.probabilities, e.trace
    predicted = None if probs is None else int(np.argmax(probs))
    given = None if e.review.stars is None else star_to_label.get(e.review.stars)
    methods = [
        {
            "name": name,
            "tokens": Markup(explanation_html(x, natural_level(x))),
            "top": Markup(top_words_html(x, k=8, level=natural_level(x))),
            "sentences": top_sentences(x),
            "diagnostics": sorted((str(k), _short(v)) for k, v in x.diagnostics.items()),
        }
        for name, x in e.explanations.items()
    ]
    return {
        "index": e.index,
        "text": e.review.text,
        "methods": methods,
        "answer": None
        if e.probabilities is None
        else answer_line(labels, e.probabilities, _values(e), rating_unit(labels, _values(e))),
        "consensus": emphasis_html(consensus(list(e.explanations.values())).sentence)  # the answer's one rule
        if e.explanations
        else None,
        "predicted": None if predicted is None else labels[predicted],
        "given": None
        if e.review.stars is None
        else (labels[given] if given is not None else f"{e.review.stars} stars"),
        "wrong": given is not None and predicted is not None and given != predicted,
        "bar": Markup(prediction_bar_html(labels, probs)) if probs is not None else None,
        "trace_html": Markup(trace_html(t)) if t else None,
        "attention": Markup(e.attention_html) if e.attention_html else None,
        "attention_note": e.attention_note,
    }


def _values(e: ReviewEntry) -> tuple[float, ...] | None:
    return next((x.label_values for x in e.explanations.values() if x.label_values is not None), None)


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def render(report: Report, fmt: str) -> str:
    """The report in `fmt` (html, json or csv)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    return {"html": report_html, "json": report_json, "csv": report_csv}[fmt](report)


# ---------------------------------------------------------------------------- the command
@dataclass(frozen=True)
class ReportOptions:
    """What `explain report` was asked for."""

    methods: str = "occlusion"  # comma-separated
    output: Path | None = None  # None: report.<format>
    fmt: str | None = None  # html, json or csv; None: from the output's suffix, else html
    cache: Path | None = None  # None: the default cache file
    no_cache: bool = False  # keep nothing: explain everything in memory
    params: tuple[str, ...] = ()  # METHOD.NAME=VALUE
    attention_views: int = 1
    top_k: int = 10

    def resolved_format(self) -> str:
        """html, json or csv: `fmt`, else the output's suffix (none: html); an unknown suffix is refused."""
        suffix = self.output.suffix.lstrip(".").lower() if self.output is not None else ""
        if not self.fmt and suffix and suffix not in FORMATS:
            raise UserError(
                f"-o {self.output}: unknown report suffix .{suffix}; name the file .html, .json or .csv, "
                "or give --format html|json|csv"
            )
        fmt = (self.fmt or suffix or "html").lower()
        if fmt not in FORMATS:
            raise UserError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
        return fmt


def write_report(
    classifier: Classifier, reviews: Sequence[Review], options: ReportOptions, progress: Progress | None = None
) -> tuple[Report, Path, str]:
    """Everything `explain report` does after loading the model and reading the reviews: (report, file, format)."""
    from explain.methods import parse_params

    fmt = options.resolved_format()
    output = options.output or Path(f"report.{fmt}")
    names = split_methods(options.methods)
    with ExplanationStore(":memory:" if options.no_cache else options.cache) as store:
        report = build_report(
            classifier,
            reviews,
            names,
            store,
            params=parse_params(list(options.params), names),
            attention_views=options.attention_views if fmt == "html" else 0,
            top_k=options.top_k,
            progress=progress,
        )
        text = render(report, fmt)
    output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, text)  # a failure (full disk) keeps the previous report whole
    return report, output, fmt
