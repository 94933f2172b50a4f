"""`explain evaluate`: explain a data set with several methods, score every explanation, rank the methods.

For each text, every method explains the predicted class; each explanation is scored for
faithfulness (`explain.metrics.faithfulness`, one batched model call per explanation) and, where
the data has human sentence ratings, plausibility. A `random` row gives the same metrics for
seeded random rankings of the words (chance level). Per method: the mean and a 95% percentile
bootstrap interval of each metric, seconds per explanation, mean deletion/insertion curves, and a
methods x methods agreement matrix.

Finished (method, text) results are appended to a JSONL sidecar next to the `--out` JSON as they
are computed (flushed and fsynced), so a killed run loses at most the item in progress and a
re-run skips everything already there.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from explain.classifier import TruncationWarning
from explain.errors import DataError, UserError
from explain.explanation import Explanation
from explain.methods import get_method, parse_params
from explain.metrics import BINS, FAITHFULNESS_METRICS, METRICS, MetricInfo
from explain.metrics.agreement import MEASURES, TOP_K, AgreementMatrix, agreement_matrix, mean_agreement
from explain.metrics.faithfulness import CURVE_GRID, CURVE_STEPS, MODES, faithfulness, leave_one_out
from explain.metrics.plausibility import plausibility
from explain.target import Target

RANDOM = "random"  # the pseudo-method holding the random-ranking baseline
DEFAULT_HELDOUT = "default-heldout"
ALL_METRICS = FAITHFULNESS_METRICS + ("plausibility",)
SECONDS = MetricInfo(
    "seconds",
    "cost",
    higher_is_better=False,
    min_value=0.0,
    max_value=math.inf,
    summary="wall-clock seconds per explanation (explain() only, metrics excluded)",
)
RECORD_VERSION = 3  # 2: keys hold every method parameter, defaults included; 3: the question (rating by default)


# ---------------------------------------------------------------- data
@dataclass(frozen=True)
class EvalItem:
    """One text to explain, with per-sentence human ratings when the data set has them."""

    id: str
    text: str
    sentences: tuple[str, ...] | None = None
    ratings: tuple[float, ...] | None = None


def load_items(data: str, n: int | None = None, text_col: str | None = None) -> list[EvalItem]:
    """The first `n` texts of a CSV file (column `text_col`) or of the default model's held-out reviews."""
    if data == DEFAULT_HELDOUT:
        from explain.default_model import heldout_reviews

        items = [EvalItem(f"review-{r.review_id}", r.text, r.sentences, r.ratings) for r in heldout_reviews()]
    else:
        from explain.data import read_reviews_csv

        if not text_col:
            raise DataError(f"name the text column of {data} with --text-col (or use --data {DEFAULT_HELDOUT})")
        items = [EvalItem(f"row-{i + 1}", r.text) for i, r in enumerate(read_reviews_csv(data, text_col))]
    return items[:n] if n is not None else items


# ---------------------------------------------------------------- settings and the results log
@dataclass(frozen=True)
class Settings:
    """How explanations are scored; part of every record's key, so changed settings are recomputed."""

    metrics: tuple[str, ...] = ALL_METRICS
    mode: str = "delete"
    bins: tuple[float, ...] = BINS
    steps: int = CURVE_STEPS
    random_rankings: int = 3
    seed: int = 0
    top_k: int = TOP_K
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # method -> its parameters
    target: str | None = None  # the question: None (the rating where the model has one), "rating", "predicted", a label

    def __post_init__(self) -> None:
        unknown = [m for m in self.metrics if m not in ALL_METRICS]
        if unknown:
            raise UserError(f"unknown metric {', '.join(unknown)}; choose from {', '.join(ALL_METRICS)}")
        if self.mode not in MODES:
            raise UserError(f"removal mode {self.mode!r} is not one of {', '.join(MODES)}")
        if self.random_rankings < 1:
            raise UserError("use at least one random ranking for the baseline")

    def fingerprint(self, model: str, method: str) -> str:
        """A short hash of everything that changes `method`'s record for a text."""
        params = dict(self.params.get(method, {}))
        if method != RANDOM:  # every parameter the method runs with, so a changed default is recomputed too
            params = get_method(method).resolve(params)
        parts = {
            "v": RECORD_VERSION,
            "model": model,
            "method": method,
            "metrics": self.metrics,
            "mode": self.mode,
            "bins": self.bins,
            "steps": self.steps,
            "params": params,
            "target": self.target,
        }
        if method == RANDOM:
            parts |= {"random_rankings": self.random_rankings, "seed": self.seed}
        blob = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def sidecar_path(out: Path) -> Path:
    """Where finished results are logged as they are computed: results.json -> results.items.jsonl."""
    return out.with_name(out.stem + ".items.jsonl")


