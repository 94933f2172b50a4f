"""`explain evaluate`: explain a data set with several methods, score every explanation, rank the methods.

For each text, every method explains the predicted class; each explanation is scored for
faithfulness (`explain.metrics.faithfulness`, one batched model call per explanation) and, where
the data has human sentence ratings, plausibility. A `random` row gives the same metrics for
seeded random rankings of the words (chance level). Per method: the mean and a 95% percentile
bootstrap interval of each metric, seconds per explanation, mean deletion/insertion curves, and a
methods x methods agreement matrix.

By job: `run` (the texts, settings, the resumable results log, explaining and scoring), `summary`
(means, bootstrap intervals, agreement), `explain.render.leaderboard` and `explain.render.terminal`
(the page and the tables). `evaluate` does what the command does and returns data; it prints nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from explain.atomic import write_atomic
from explain.errors import UserError
from explain.evaluation.run import (
    ALL_METRICS,
    DEFAULT_HELDOUT,
    RANDOM,
    EvalItem,
    Progress,
    ResultLog,
    Settings,
    load_items,
    resolve_methods,
    run_evaluation,
    sidecar_path,
)
from explain.evaluation.summary import bootstrap_interval, summarize
from explain.inert import json_dumps
from explain.methods import check_plan, parse_params
from explain.render.leaderboard import leaderboard_html, leaderboard_lines, leaderboard_text

__all__ = [
    "ALL_METRICS",
    "DEFAULT_HELDOUT",
    "RANDOM",
    "EvalItem",
    "EvaluateOptions",
    "Evaluation",
    "ResultLog",
    "Settings",
    "bootstrap_interval",
    "evaluate",
    "leaderboard_html",
    "leaderboard_lines",
    "leaderboard_text",
    "load_items",
    "resolve_methods",
    "run_evaluation",
    "sidecar_path",
    "summarize",
]


@dataclass(frozen=True)
class EvaluateOptions:
    """What `explain evaluate` was asked for (the command's options, parsed only as far as the CLI can)."""

    data: str = DEFAULT_HELDOUT
    methods: str | None = None  # comma-separated; None: every registered method
    n: int | None = 200
    out: Path | None = Path("evaluation.json")
    html: Path | None = None
    text_col: str | None = None
    params: tuple[str, ...] = ()  # METHOD.NAME=VALUE
    mode: str = "delete"
    random_rankings: int = 3
    metrics: str | None = None  # comma-separated subset of ALL_METRICS
    target: str | None = None  # the question: None (the rating where the model has one), "rating", "predicted", a label


@dataclass(frozen=True)
class Evaluation:
    """What an evaluation produced: the summary, the files written, and notes worth telling the user."""

    summary: dict
    written: tuple[Path, ...]
    records_path: Path | None
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:  # short: the summary holds every curve and matrix
        methods = ", ".join(m for m in self.summary.get("methods", {}) if m != self.summary.get("baseline"))
        return f"Evaluation({self.summary.get('n_items', 0)} texts, methods {methods})"


def evaluate(classifier, options: EvaluateOptions, progress: Progress | None = None) -> Evaluation:
    """Everything `explain evaluate` does after loading the model; writes the files, returns the summary."""
    names = resolve_methods(options.methods)
    chosen = tuple(m.strip() for m in options.metrics.split(",")) if options.metrics else ALL_METRICS
    if not all(chosen):
        raise UserError("--metrics has an empty entry; name metrics separated by commas")
    settings = Settings(
        metrics=chosen,
        mode=options.mode,
        random_rankings=options.random_rankings,
        params=parse_params(list(options.params), [name for name in names if name != RANDOM]),
        target=options.target,
    )
    items = load_items(options.data, options.n, options.text_col)
    real = [name for name in names if name != RANDOM]  # parameters and budgets checked before any work
    check_plan(classifier, [item.text for item in items], real, settings.params, every_text=False)
    notes = []
    if options.n is not None and len(items) < options.n:
        notes.append(f"{options.data} has {len(items)} texts; evaluating all of them")
    out = options.out
    log = ResultLog(sidecar_path(out) if out is not None else None)
    resumed = len(log.records)  # finished by an earlier run of the same command
    started = time.perf_counter()
    records = run_evaluation(classifier, items, names, settings, log, progress=progress)
    summary = summarize(records, names, settings, model=classifier.name, data=options.data, n_items=len(items))
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)  # this run's; see records_resumed
    summary["records_resumed"] = resumed
    if out is not None:
        summary["records"] = str(sidecar_path(out))
        out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out, json_dumps(summary, indent=2))
    if options.html is not None:
        options.html.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(options.html, leaderboard_html(summary))
    written = tuple(p for p in (out, options.html) if p is not None)
    return Evaluation(summary, written, sidecar_path(out) if out is not None else None, tuple(notes))
