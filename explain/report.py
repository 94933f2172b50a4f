"""Explanation reports: one self-contained HTML file (or JSON, or CSV) for one review or a corpus.

The HTML needs no network to open: styles are inline, charts are HTML/CSS, and each BertViz head
view sits in its own `<iframe srcdoc>` with its JavaScript inlined (`explain.render.attention_view`).
Everything user-given (review text, words, labels) goes through jinja2 autoescaping. Explanations
and each review's three-stage trace come from the store, so a re-run recomputes nothing cached;
only the attention views (one forward pass each) are recomputed. CSV cells a spreadsheet would run
as a formula (leading = + - @ tab CR) are prefixed with a single quote.
"""

from __future__ import annotations

import csv
import dataclasses
import html as html_lib
import io
import json
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from explain.classifier import Classifier, Trace, TruncationWarning
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
from explain.data import Review
from explain.errors import UserError
from explain.explanation import Explanation
from explain.store import NO_CONTRAST, PREDICTED, ExplanationStore, StoreKey, fingerprint, text_hash

FORMATS = ("html", "json", "csv")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
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
    progress: bool = False,
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
    for i, (review, per_method, trace) in enumerate(zip(reviews, results, traces)):
        view, note = _attention(classifier, review.text) if i < attention_views else (None, None)
        entries.append(ReviewEntry(i, review, per_method, trace, view, note))
    summary = summarize(reviews, results, classifier.labels, top_k=top_k, min_reviews=min(2, len(reviews)))
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
    )


def stored_traces(store: ExplanationStore, classifier: Classifier, texts: Sequence[str]) -> list[Trace]:
    """Each text's three-stage trace, from the store, or computed (one forward pass) and stored."""
    fp = fingerprint(classifier)
    out: list[Trace] = []
    for text in texts:
        key = StoreKey(fp, TRACE_METHOD, "{}", PREDICTED, NO_CONTRAST, text_hash(text))
        payload = store.get_payload(key)
        if payload is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", TruncationWarning)  # the trace itself records truncation
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

    try:
        tokens, attentions = attention_inputs(classifier, text)
        return _iframe(head_view_html(tokens, attentions), head_view_height(len(tokens))), None
    except UserError as exc:
        return None, f"no attention view: {exc}"


def _iframe(document: str, height: int) -> str:
    """A document in its own `<iframe srcdoc>`: each view keeps its own scripts and globals, still offline."""
    srcdoc = html_lib.escape(
        f"<!doctype html><meta charset='utf-8'><body style='margin:0'>{document}</body>", quote=True
    )
    return (
        f'<iframe class="rx-attention" srcdoc="{srcdoc}" '
        f'style="width:100%;height:{height}px;border:1px solid #ddd;border-radius:6px"></iframe>'
    )


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
    }


def report_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=1, ensure_ascii=False)


# ---------------------------------------------------------------------------- CSV
CSV_COLUMNS = (
    "review",
    "text",
    "given_stars",
    "predicted",
    "confidence",
    "method",
    "explained_label",
    "word_index",
    "word",
    "score",
)


def neutralize_cell(value: Any) -> Any:
    """A string a spreadsheet would run as a formula (= + - @ tab CR first) gets a leading single quote."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def report_csv(report: Report) -> str:
    """One row per review, method and word: the word's score toward the explained (predicted) label."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in report.entries:
        probs = entry.probabilities
        predicted = None if probs is None else int(np.argmax(probs))
        for method, exp in entry.explanations.items():
            for w, (word, score) in enumerate(zip(exp.words, exp.word_scores)):
                row = (
                    entry.index,
                    entry.review.text,
                    entry.review.stars,
                    None if predicted is None else report.labels[predicted],
                    None if probs is None else round(float(probs[predicted]), 6),
                    method,
                    exp.target_label or exp.question,
                    w,
                    word,
                    round(float(score), 8),
                )
                writer.writerow([neutralize_cell(c) for c in row])
    return buffer.getvalue()