class ResultLog:
    """Append-only JSONL of finished results, keyed; every line is flushed and fsynced when written."""

    def __init__(self, path: Path | None):
        self.path = path
        self.records: dict[str, dict] = {}
        if path is not None and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:  # a line cut short when a run was killed
                    continue
                if isinstance(record, dict) and "key" in record:
                    self.records[record["key"]] = record

    def get(self, key: str) -> dict | None:
        return self.records.get(key)

    def add(self, record: dict) -> None:
        self.records[record["key"]] = record
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+", encoding="utf-8") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() > 0:  # start on a fresh line even if the last write was cut short
                fh.seek(fh.tell() - 1)
                if fh.read(1) != "\n":
                    fh.write("\n")
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


# ---------------------------------------------------------------- running
def _visible_to_end(exp: Explanation) -> bool:
    """Does the model see the whole text (nothing but whitespace after the last word it saw)?"""
    offsets = exp.alignment.word_offsets
    return bool(offsets) and not exp.text[offsets[-1][1] :].strip()


class _Runner:
    """Explains and scores items one (method, text) at a time, logging each result."""

    def __init__(self, classifier, settings: Settings, log: ResultLog):
        self.classifier = classifier
        self.settings = settings
        self.log = log
        self.faith_metrics = tuple(m for m in settings.metrics if m in FAITHFULNESS_METRICS)
        self.errors: list[str] = []

    def key(self, method: str, item: EvalItem) -> str:
        return f"{method}|{text_hash(item.text)}|{self.settings.fingerprint(self.classifier.name, method)}"

    def question(self, item: EvalItem) -> Target:
        """What every method is asked about this text (the settings' target; the rating by default)."""
        return self.classifier.target(self.settings.target, None, item.text)

    def loo_key(self, item: EvalItem, target: Target) -> str:
        blob = json.dumps({"v": RECORD_VERSION, "model": self.classifier.name, "mode": self.settings.mode})
        asked = "rating" if target.is_rating else f"{target.label}-{target.contrast}"
        return f"loo|{text_hash(item.text)}|{hashlib.sha1(blob.encode()).hexdigest()[:12]}|{asked}"

    def loo_drops(self, item: EvalItem, exp: Explanation) -> np.ndarray | None:
        """Leave-one-out drops of the target output (computed once per text, shared by all methods)."""
        if "tau_loo" not in self.faith_metrics:
            return None
        question = self.question(item)
        key = self.loo_key(item, question)
        found = self.log.get(key)
        if found is not None:
            return np.asarray(found["drops"], dtype=np.float64)
        if (
            exp.method == "occlusion"
            and exp.params.get("mode", "delete") == self.settings.mode
            and exp.target_spec == question
            and question.contrast is None
            and _visible_to_end(exp)
        ):
            drops = np.asarray(exp.word_scores)  # occlusion's word scores ARE these drops: no extra evaluations
        else:
            drops = leave_one_out(self.classifier, exp, mode=self.settings.mode, target=question)
        self.log.add({"key": key, "kind": "loo", "item": item.id, "drops": drops.tolist()})
        return drops

    def score(self, item: EvalItem, exp: Explanation, method: str) -> dict:
        """One record: the metrics of `exp` (or of random rankings of its words, for `random`)."""
        s = self.settings
        is_random = method == RANDOM
        result = faithfulness(
            self.classifier,
            exp,
            metrics=self.faith_metrics,
            bins=s.bins,
            steps=s.steps,
            mode=s.mode,
            loo_drops=self.loo_drops(item, exp),
            random_rankings=s.random_rankings if is_random else 0,
            seed=s.seed,
            include_explanation=not is_random,
            target=self.question(item),
        )
        values = dict(result.random if is_random else result.values)
        curves = result.random_curves if is_random else result.curves
        if "plausibility" in s.metrics and item.sentences is not None and item.ratings is not None:
            if is_random:
                rng = np.random.default_rng(s.seed)
                runs = [
                    plausibility(
                        self.classifier,
                        replace(exp, word_scores=rng.standard_normal(len(exp.words))),
                        item.sentences,
                        item.ratings,
                    )
                    for _ in range(s.random_rankings)
                ]
                finite = [v for v in runs if v == v]
                values["plausibility"] = float(np.mean(finite)) if finite else float("nan")
            else:
                values["plausibility"] = plausibility(self.classifier, exp, item.sentences, item.ratings)
        return {
            "key": self.key(method, item),
            "kind": "explanation",
            "method": method,
            "item": item.id,
            "target": exp.target,
            "question": self.question(item).describe(self.classifier.labels),
            "n_words": len(exp.words),
            "truncated": not _visible_to_end(exp),
            "metrics": {k: (None if v != v else v) for k, v in values.items()},
            "seconds": 0.0 if is_random else float(exp.diagnostics.get("seconds", float("nan"))),
            "model_evaluations": 0 if is_random else int(exp.diagnostics.get("model_evaluations", 0)),
            "curves": {kind: c.on_grid(CURVE_GRID).tolist() for kind, c in curves.items()},
            "word_scores": None if is_random else exp.word_scores.tolist(),
        }

    def explain(self, item: EvalItem, method: str) -> Explanation:
        from explain.methods import explain, new_explanation

        question = self.question(item)
        if method != RANDOM:
            params = self.settings.params.get(method, {})
            return explain(self.classifier, item.text, method=method, target=question, **params)
        n_words = len(self.classifier.align(item.text).words)
        return new_explanation(self.classifier, item.text, RANDOM, question, word_scores=np.zeros(n_words))


