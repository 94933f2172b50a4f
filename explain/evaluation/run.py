"""`explain evaluate`, the run: the texts, the settings, the resumable results log, explaining and scoring.

Finished (method, text) results are appended to a JSONL sidecar next to the `--out` JSON as they
are computed (flushed and fsynced), so a killed run loses at most the item in progress and a
re-run skips everything already there.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from explain.classifier import quiet_truncation
from explain.errors import DataError, UserError
from explain.explanation import Explanation
from explain.methods import get_method, method_names
from explain.metrics import BINS, FAITHFULNESS_METRICS, MetricInfo
from explain.metrics.agreement import TOP_K
from explain.metrics.faithfulness import faithfulness, leave_one_out
from explain.metrics.perturbation import CURVE_GRID, CURVE_STEPS
from explain.metrics.plausibility import plausibility
from explain.progress import Progress
from explain.store import text_hash
from explain.target import Target
from explain.words import REMOVAL_MODES

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
RECORD_VERSION = 4  # 2: every method parameter; 3: the question (rating by default); 4: store.text_hash
logger = logging.getLogger(__name__)


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
        if self.mode not in REMOVAL_MODES:
            raise UserError(f"removal mode {self.mode!r} is not one of {', '.join(REMOVAL_MODES)}")
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

    def run_one(self, item: EvalItem, method: str) -> dict | None:
        """Explain and score one (method, text) and log the record; None (and an error noted) if it fails."""
        try:
            with quiet_truncation():  # truncation is counted in the summary instead
                record = self.score(item, self.explain(item, method), method)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - one failing text must not end a long run
            self.errors.append(f"{method} on {item.id}: {type(exc).__name__}: {exc}")
            return None
        self.log.add(record)
        return record

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
    progress: Progress | None = None,
) -> list[dict]:
    """Explain and score every (method, item) not already in `log`; returns all records, in order.

    Occlusion runs first on each text so its scores double as the leave-one-out drops tau-LOO needs.
    A method that fails on one text is reported and skipped (and retried on the next run);
    a `UserError` (e.g. an unknown parameter) stops the run. `progress(done, total, what)` is called
    after each (method, text); failures are logged (`logging`) and counted in the summary's records.
    """
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
    total, done = len(items) * len(names), 0
    for item in items:
        for method in names:
            record = log.get(runner.key(method, item))
            if record is None:
                record = runner.run_one(item, method)
            if record is not None:
                records.append(record)
            done += 1
            if progress:
                progress(done, total, f"{method} · {item.id}")
    if runner.errors:
        logger.warning(
            "%d explanation(s) failed and were skipped (re-run to retry): %s",
            len(runner.errors),
            "; ".join(runner.errors[:5]),
        )
    return records


def resolve_methods(spec: str | None) -> list[str]:
    """Canonical names of a comma-separated method list; None or 'all' means every registered method."""
    return method_names(spec, extra=(RANDOM,))
