"""Corpus runs: explain many reviews with several methods into the store, then summarise the corpus.

`run_corpus` skips what the store already holds and commits every explanation as soon as it is
computed, so a killed run (even SIGKILL) resumes where it stopped with nothing lost or duplicated.
Two engines: `local` (this process) and `ray` (Ray Data `map_batches` over an actor pool, one model
per actor; the driver writes results into the store as they stream back). `summarize` aggregates
finished explanations: predicted and given star distributions, a confusion matrix, the words that
push reviews toward each label, and the most confidently wrong reviews.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from explain.classifier import Classifier
from explain.data import Review
from explain.errors import UserError
from explain.explanation import Explanation
from explain.store import (
    NO_CONTRAST,
    question_code,
    ExplanationStore,
    StoreKey,
    canonical_json,
    fingerprint,
    method_params,
    text_hash,
)

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class MethodSpec:
    """One method of a corpus run, with its full parameters (defaults filled in)."""

    name: str
    params: Mapping[str, Any]

    @property
    def params_json(self) -> str:
        return canonical_json(self.params)


def split_methods(methods: str) -> list[str]:
    """`"occlusion, shap"` -> ["occlusion", "shap"]; an empty list is an error."""
    names = [m.strip() for m in methods.split(",") if m.strip()]
    if not names:
        raise UserError("--methods is empty; name at least one method, e.g. --methods occlusion,shap")
    return names


def method_specs(methods: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None) -> list[MethodSpec]:
    """Resolve method names (aliases allowed, duplicates dropped) and their parameters."""
    if not methods:
        raise UserError("name at least one method, e.g. --methods occlusion")
    params = params or {}
    specs: dict[str, MethodSpec] = {}
    for method in methods:
        name, full = method_params(method, params.get(method, {}))
        specs.setdefault(name, MethodSpec(name, full))
    unused = [m for m in params if method_params(m)[0] not in specs]
    if unused:
        raise UserError(f"parameters given for {', '.join(unused)}, which is not among the methods run")
    return list(specs.values())


@dataclass
class RunStats:
    """What one corpus run did."""

    engine: str
    items: int  # (unique text, method) pairs asked for
    cached: int = 0  # already in the store
    computed: int = 0  # explained and stored by this run
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (method, text, error)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        """Explanations computed per second of this run."""
        return self.computed / self.seconds if self.seconds > 0 else 0.0


def _key(fp: str, spec: MethodSpec, text: str, classifier: Classifier) -> StoreKey:
    """The store key of `explain(classifier, text, spec.name, **spec.params)`: its default question."""
    return StoreKey(fp, spec.name, spec.params_json, question_code(classifier, spec.name), NO_CONTRAST, text_hash(text))


def pending(
    store: ExplanationStore, fp: str, specs: Sequence[MethodSpec], texts: Sequence[str]
) -> list[tuple[str, MethodSpec]]:
    """The (text, method) pairs not yet in the store, each unique pair once, in corpus order."""
    todo, seen = [], set()
    done = {spec.name: store.text_hashes(fp, spec.name, spec.params_json) for spec in specs}
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
    progress: bool = True,
) -> RunStats:
    """Explain every text with every method (the predicted label), storing each result as it is made.

    What the store already holds is skipped. `engine="ray"` runs on a Ray cluster (`address`, or a
    local instance when None and no `RAY_ADDRESS` is set) with `actors` model replicas.
    """
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise UserError(f"review {i + 1} is empty; every review needs at least one word")
    specs = method_specs(methods, params)
    fp = fingerprint(classifier)
    unique = len({text_hash(t) for t in texts}) * len(specs)
    todo = pending(store, fp, specs, texts)
    stats = RunStats(engine=engine, items=unique, cached=unique - len(todo))
    started = time.perf_counter()
    bar = _progress(len(todo), engine, stats.cached, progress)
    try:
        if engine == "local":
            _run_local(classifier, todo, store, fp, stats, bar)
        elif todo:
            _run_ray(classifier, todo, store, fp, stats, bar, address=address, actors=actors, batch_size=batch_size)
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - started
    return stats


def _progress(total: int, engine: str, cached: int, enabled: bool):
    from tqdm.auto import tqdm

    bar = tqdm(
        total=total, desc=f"explain [{engine}]", unit="expl", disable=not enabled, dynamic_ncols=True, smoothing=0.1
    )
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
            stats.computed += store.put(_key(fp, spec, text, classifier), result)
        bar.update(1)


# ---------------------------------------------------------------------------- Ray engine
def model_files(classifier: Classifier) -> dict[str, bytes]:
    """The classifier saved as a Hugging Face folder, as {file name: bytes} (shipped to Ray actors)."""
    with tempfile.TemporaryDirectory(prefix="explain-model-") as tmp:
        classifier.model.save_pretrained(tmp)
        classifier.tokenizer.save_pretrained(tmp)
        return {p.name: p.read_bytes() for p in Path(tmp).iterdir() if p.is_file()}


class ExplainActor:
    """A Ray Data `map_batches` actor: loads the classifier once, then explains batches of rows."""

    def __init__(self, model: Mapping[str, Any], name: str, threads: int = 1):
        import ray
        import torch

        files = model["files"]  # nested in a dict so Ray hands the reference over instead of pinning it
        if isinstance(files, ray.ObjectRef):
            files = ray.get(files)
        torch.set_num_threads(max(1, int(threads)))
        self._folder = tempfile.TemporaryDirectory(prefix="explain-actor-")
        for file_name, data in files.items():
            (Path(self._folder.name) / file_name).write_bytes(data)
        self.classifier = Classifier.from_pretrained(self._folder.name)
        self.classifier.name = name
        self.fingerprint = fingerprint(self.classifier)

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list]:
        from explain.methods import explain

        out: dict[str, list] = {"index": [], "payload": [], "error": [], "fingerprint": []}
        for index, text, method, params in zip(batch["index"], batch["text"], batch["method"], batch["params"]):
            payload, error = "", ""
            try:
                result = explain(self.classifier, str(text), method=str(method), **json.loads(str(params)))
                payload = json.dumps(result.to_dict(), separators=(",", ":"), ensure_ascii=False)
            except Exception as exc:  # reported back to the driver, which records it
                error = f"{type(exc).__name__}: {exc}"
            out["index"].append(int(index))
            out["payload"].append(payload)
            out["error"].append(error)
            out["fingerprint"].append(self.fingerprint)
        return out


_QUIET_RAY_LOGGERS = {
    "ray.data._internal.progress": logging.ERROR,
    "ray.data._internal.execution.streaming_executor": logging.WARNING,
}


def _run_ray(
    classifier: Classifier,
    todo: Sequence[tuple[str, MethodSpec]],
    store: ExplanationStore,
    fp: str,
    stats: RunStats,
    bar,
    *,
    address: str | None,
    actors: int | None,
    batch_size: int,
) -> None:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise UserError("the ray engine needs Ray: pip install 'ray[data]'") from exc

    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
        except ConnectionError as exc:
            raise UserError(f"could not connect to the Ray cluster at {address!r}: {exc}") from exc
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours is the one progress bar
        ctx.print_on_execution_start = False
        for name, level in _QUIET_RAY_LOGGERS.items():  # "progress bars disabled", "execution finished"
            logging.getLogger(name).setLevel(level)
        if actors is None:
            actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
        actors = max(1, min(actors, len(todo)))
        threads = int(os.environ.get("EXPLAIN_RAY_THREADS", "1"))
        model_ref = ray.put(model_files(classifier))
        rows = [
            {"index": i, "text": text, "method": spec.name, "params": spec.params_json}
            for i, (text, spec) in enumerate(todo)
        ]
        blocks = max(1, min(len(rows), actors * 4))
        ds = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            ExplainActor,
            fn_constructor_kwargs={"model": {"files": model_ref}, "name": classifier.name, "threads": threads},
            compute=ray.data.ActorPoolStrategy(size=actors),
            batch_size=batch_size,
            num_cpus=threads,
        )
        for row in ds.iter_rows():
            text, spec = todo[int(row["index"])]
            if row["fingerprint"] != fp:
                raise RuntimeError(
                    f"a Ray actor loaded a different model (fingerprint {row['fingerprint']} "
                    f"instead of {fp}); results were not stored"
                )
            if row["error"]:
                stats.failed.append((spec.name, text, str(row["error"])))
                bar.set_postfix(cached=stats.cached, failed=len(stats.failed))
            else:
                stats.computed += store.put(_key(fp, spec, text, classifier), json.loads(row["payload"]))
            bar.update(1)
    finally:
        if started_here:
            ray.shutdown()


# ---------------------------------------------------------------------------- reading results back
def load_results(
    store: ExplanationStore,
    classifier: Classifier,
    texts: Sequence[str],
    methods: Sequence[str],
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Explanation]]:
    """For each text, {method: stored explanation of the predicted label} (methods missing if they failed)."""
    specs = method_specs(methods, params)
    fp = fingerprint(classifier)
    parsed: dict[StoreKey, Explanation | None] = {}
    out = []
    for text in texts:
        row = {}
        for spec in specs:
            key = _key(fp, spec, text, classifier)
            if key not in parsed:
                parsed[key] = store.get(key)
            if parsed[key] is not None:
                row[spec.name] = parsed[key]
        out.append(row)
    return out


# ---------------------------------------------------------------------------- aggregation
@dataclass(frozen=True)
class WordStat:
    """A word's attributions toward one label, summed over the corpus."""

    word: str
    total: float  # sum of its scores
    count: int  # occurrences scored
    reviews: int  # distinct reviews it occurs in

    @property
    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0