def run_evaluation(
    classifier,
    items: Sequence[EvalItem],
    methods: Sequence[str],
    settings: Settings | None = None,
    log: ResultLog | None = None,
    progress: bool = True,
) -> list[dict]:
    """Explain and score every (method, item) not already in `log`; returns all records, in order.

    Occlusion runs first on each text so its scores double as the leave-one-out drops tau-LOO needs.
    A method that fails on one text is reported and skipped (and retried on the next run);
    a `UserError` (e.g. an unknown parameter) stops the run.
    """
    from tqdm.auto import tqdm

    settings = settings or Settings()
    log = log or ResultLog(None)
    names = sorted(dict.fromkeys(m for m in methods if m != RANDOM), key=lambda m: m != "occlusion") + [RANDOM]
    runner = _Runner(classifier, settings, log)
    pending = {m for m in names for item in items if log.get(runner.key(m, item)) is None}
    for method in [m for m in names if m in pending and m != RANDOM]:
        try:  # first calls pay for imports and lazy set-up: keep that out of the timings
            runner.explain(EvalItem("warm-up", "A good start."), method)
        except UserError:
            raise
        except Exception:  # noqa: BLE001 - reported per text below
            pass
    records: list[dict] = []
    bar = tqdm(total=len(items) * len(names), disable=not progress, unit="expl", desc="evaluate", dynamic_ncols=True)
    try:
        for item in items:
            for method in names:
                bar.set_postfix_str(f"{method} · {item.id}", refresh=False)
                key = runner.key(method, item)
                record = log.get(key)
                if record is None:
                    try:
                        with warnings.catch_warnings():  # truncation is counted in the summary instead
                            warnings.simplefilter("ignore", TruncationWarning)
                            record = runner.score(item, runner.explain(item, method), method)
                    except UserError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - one failing text must not end a long run
                        runner.errors.append(f"{method} on {item.id}: {type(exc).__name__}: {exc}")
                        bar.update()
                        continue
                    log.add(record)
                records.append(record)
                bar.update()
    finally:
        bar.close()
    if runner.errors:
        warnings.warn(
            f"{len(runner.errors)} explanation(s) failed and were skipped (re-run to retry): "
            + "; ".join(runner.errors[:5]),
            RuntimeWarning,
            stacklevel=2,
        )
    return records