# ---------------------------------------------------------------------------- HTML
_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f6f7f9;color:#111}
main{max-width:1100px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:24px;margin:12px 0 4px}h2{font-size:20px;margin:28px 0 8px;border-bottom:2px solid #dde}
h3{font-size:16px;margin:16px 0 6px}h4{font-size:14px;margin:10px 0 4px;color:#333}
.meta{color:#555;font-size:13px}.card{background:#fff;border:1px solid #dde;border-radius:8px;padding:12px 16px;margin:12px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{border:1px solid #dde;padding:3px 8px;text-align:right}
th{background:#f0f1f4}td.l,th.l{text-align:left}.bars{display:grid;grid-template-columns:9ch 1fr 6ch;gap:3px 8px;
align-items:center;font-size:13px;max-width:560px}.bar{background:#eee;height:14px;border-radius:3px;position:relative}
.bar>span{position:absolute;left:0;top:0;bottom:0;background:#2166ac;border-radius:3px}.bar.given>span{background:#888}
.review-text{white-space:pre-wrap;word-wrap:break-word;background:#fafafa;border-left:3px solid #99a;padding:6px 10px}
.stages{display:grid;grid-template-columns:repeat(3,1fr);gap:8px}.stage{background:#fafbfc;border:1px solid #e4e6ea;
border-radius:6px;padding:6px 10px;font-size:13px;overflow-wrap:anywhere}.stage b{display:block;margin-bottom:4px}
.tokens{font-family:ui-monospace,monospace;font-size:12px}.wrong{color:#b2182b;font-weight:bold}
.note{color:#666;font-size:13px;font-style:italic}.words{display:flex;flex-wrap:wrap;gap:12px}
details>summary{cursor:pointer;color:#333}nav a{margin-right:10px}
"""

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Explanation report: {{ r.model }}</title><style>{{ style }}</style></head>
<body><main>
<h1>Why did these reviews get their stars?</h1>
<p class="meta">Model <b>{{ r.model }}</b> (fingerprint <code>{{ r.fingerprint[:12] }}</code>) &middot;
labels {{ r.labels|join(", ") }} &middot; methods {% for s in r.methods %}<b>{{ s.name }}</b>{% if s.params %}
({% for k, v in s.params.items() %}{{ k }}={{ v }}{% if not loop.last %}, {% endif %}{% endfor %}){% endif %}
{%- if not loop.last %}, {% endif %}{% endfor %} &middot; {{ r.entries|length }} review(s) &middot; {{ r.created }}<br>
This run: {{ r.run.computed }} explanation(s) computed, {{ r.run.cached }} from the cache
{%- if r.failures %}, <span class="wrong">{{ r.failures|length }} failed</span>{% endif %}, {{ "%.1f"|format(r.run.seconds) }} s.
Scores: <span style="color:#2166ac">blue</span> pushes toward the explained (predicted) label,
<span style="color:#b2182b">red</span> away from it.</p>
{% if r.entries|length > 1 %}<nav class="meta"><a href="#corpus">Corpus</a><a href="#reviews">Reviews</a></nav>
<h2 id="corpus">Corpus</h2>
<div class="card"><h3>Predicted labels{% if s.given_counts %} and given stars{% endif %}</h3>
<div class="bars">{% for row in dist %}<span>{{ row.label }}</span><span class="bar"><span style="width:{{ row.pred_pct }}%"></span></span><span>{{ row.pred }}</span>
{% if s.given_counts %}<span class="meta">given</span><span class="bar given"><span style="width:{{ row.given_pct }}%"></span></span><span class="meta">{{ row.given }}</span>{% endif %}
{% endfor %}</div>
{% if s.confusion %}<h3>Confusion matrix</h3><p class="meta">Rows: given stars; columns: predicted.
{% if s.accuracy is not none %}Accuracy {{ "%.3f"|format(s.accuracy) }}{% endif %}{% if s.mae_stars is not none %},
mean absolute error {{ "%.3f"|format(s.mae_stars) }} stars{% endif %}{% if s.unmapped_stars %}; {{ s.unmapped_stars }} review(s)
whose given stars match no label are left out{% endif %}.</p>
<table><tr><th class="l">given \\ predicted</th>{% for label in r.labels %}<th>{{ label }}</th>{% endfor %}<th>total</th></tr>
{% for row in confusion %}<tr><th class="l">{{ row.label }}</th>{% for cell in row.cells %}<td style="background:{{ cell.bg }}{% if cell.diag %};font-weight:bold{% endif %}">{{ cell.n }}</td>{% endfor %}<td>{{ row.total }}</td></tr>
{% endfor %}</table>{% endif %}</div>
<div class="card"><h3>Words that push reviews toward each label</h3>
<p class="meta">Summed scores over the corpus (per-label methods count every review for every label; others the
reviews explained for that label); <i>n</i> = occurrences, <i>r</i> = reviews{% if min_reviews > 1 %}, words in
at least {{ min_reviews }} reviews{% endif %}.</p>
{% for method, per_label in s.top_words.items() %}<h4>{{ method }}</h4><div class="words">
{% for label, words in per_label.items() %}<table><tr><th class="l" colspan="4">{{ label }}</th></tr>
{% for w in words %}<tr><td class="l">{{ w.word }}</td><td>{{ "%+.3f"|format(w.total) }}</td><td class="meta">n={{ w.count }}</td><td class="meta">r={{ w.reviews }}</td></tr>
{% else %}<tr><td class="l note" colspan="4">none</td></tr>{% endfor %}</table>
{% endfor %}</div>{% endfor %}</div>
<div class="card"><h3>Most confidently wrong</h3>
{% if s.given_counts is none %}<p class="note">No given stars (use --stars-col) so nothing can be wrong.</p>
{% elif not s.confidently_wrong %}<p class="note">No review's prediction differs from its given stars.</p>
{% else %}<table><tr><th>#</th><th class="l">review</th><th>given</th><th>predicted</th><th>confidence</th><th>p(given)</th></tr>
{% for w in s.confidently_wrong %}<tr><td><a href="#review-{{ w.index }}">{{ w.index + 1 }}</a></td><td class="l">{{ w.text|truncate(140) }}</td>
<td>{{ r.labels[w.given] }}</td><td class="wrong">{{ r.labels[w.predicted] }}</td><td>{{ "%.3f"|format(w.confidence) }}</td><td>{{ "%.3f"|format(w.given_probability) }}</td></tr>
{% endfor %}</table><p class="meta">Their explanations are in the review sections below (follow the number).</p>{% endif %}</div>
{% endif %}
{% if r.failures %}<div class="card"><h3 class="wrong">Failed explanations</h3><table>
{% for m, t, e in r.failures[:50] %}<tr><td class="l">{{ m }}</td><td class="l">{{ t|truncate(80) }}</td><td class="l">{{ e }}</td></tr>{% endfor %}
</table></div>{% endif %}
<h2 id="reviews">Review{% if r.entries|length > 1 %}s{% endif %}</h2>
{% for e in entries %}<section class="card" id="review-{{ e.index }}">
<h3>Review {{ e.index + 1 }}{% if e.predicted %}: predicted {{ e.predicted }}{% endif %}
{%- if e.given %}, given {{ e.given }}{% if e.wrong %} <span class="wrong">(wrong)</span>{% endif %}{% endif %}</h3>
<div class="review-text">{{ e.text }}</div>
{% if e.bar %}<h4>Prediction</h4>{{ e.bar }}{% endif %}
{% if e.trace %}<h4>Three stages</h4><div class="stages">
<div class="stage"><b>1 &middot; Preprocessing</b>{{ e.trace.tokens|length }} tokens{% if e.trace.truncated %}
<span class="wrong">(truncated at {{ e.trace.max_length }})</span>{% endif %}<br>
<span class="tokens">{% for t, i in e.token_ids %}{{ t }}<sub>{{ i }}</sub> {% endfor %}{% if e.more_tokens %}&hellip; +{{ e.more_tokens }}{% endif %}</span></div>
<div class="stage"><b>2 &middot; Model inference</b>{{ r.model }} &rarr; logits<br>
<span class="tokens">{% for label, v in e.logits %}{{ label }}: {{ "%+.3f"|format(v) }}<br>{% endfor %}</span></div>
<div class="stage"><b>3 &middot; Post-processing</b>softmax &rarr; probabilities<br>
<span class="tokens">{% for label, p in e.probs %}{{ label }}: {{ "%.3f"|format(p) }}<br>{% endfor %}</span>
predicted <b>{{ e.predicted }}</b></div></div>{% endif %}
{% for m in e.methods %}<h4>{{ m.name }}</h4>{{ m.tokens }}{{ m.top }}
<details><summary class="meta">diagnostics</summary><table>{% for k, v in m.diagnostics %}<tr><td class="l">{{ k }}</td><td class="l">{{ v }}</td></tr>{% endfor %}</table></details>
{% else %}<p class="note">No explanation could be computed for this review (see failed explanations).</p>{% endfor %}
{% if e.attention %}<h4>Attention (BertViz head view)</h4>{{ e.attention }}{% elif e.attention_note %}<p class="note">{{ e.attention_note }}</p>{% endif %}
</section>
{% endfor %}
</main></body></html>
"""

_ENV = Environment(autoescape=True, undefined=StrictUndefined)
MAX_TRACE_TOKENS = 48  # tokens listed in the preprocessing stage


def _heat(n: int, peak: int) -> str:
    strength = 0.0 if peak <= 0 else n / peak
    r, g, b = (round(255 + (c - 255) * 0.75 * strength) for c in (33, 102, 172))
    return f"rgb({r},{g},{b})"


def report_html(report: Report) -> str:
    """The report as one self-contained HTML page."""
    from explain.render.html import explanation_html, prediction_bar_html, top_words_html

    s, labels = report.summary, report.labels
    total_pred = max(sum(s.predicted_counts), 1)
    total_given = max(sum(s.given_counts or ()), 1)
    dist = [
        {
            "label": label,
            "pred": s.predicted_counts[i],
            "pred_pct": f"{100 * s.predicted_counts[i] / total_pred:.1f}",
            "given": s.given_counts[i] if s.given_counts else 0,
            "given_pct": f"{100 * s.given_counts[i] / total_given:.1f}" if s.given_counts else "0",
        }
        for i, label in enumerate(labels)
    ]
    confusion = []
    if s.confusion:
        peak = max(max(row) for row in s.confusion)
        confusion = [
            {
                "label": labels[g],
                "total": sum(row),
                "cells": [{"n": n, "bg": _heat(n, peak), "diag": g == p} for p, n in enumerate(row)],
            }
            for g, row in enumerate(s.confusion)
        ]
    star_to_label = {stars: i for i, stars in enumerate(label_stars(labels)) if stars is not None}
    entries = []
    for e in report.entries:
        probs = e.probabilities
        predicted = None if probs is None else int(np.argmax(probs))
        given = None if e.review.stars is None else star_to_label.get(e.review.stars)
        methods = [
            {
                "name": name,
                "tokens": Markup(explanation_html(x)),
                "top": Markup(top_words_html(x, k=8)),
                "diagnostics": sorted((str(k), _short(v)) for k, v in x.diagnostics.items()),
            }
            for name, x in e.explanations.items()
        ]
        t = e.trace
        entries.append(
            {
                "index": e.index,
                "text": e.review.text,
                "methods": methods,
                "predicted": None if predicted is None else labels[predicted],
                "given": None
                if e.review.stars is None
                else (labels[given] if given is not None else f"{e.review.stars} stars"),
                "wrong": given is not None and predicted is not None and given != predicted,
                "bar": Markup(prediction_bar_html(labels, probs)) if probs is not None else None,
                "trace": t,
                "token_ids": list(zip(t.tokens, t.input_ids))[:MAX_TRACE_TOKENS] if t else [],
                "more_tokens": max(0, len(t.tokens) - MAX_TRACE_TOKENS) if t else 0,
                "logits": list(zip(labels, t.logits)) if t else [],
                "probs": list(zip(labels, t.probabilities)) if t else [],
                "attention": Markup(e.attention_html) if e.attention_html else None,
                "attention_note": e.attention_note,
            }
        )
    return _ENV.from_string(_TEMPLATE).render(
        r=report,
        s=s,
        style=Markup(_STYLE),
        dist=dist,
        confusion=confusion,
        entries=entries,
        min_reviews=min(2, len(report.entries)),
    )


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= 200 else text[:197] + "..."


def render(report: Report, fmt: str) -> str:
    """The report in `fmt` (html, json or csv)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    return {"html": report_html, "json": report_json, "csv": report_csv}[fmt](report)


# ---------------------------------------------------------------------------- the command
def report_command(
    classifier: Classifier,
    reviews: Sequence[Review],
    methods: str,
    output: Path | None,
    fmt: str | None,
    cache: Path | None,
    no_cache: bool,
    params: Sequence[str] | None,
    attention_views: int,
    top_k: int,
    console,
) -> Path:
    """Everything `explain report` does after loading the model and reading the reviews."""
    from explain.methods import parse_params

    suffix = output.suffix.lstrip(".").lower() if output is not None else ""
    fmt = (fmt or (suffix if suffix in FORMATS else "html")).lower()
    if fmt not in FORMATS:
        raise UserError(f"unknown report format {fmt!r}; choose from {', '.join(FORMATS)}")
    output = output or Path(f"report.{fmt}")
    with ExplanationStore(":memory:" if no_cache else cache) as store:
        report = build_report(
            classifier,
            reviews,
            split_methods(methods),
            store,
            params=parse_params(params, split_methods(methods)),
            attention_views=attention_views if fmt == "html" else 0,
            top_k=top_k,
            progress=True,
        )
        text = render(report, fmt)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8", newline="")
    run = report.run
    console.print(
        f"{fmt.upper()} report on {len(reviews)} review(s) written to {output} "
        f"({run.computed} explanation(s) computed, {run.cached} cached"
        + (f", {len(run.failed)} failed" if run.failed else "")
        + ")"
    )
    return output