@dataclass(frozen=True)
class WrongReview:
    """A review whose predicted label differs from its given stars."""

    index: int
    text: str
    given: int  # label index of the given stars
    predicted: int
    confidence: float  # probability of the predicted label
    given_probability: float


@dataclass(frozen=True)
class CorpusSummary:
    """Distributions, confusion matrix, top words per label and method, the most confidently wrong."""

    labels: tuple[str, ...]
    n_reviews: int  # reviews with at least one explanation
    predicted_counts: tuple[int, ...]
    given_counts: tuple[int, ...] | None = None  # reviews whose given stars map to a label
    confusion: tuple[tuple[int, ...], ...] | None = None  # rows: given label, columns: predicted label
    accuracy: float | None = None
    mae_stars: float | None = None
    unmapped_stars: int = 0  # given stars that match no label
    # method -> label -> its top words
    top_words: Mapping[str, Mapping[str, tuple[WordStat, ...]]] = field(default_factory=dict)
    confidently_wrong: tuple[WrongReview, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["top_words"] = {
            m: {label: [asdict(w) | {"mean": w.mean} for w in words] for label, words in per.items()}
            for m, per in self.top_words.items()
        }
        return data


_LEADING_INT = re.compile(r"^\s*(\d+)")


def label_stars(labels: Sequence[str]) -> list[int | None]:
    """The star count each label names ("4 stars" -> 4), None where a label names none."""
    return [int(m.group(1)) if (m := _LEADING_INT.match(label)) else None for label in labels]


def word_key(word: str) -> str | None:
    """How words are grouped across reviews: lower-cased; punctuation-only words are left out."""
    return word.lower() if any(ch.isalnum() for ch in word) else None


# Function words that carry no opinion; negations (not, no, never, nor...) are kept on purpose: they flip stars.
STOPWORDS = frozenset(
    """a an the and or but if then so than that this these those there here of to in on at by for with from
    as into onto about over under up down out off again once i me my mine we us our you your he him his she her
    it its they them their what which who whom whose is am are was were be been being have has had having do
    does did doing will would shall should can could may might must just also too very s t ll ve re d m""".split()
)


def content_top_words(explanation: Explanation, k: int = 3, skip_stopwords: bool = True) -> list[tuple[str, float]]:
    """The k words with the largest |score|, leaving out punctuation and (optionally) STOPWORDS."""
    order = np.argsort(-np.abs(explanation.word_scores), kind="stable")
    out = []
    for i in order:
        key = word_key(explanation.words[i])
        if key is None or (skip_stopwords and key in STOPWORDS):
            continue
        out.append((explanation.words[i], float(explanation.word_scores[i])))
        if len(out) == k:
            break
    return out


def stars_surprise(labels: Sequence[str], predicted: int, given_stars: int | None) -> float | None:
    """|given - predicted| in stars (None when the review has no given stars or the label names no stars)."""
    predicted_stars = label_stars(labels)[predicted]
    if given_stars is None or predicted_stars is None:
        return None
    return float(abs(given_stars - predicted_stars))


def summarize(
    reviews: Sequence[Review],
    results: Sequence[Mapping[str, Explanation]],
    labels: Sequence[str],
    *,
    top_k: int = 10,
    wrong_k: int = 10,
    min_reviews: int = 2,
) -> CorpusSummary:
    """Aggregate a corpus's explanations (one {method: Explanation} per review, predicted label).

    Words toward a label: methods that score every label contribute each review's scores for every
    label; others contribute a review's scores for its explained label. Words in fewer than
    `min_reviews` reviews are left out; ranking is by summed score (only positive sums are listed).
    """
    if len(reviews) != len(results):
        raise ValueError(f"{len(reviews)} reviews but {len(results)} results")
    labels = tuple(labels)
    n_labels = len(labels)
    stars_of = label_stars(labels)
    star_to_label = {s: i for i, s in enumerate(stars_of) if s is not None}
    predicted_counts = np.zeros(n_labels, dtype=int)
    has_stars = any(r.stars is not None for r in reviews)
    confusion = np.zeros((n_labels, n_labels), dtype=int)
    unmapped, wrong, abs_errors = 0, [], []
    # method -> label -> word -> [total, count, reviews]
    sums: dict[str, list[dict[str, list[float]]]] = defaultdict(
        lambda: [defaultdict(lambda: [0.0, 0, 0]) for _ in range(n_labels)]
    )
    n = 0
    for index, (review, per_method) in enumerate(zip(reviews, results)):
        if not per_method:
            continue
        n += 1
        probs = next(iter(per_method.values())).probabilities
        predicted = int(np.argmax(probs))
        predicted_counts[predicted] += 1
        if review.stars is not None:
            given = star_to_label.get(review.stars)
            if given is None:
                unmapped += 1
            else:
                confusion[given, predicted] += 1
                if stars_of[predicted] is not None:
                    abs_errors.append(abs(stars_of[predicted] - review.stars))
                if given != predicted:
                    wrong.append(
                        WrongReview(index, review.text, given, predicted, float(probs[predicted]), float(probs[given]))
                    )
        for method, explanation in per_method.items():
            _add_words(sums[method], explanation)
    top_words = {
        method: {labels[label]: _top(per_label[label], top_k, min_reviews) for label in range(n_labels)}
        for method, per_label in sums.items()
    }
    wrong.sort(key=lambda w: (-w.confidence, w.index))
    mapped = int(confusion.sum())
    return CorpusSummary(
        labels=labels,
        n_reviews=n,
        predicted_counts=tuple(int(c) for c in predicted_counts),
        given_counts=tuple(int(c) for c in confusion.sum(axis=1)) if has_stars else None,
        confusion=tuple(tuple(int(c) for c in row) for row in confusion) if has_stars else None,
        accuracy=float(np.trace(confusion) / mapped) if mapped else None,
        mae_stars=float(np.mean(abs_errors)) if abs_errors else None,
        unmapped_stars=unmapped,
        top_words=top_words,
        confidently_wrong=tuple(wrong[:wrong_k]),
    )


def _label_word_scores(explanation: Explanation) -> Iterator[tuple[int, np.ndarray]]:
    if explanation.label_token_scores is not None and explanation.contrast is None:
        for label in range(len(explanation.labels)):
            yield label, explanation.for_label(label).word_scores
    elif explanation.target is not None:  # a rating or class-agnostic explanation points to no star
        yield explanation.target, explanation.word_scores


def _add_words(per_label: list[dict[str, list[float]]], explanation: Explanation) -> None:
    keys = [word_key(w) for w in explanation.words]
    for label, scores in _label_word_scores(explanation):
        seen = set()
        table = per_label[label]
        for key, score in zip(keys, scores):
            if key is None:
                continue
            entry = table[key]
            entry[0] += float(score)
            entry[1] += 1
            if key not in seen:
                entry[2] += 1
                seen.add(key)


def _top(table: Mapping[str, list[float]], k: int, min_reviews: int) -> tuple[WordStat, ...]:
    stats = [
        WordStat(word, total, int(count), int(reviews))
        for word, (total, count, reviews) in table.items()
        if reviews >= min_reviews and total > 0
    ]
    stats.sort(key=lambda s: (-s.total, s.word))
    return tuple(stats[:k])


# ---------------------------------------------------------------------------- the command
def batch_command(
    classifier: Classifier,
    texts: Sequence[str],
    methods: str,
    engine: str,
    address: str | None,
    cache: Path | None,
    params: Sequence[str] | None,
    actors: int | None,
    batch_size: int,
    console,
) -> RunStats:
    """Everything `explain batch` does after loading the model and reading the reviews."""
    from explain.methods import parse_params

    with ExplanationStore(cache) as store:
        try:
            stats = run_corpus(
                classifier,
                texts,
                split_methods(methods),
                store,
                params=parse_params(params, split_methods(methods)),
                engine=engine,
                address=address,
                actors=actors,
                batch_size=batch_size,
            )
        except KeyboardInterrupt:
            console.print(
                f"interrupted; {len(store)} result(s) are safe in {store.path}: run the same command again to resume"
            )
            raise SystemExit(130) from None
        where = store.path
    console.print(
        f"{stats.computed} explanation(s) computed, {stats.cached} already cached, "
        f"{len(stats.failed)} failed, in {stats.seconds:.1f} s ({stats.rate:.2f}/s, engine {engine}); "
        f"cache: {where}"
    )
    for method, text, error in stats.failed[:5]:
        console.print(f"  failed: {method} on {text[:60]!r}: {error}", highlight=False)
    return stats