# ---------------------------------------------------------------- summarising
def bootstrap_interval(
    values: Sequence[float], *, level: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (Efron & Tibshirani 1993); NaNs are dropped first."""
    x = np.asarray([v for v in values if v is not None and v == v], dtype=np.float64)
    if len(x) == 0:
        return float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float(x[0])
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_resamples, len(x)))].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1.0 - alpha))


def _stat(values: Sequence[float | None], seed: int) -> dict[str, float | int | None]:
    finite = [float(v) for v in values if v is not None and v == v]
    low, high = bootstrap_interval(finite, seed=seed)
    mean = float(np.mean(finite)) if finite else None
    return {"mean": mean, "low": None if low != low else low, "high": None if high != high else high, "n": len(finite)}


def summarize(
    records: Sequence[dict],
    methods: Sequence[str],
    settings: Settings,
    *,
    model: str = "",
    data: str = "",
    n_items: int = 0,
) -> dict:
    """Per-method means and bootstrap intervals, mean curves, agreement matrices and the leaderboard."""
    names = [m for m in dict.fromkeys(methods) if m != RANDOM] + [RANDOM]
    by_method: dict[str, list[dict]] = {m: [] for m in names}
    for r in records:
        if r.get("kind") == "explanation" and r["method"] in by_method:
            by_method[r["method"]].append(r)
    shown_metrics = [m for m in settings.metrics]
    table: dict[str, dict] = {}
    curves: dict[str, dict[str, list[float]]] = {}
    for method, recs in by_method.items():
        row = {name: _stat([r["metrics"].get(name) for r in recs], settings.seed) for name in shown_metrics}
        if method != RANDOM:
            row["seconds"] = _stat([r["seconds"] for r in recs], settings.seed)
            row["model_evaluations"] = _stat([r["model_evaluations"] for r in recs], settings.seed)
        row["n_texts"] = len(recs)
        table[method] = row
        curves[method] = {
            kind: np.mean([r["curves"][kind] for r in recs if kind in r["curves"]], axis=0).tolist()
            for kind in ("deletion", "insertion")
            if any(kind in r["curves"] for r in recs)
        }
    real = [m for m in names if m != RANDOM]
    per_text: dict[str, dict[str, np.ndarray]] = {}
    for r in records:
        if r.get("kind") == "explanation" and r["method"] in real and r.get("word_scores") is not None:
            per_text.setdefault(r["key"].split("|")[1], {})[r["method"]] = np.asarray(r["word_scores"])
    agreement: dict[str, dict] = {}
    if len(real) > 1:
        for measure in MEASURES:
            mats = [
                agreement_matrix(scores, measure, k=settings.top_k) for scores in per_text.values() if len(scores) > 1
            ]
            matrix = mean_agreement(mats, real) if mats else AgreementMatrix(measure, tuple(real), np.eye(len(real)))
            agreement[measure] = matrix.to_dict()
    infos = {name: METRICS[name] for name in shown_metrics} | {"seconds": SECONDS}
    leaderboard = {}
    for name, info in infos.items():
        means = {m: table[m][name]["mean"] for m in real if table[m].get(name, {}).get("mean") is not None}
        best = info.best(means)
        if best is not None:
            leaderboard[name] = {"method": best, "mean": means[best]}
    return {
        "model": model,
        "data": data,
        "n_items": n_items,
        "truncated_texts": len({r["key"].split("|")[1] for r in records if r.get("truncated")}),
        "settings": {
            "metrics": list(settings.metrics),
            "mode": settings.mode,
            "bins": list(settings.bins),
            "steps": settings.steps,
            "random_rankings": settings.random_rankings,
            "seed": settings.seed,
            "top_k": settings.top_k,
            "params": {k: dict(v) for k, v in settings.params.items()},
            "bootstrap": {"level": 0.95, "resamples": 2000},
        },
        "metric_info": {
            name: asdict(info) | {"max_value": None if math.isinf(info.max_value) else info.max_value}
            for name, info in infos.items()
        },
        "methods": table,
        "curves": {"grid": np.linspace(0.0, 1.0, CURVE_GRID).tolist(), "by_method": curves},
        "agreement": agreement,
        "leaderboard": leaderboard,
    }


# ---------------------------------------------------------------- terminal output
_SHORT = {
    "comprehensiveness": "compr",
    "sufficiency": "suff",
    "deletion_auc": "del",
    "insertion_auc": "ins",
    "tau_loo": "tau",
    "plausibility": "plaus",
    "seconds": "s/expl",
}


def _cell(stat: Mapping | None, digits: int = 3, interval: bool = True) -> str:
    """The mean, and under it the bootstrap interval when asked (and there is one)."""
    if not stat or stat.get("mean") is None:
        return "—"
    if not interval or stat.get("low") is None or stat["n"] < 2:
        return f"{stat['mean']:.{digits}f}"
    return f"{stat['mean']:.{digits}f}\n[{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]"


def terminal_tables(summary: Mapping, width: int = 80) -> list:
    """Rich renderables: the metrics table (best per column in bold), the Spearman agreement matrix, the
    leaderboard. Bootstrap intervals are shown when the terminal is at least 150 columns wide."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    interval = width >= 150

    infos = summary["metric_info"]
    columns = list(summary["settings"]["metrics"]) + ["seconds"]
    best = {name: entry["method"] for name, entry in summary["leaderboard"].items()}
    caption = "" if interval else "means; 95% bootstrap intervals in the JSON and HTML (or a wider terminal)"
    table = Table(
        title=f"Explanation quality on {summary['data']} ({summary['n_items']} texts)",
        caption=caption,
        box=box.SIMPLE_HEAD,
        show_lines=interval,
        padding=(0, 1),
    )
    counts = {row["n_texts"] for row in summary["methods"].values()}
    table.add_column("method" if len(counts) == 1 else "method (texts)", no_wrap=True)
    for name in columns:
        arrow = "↑" if infos[name]["higher_is_better"] else "↓"
        table.add_column(f"{_SHORT.get(name, name)}{arrow}", justify="right", no_wrap=True)
    for method, row in summary["methods"].items():
        label = method if len(counts) == 1 else f"{method} ({row['n_texts']})"
        cells = [Text(label, style="dim italic" if method == RANDOM else "bold")]
        for name in columns:
            digits = 2 if name == "seconds" else 3
            style = "bold green" if best.get(name) == method else ""
            cells.append(Text(_cell(row.get(name), digits, interval), style=style))
        table.add_row(*cells)
    out: list = [table]
    if summary.get("truncated_texts"):
        out.append(
            Text(
                f"{summary['truncated_texts']} text(s) were longer than the model's maximum length; "
                "methods and metrics used the part the model sees.",
                style="yellow",
            )
        )
    if "spearman" in summary["agreement"]:
        agree = summary["agreement"]["spearman"]
        mat = Table(
            title="Agreement between methods (mean Spearman of word scores)", box=box.SIMPLE_HEAD, padding=(0, 1)
        )
        mat.add_column("", no_wrap=True)
        for i, _ in enumerate(agree["methods"], start=1):
            mat.add_column(str(i), justify="right", no_wrap=True, min_width=5)
        for i, (m, row) in enumerate(zip(agree["methods"], agree["values"]), start=1):
            mat.add_row(f"{i} {m[:10]}", *["—" if v is None else f"{v:.2f}" for v in row])
        out.append(mat)
    out.append(leaderboard_text(summary))
    return out


_HEADLINES = (
    ("comprehensiveness", "most comprehensive"),
    ("sufficiency", "most sufficient"),
    ("deletion_auc", "lowest deletion AUC"),
    ("insertion_auc", "highest insertion AUC"),
    ("tau_loo", "best tau-LOO"),
    ("plausibility", "most plausible"),
    ("seconds", "fastest"),
)


def leaderboard_lines(summary: Mapping) -> list[str]:
    """One line per headline metric: which method wins, its value, and the random baseline."""
    lines = []
    random_row = summary["methods"].get(RANDOM, {})
    for name, phrase in _HEADLINES:
        entry = summary["leaderboard"].get(name)
        if entry is None:
            continue
        chance = (random_row.get(name) or {}).get("mean")
        tail = f"; random ranking {chance:.3f}" if chance is not None else ""
        value = f"{entry['mean']:.2f} s per explanation" if name == "seconds" else f"{name} {entry['mean']:.3f}"
        lines.append(f"{phrase}: {entry['method']} ({value}{tail})")
    return lines


def leaderboard_text(summary: Mapping) -> str:
    return "Leaderboard\n" + "\n".join(f"  {line}" for line in leaderboard_lines(summary))


# ---------------------------------------------------------------- HTML page
_PLOT_W, _PLOT_H, _PAD = 260, 170, 28
_LONG = {
    "deletion_auc": "deletion AUC",
    "insertion_auc": "insertion AUC",
    "tau_loo": "tau-LOO",
    "seconds": "s / explanation",
}

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Explanation leaderboard: {{ s.data }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:1em 0}th,td{padding:4px 9px;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}td.best{font-weight:bold;color:#116611}tr.random td{color:#777;font-style:italic}
.ci{color:#888;font-size:.85em;display:block;white-space:nowrap}.plots{display:flex;flex-wrap:wrap;gap:14px}.plot{border:1px solid #eee;padding:6px}
.plot h4{margin:2px 0 4px 0;font-size:.95em}.note{color:#555;font-size:.9em}
</style></head><body>
<h1>Which explanation can an analyst trust?</h1>
<p class="note">Model <b>{{ s.model }}</b> on <b>{{ s.data }}</b> ({{ s.n_items }} texts). Every method explains the
predicted class. Removal mode: {{ s.settings.mode }}; AOPC bins {{ bins }}; curves in at most {{ s.settings.steps }} steps;
random baseline averaged over {{ s.settings.random_rankings }} seeded rankings (seed {{ s.settings.seed }}).
Cells: mean and 95% bootstrap interval over texts.{% if s.truncated_texts %} {{ s.truncated_texts }} text(s)
were longer than the model's maximum length; methods and metrics used the part the model sees.{% endif %}{% if params %} Method parameters: {{ params }}.{% endif %}</p>
<h2>Leaderboard</h2><ul>{% for line in lines %}<li>{{ line }}</li>{% endfor %}</ul>
<table><thead><tr><th>method</th><th>n</th>{% for c in columns %}<th title="{{ c.summary }}">{{ c.label }} {{ c.arrow }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in rows %}<tr class="{{ 'random' if row.random else '' }}"><td>{{ row.method }}</td><td>{{ row.n }}</td>
{% for cell in row.cells %}<td class="{{ 'best' if cell.best else '' }}">{{ cell.mean }}{% if cell.ci %} <span class="ci">{{ cell.ci }}</span>{% endif %}</td>{% endfor %}</tr>
{% endfor %}</tbody></table>
<h2>Deletion and insertion curves</h2>
<p class="note">Probability of the predicted class as the method's top words are deleted (red; lower area is better) or
inserted into an empty text (blue; higher area is better); dashed: the random ranking.</p>
<div class="plots">{% for p in plots %}<div class="plot"><h4>{{ p.method }}</h4>
<svg xmlns="http://www.w3.org/2000/svg" width="{{ W }}" height="{{ H }}" viewBox="0 0 {{ W }} {{ H }}" role="img" aria-label="curves for {{ p.method }}">
<rect x="{{ pad }}" y="6" width="{{ W - pad - 6 }}" height="{{ H - pad - 6 }}" fill="none" stroke="#ccc"/>
<text x="{{ pad - 4 }}" y="12" font-size="9" text-anchor="end">1</text><text x="{{ pad - 4 }}" y="{{ H - pad }}" font-size="9" text-anchor="end">0</text>
<text x="{{ pad }}" y="{{ H - pad + 12 }}" font-size="9">0%</text><text x="{{ W - 6 }}" y="{{ H - pad + 12 }}" font-size="9" text-anchor="end">100% of words</text>
{% for c in p.curves %}<polyline fill="none" stroke="{{ c.colour }}" stroke-width="{{ 1.2 if c.dashed else 2 }}"{% if c.dashed %} stroke-dasharray="4 3"{% endif %} points="{{ c.points }}"/>{% endfor %}
</svg></div>{% endfor %}</div>
{% for m in agreement %}<h2>Agreement: {{ m.title }}</h2>
<table><thead><tr><th></th>{% for name in m.methods %}<th>{{ name }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in m.rows %}<tr><td>{{ row.method }}</td>{% for v in row.cells %}<td style="background:{{ v.colour }}">{{ v.text }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>
{% endfor %}
<h2>Metrics</h2><ul class="note">{% for c in columns %}<li><b>{{ c.name }}</b> ({{ 'higher' if c.arrow == '↑' else 'lower' }} is better): {{ c.summary }}{% if c.reference %}. {{ c.reference }}{% endif %}</li>{% endfor %}</ul>
</body></html>
"""


def _points(ys: Sequence[float]) -> str:
    xs = np.linspace(0.0, 1.0, len(ys))
    w, h = _PLOT_W - _PAD - 6, _PLOT_H - _PAD - 6
    return " ".join(f"{_PAD + x * w:.1f},{6 + (1.0 - min(max(y, 0.0), 1.0)) * h:.1f}" for x, y in zip(xs, ys))


def _shade(v: float | None) -> str:
    if v is None:
        return "#fff"
    v = max(-1.0, min(1.0, v))
    return f"rgba(30,120,30,{0.45 * v:.2f})" if v >= 0 else f"rgba(190,40,40,{-0.45 * v:.2f})"


def leaderboard_html(summary: Mapping) -> str:
    """A self-contained HTML page (jinja2, autoescaped): the table, curves per method (inline SVG), agreement."""
    from jinja2 import Environment

    infos = summary["metric_info"]
    names = list(summary["settings"]["metrics"]) + ["seconds"]
    best = {name: entry["method"] for name, entry in summary["leaderboard"].items()}
    columns = [
        {
            "name": n,
            "label": _LONG.get(n, n),
            "arrow": "↑" if infos[n]["higher_is_better"] else "↓",
            "summary": infos[n]["summary"],
            "reference": infos[n].get("reference", ""),
        }
        for n in names
    ]
    rows = []
    for method, row in summary["methods"].items():
        cells = []
        for n in names:
            stat = row.get(n)
            digits = 2 if n == "seconds" else 3
            if not stat or stat.get("mean") is None:
                cells.append({"mean": "—", "ci": "", "best": False})
                continue
            has_ci = stat.get("low") is not None and stat["n"] > 1
            ci = f"[{stat['low']:.{digits}f}, {stat['high']:.{digits}f}]" if has_ci else ""
            cells.append({"mean": f"{stat['mean']:.{digits}f}", "ci": ci, "best": best.get(n) == method})
        rows.append({"method": method, "n": row["n_texts"], "cells": cells, "random": method == RANDOM})
    by_method = summary["curves"]["by_method"]
    chance = by_method.get(RANDOM, {})
    plots = []
    for method, curves in by_method.items():
        if method == RANDOM:
            continue
        drawn = []
        for kind, colour in (("deletion", "#c0392b"), ("insertion", "#2c6fbb")):
            if kind in chance:
                drawn.append({"colour": colour, "dashed": True, "points": _points(chance[kind])})
            if kind in curves:
                drawn.append({"colour": colour, "dashed": False, "points": _points(curves[kind])})
        plots.append({"method": method, "curves": drawn})
    titles = {
        "spearman": "Spearman rank correlation",
        "kendall": "Kendall tau-b",
        "top_k_overlap": f"top-{summary['settings']['top_k']} overlap",
    }
    agreement = []
    for measure, mat in summary["agreement"].items():
        agreement.append(
            {
                "title": titles.get(measure, measure),
                "methods": mat["methods"],
                "rows": [
                    {
                        "method": m,
                        "cells": [{"text": "—" if v is None else f"{v:+.2f}", "colour": _shade(v)} for v in vals],
                    }
                    for m, vals in zip(mat["methods"], mat["values"])
                ],
            }
        )
    params = "; ".join(
        f"{m}: " + ", ".join(f"{k}={v}" for k, v in p.items()) for m, p in summary["settings"]["params"].items() if p
    )
    env = Environment(autoescape=True)
    return env.from_string(_TEMPLATE).render(
        s=summary,
        bins=", ".join(f"{b:.0%}" for b in summary["settings"]["bins"]),
        params=params,
        lines=leaderboard_lines(summary),
        columns=columns,
        rows=rows,
        plots=plots,
        agreement=agreement,
        W=_PLOT_W,
        H=_PLOT_H,
        pad=_PAD,
    )


# ---------------------------------------------------------------- the command
def resolve_methods(spec: str | None) -> list[str]:
    """Canonical names of a comma-separated method list; None or 'all' means every registered method."""
    from explain.methods import get_method, methods

    if spec is None or spec.strip().lower() == "all":
        return [m.name for m in methods()]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise UserError("--methods is empty; name at least one method, e.g. --methods occlusion,shap")
    return list(dict.fromkeys(RANDOM if n == RANDOM else get_method(n).name for n in names))


def evaluate_command(
    classifier,
    data: str,
    methods: str | None,
    n: int | None,
    out: Path | None,
    html: Path | None,
    text_col: str | None,
    params: Sequence[str] | None,
    mode: str,
    random_rankings: int,
    metrics: str | None,
    console,
    progress: bool = True,
    target: str | None = None,
) -> dict:
    """Everything `explain evaluate` does after loading the model; returns the summary."""
    names = resolve_methods(methods)
    chosen = tuple(m.strip() for m in metrics.split(",")) if metrics else ALL_METRICS
    settings = Settings(
        metrics=chosen,
        mode=mode,
        random_rankings=random_rankings,
        params=parse_params(params, [name for name in names if name != RANDOM]),
        target=target,
    )
    items = load_items(data, n, text_col)
    if n is not None and len(items) < n:
        console.print(f"note: {data} has {len(items)} texts; evaluating all of them")
    log = ResultLog(sidecar_path(out) if out is not None else None)
    started = time.perf_counter()
    records = run_evaluation(classifier, items, names, settings, log, progress=progress)
    summary = summarize(records, names, settings, model=classifier.name, data=data, n_items=len(items))
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    if out is not None:
        summary["records"] = str(sidecar_path(out))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(leaderboard_html(summary), encoding="utf-8")
    for renderable in terminal_tables(summary, width=console.width):
        console.print(renderable)
    written = [str(p) for p in (out, html) if p is not None]
    if written:
        console.print(f"written: {', '.join(written)}" + (f" (per-text results: {sidecar_path(out)})" if out else ""))
    return summary
