"""Corpus runs: explain many reviews with several methods into the store (locally; Ray in `ray_engine`).

`run_corpus` skips what the store already holds and commits every explanation as soon as it is
computed, so a killed run (even SIGKILL) resumes where it stopped with nothing lost or duplicated.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from explain.classifier import Classifier
from explain.corpus.spec import MethodSpec, RunStats, method_specs, split_methods, store_key
from explain.errors import UserError
from explain.explanation import Explanation
from explain.methods import check_plan
from explain.progress import Progress, Ticker
from explain.store import (
    ExplanationStore,
    StoreKey,
    fingerprint,
    question_code,
    text_hash,
)

ENGINES = ("local", "ray")


def pending(
    store: ExplanationStore, fp: str, specs: Sequence[MethodSpec], texts: Sequence[str], classifier: Classifier
) -> list[tuple[str, MethodSpec]]:
    """The (text, method) pairs not yet in the store (under their default question), each once, in corpus order."""
    todo, seen = [], set()
    done = {
        spec.name: store.text_hashes(fp, spec.name, spec.params_json, question_code(classifier, spec.name))
        for spec in specs
    }
    for text in texts:
        h = text_hash(text)
        for spec in specs:
            if h not in done[spec.name] and (h, spec.name) not in seen:
                seen.add((h, spec.name))
                todo.append((text, spec))
    return todo


def run_corpus(
    classifier: Classifier,
    texts: Sequence[str],
    methods: Sequence[str],
    store: ExplanationStore,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    engine: str = "local",
    address: str | None = None,
    actors: int | None = None,
    batch_size: int = 4,
    progress: Progress | None = None,
) -> RunStats:
    """Explain every text with every method (the default question: the rating for rated models, else the
    predicted label), storing each result as it is made.

    What the store already holds is skipped; `progress(done, total, what)` is called per explanation.
    `engine="ray"` runs on a Ray cluster (`address`, or a
    local instance when None and no `RAY_ADDRESS` is set) with `actors` model replicas.
    """
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise UserError(f"review {i + 1} is empty; every review needs at least one word")
    specs = method_specs(methods, params)
    # parameters checked, and a budget no review can meet refused, before any work (a long review over the
    # budget fails alone, as a failed row)
    check_plan(classifier, texts, [s.name for s in specs], {s.name: dict(s.params) for s in specs}, every_text=False)
    fp = fingerprint(classifier)
    unique = len({text_hash(t) for t in texts}) * len(specs)
    todo = pending(store, fp, specs, texts, classifier)
    stats = RunStats(engine=engine, items=unique, cached=unique - len(todo))
    started = time.perf_counter()
    bar = _progress(len(todo), stats.cached, progress)
    try:
        if engine == "local":
            _run_local(classifier, todo, store, fp, stats, bar)
        elif todo:
            from explain.corpus.ray_engine import run_ray

            run_ray(classifier, todo, store, fp, stats, bar, address=address, actors=actors, batch_size=batch_size)
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - started
    return stats


def _progress(total: int, cached: int, progress: Progress | None) -> Ticker:
    bar = Ticker(total, progress)
    bar.set_postfix(cached=cached, failed=0)
    return bar


def _run_local(
    classifier: Classifier,
    todo: Sequence[tuple[str, MethodSpec]],
    store: ExplanationStore,
    fp: str,
    stats: RunStats,
    bar,
) -> None:
    from explain.methods import explain

    for text, spec in todo:
        try:
            result = explain(classifier, text, method=spec.name, **spec.params)
        except Exception as exc:  # one bad review must not stop a corpus run; reported in stats
            stats.failed.append((spec.name, text, f"{type(exc).__name__}: {exc}"))
            bar.set_postfix(cached=stats.cached, failed=len(stats.failed))
        else:
            stats.stored(store.put(store_key(fp, spec, text, classifier), result))
        bar.update(1)


# ---------------------------------------------------------------------------- reading results back
def load_results(
    store: ExplanationStore,
    classifier: Classifier,
    texts: Sequence[str],
    methods: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Explanation]]:
    """For each text, {method: stored explanation of the default question} (methods missing if they failed)."""
    specs = method_specs(methods, params)
    fp = fingerprint(classifier)
    parsed: dict[StoreKey, Explanation | None] = {}
    out = []
    for text in texts:
        row = {}
        for spec in specs:
            key = store_key(fp, spec, text, classifier)
            if key not in parsed:
                parsed[key] = store.get(key)
            if parsed[key] is not None:
                row[spec.name] = parsed[key]
        out.append(row)
    return out


# ---------------------------------------------------------------------------- the command
@dataclass(frozen=True)
class BatchOptions:
    """What `explain batch` was asked for."""

    methods: str = "occlusion"  # comma-separated
    engine: str = "local"
    address: str | None = None
    cache: Path | None = None  # None: the default cache file
    params: tuple[str, ...] = ()  # METHOD.NAME=VALUE
    actors: int | None = None
    batch_size: int = 4


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl+C during a batch run; the message says how much is safe and how to resume."""


def run_batch(
    classifier: Classifier, texts: Sequence[str], options: BatchOptions, progress: Progress | None = None
) -> tuple[RunStats, str]:
    """Everything `explain batch` does after loading the model and reading the reviews: (stats, cache file)."""
    from explain.methods import parse_params

    names = split_methods(options.methods)
    with ExplanationStore(options.cache) as store:
        try:
            stats = run_corpus(
                classifier,
                texts,
                names,
                store,
                params=parse_params(list(options.params), names),
                engine=options.engine,
                address=options.address,
                actors=options.actors,
                batch_size=options.batch_size,
                progress=progress,
            )
        except KeyboardInterrupt:
            raise BatchInterrupted(
                f"interrupted; {len(store)} result(s) are safe in {store.path}: run the same command again to resume"
            ) from None
        return stats, store.path
