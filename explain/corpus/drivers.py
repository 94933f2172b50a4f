"""What costs stars across a corpus: the words and short phrases that lower and raise the expected rating.

Aggregation (stated in every output, `Drivers.aggregation`): in each review a phrase's effect is the sum of the
scores of its words (all its occurrences in that review), in the rating's unit (stars); a driver's effect is the
mean of that over the reviews it occurs in, so a frequent word is not favoured for being frequent (the
frequency bias of summed scores, Mor, Belinkov & Kimelfeld, AAAI 2024; van der Linden et al. 2019 on the
aggregation choice). Its 95 % interval is a percentile bootstrap over those reviews (resampling reviews,
as Rönnqvist et al. 2021 resample to drop spurious words).

Phrases: single words, adjacent pairs of words ("battery died"), and a negation with what it negates ("not
worth", "never answered", "didn't work", "not a good": up to two function words between), never across
punctuation. Stopwords (`explain.stopwords`) and punctuation are never drivers.

Support and ranking (`Drivers.support_rule`, `Drivers.ranking`): a phrase must occur in at least
max(`min_reviews`, `min_share` of the reviews) reviews of its group; lowering drivers are ranked by the upper end
of their interval, raising ones by the lower end (the end nearest zero), so a phrase ranks high only when all of
its interval is far from zero: neither a rare word's lucky mean nor a function word's tiny one comes first.

Memory: explanations are read from the store a batch at a time and dropped; what is kept is one 8-byte effect
and one review number per (phrase, review) pair, and a bounded heap of the most surprising reviews.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explain.classifier import Classifier
from explain.corpus.driver_stats import MIN_REVIEWS, MIN_SHARE, Tally, rank_group, support_needed
from explain.corpus.driver_types import (
    CONFIDENCE,
    RESAMPLES,
    Driver,
    DriverGroup,
    Drivers,
    Example,
    GivenVsPredicted,
    SurprisingReview,
)
from explain.corpus.phrases import NEGATIONS, review_phrases
from explain.corpus.run import ENGINES
from explain.corpus.spec import MethodSpec, method_specs, store_key
from explain.corpus.summary import label_stars
from explain.data import Review
from explain.errors import UserError
from explain.explanation import Explanation
from explain.progress import Progress, Ticker
from explain.store import ExplanationStore, fingerprint
from explain.target import no_rating_error

__all__ = [  # the values live in driver_types, the statistics in driver_stats, the phrases in phrases
    "CONFIDENCE",
    "MIN_REVIEWS",
    "MIN_SHARE",
    "NEGATIONS",
    "RESAMPLES",
    "Driver",
    "DriverGroup",
    "Drivers",
    "DriversRun",
    "Example",
    "GivenVsPredicted",
    "SurprisingReview",
    "check_method",
    "compute_drivers",
    "corpus_drivers",
    "default_method",
    "drivers_from_store",
    "review_phrases",
    "stream_explanations",
    "support_needed",
]

STREAM_BATCH = 256  # explanations read from the store at a time
FALLBACK_METHOD = "occlusion"


def compute_drivers(
    reviews: Sequence[Review],
    explanations: Iterable[Explanation | None],
    labels: Sequence[str],
    *,
    top_k: int = 20,
    n_examples: int = 3,
    n_surprising: int = 10,
    min_reviews: int = MIN_REVIEWS,
    min_share: float = MIN_SHARE,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Drivers:
    """Drivers from each review's explanation of the expected rating (one per review, in order; None where
    the method failed), read once as they stream by. See the module docstring for the aggregation and rules."""
    labels = tuple(labels)
    tally = Tally(len(reviews), labels, label_stars(labels), n_surprising)
    method = question = unit = None
    seen = failed = whole = 0
    for index, (review, exp) in enumerate(zip(reviews, explanations, strict=False)):
        seen += 1
        if exp is None:
            failed += 1
            continue
        if exp.explains != "rating":
            raise UserError(
                f"drivers need explanations of the expected rating; {exp.method} explained {exp.question!r}"
            )
        method, question, unit = exp.method, exp.question, exp.unit
        whole += exp.scored_whole_sentences
        rating = None if review.stars is None else float(exp.expected_rating)
        tally.add(index, review, review_phrases(exp.words, exp.word_scores), int(np.argmax(exp.probabilities)), rating)
    if seen != len(reviews):
        raise ValueError(f"{len(reviews)} reviews but {seen} explanations")
    explained = len(reviews) - failed
    if explained == 0:
        raise UserError("no review could be explained, so there are no drivers (see the failures above)")
    options = dict(top_k=top_k, n_examples=n_examples, min_reviews=min_reviews, min_share=min_share)
    options |= dict(rng=np.random.default_rng(seed), resamples=resamples)

    need, low, high = rank_group(tally.table, tally.predicted >= 0, explained, reviews, **options)
    has_stars = any(r.stars is not None for r in reviews)
    return Drivers(
        method=str(method),
        question=str(question),
        unit=str(unit or ""),
        n_reviews=explained,
        min_reviews=min_reviews,
        min_share=min_share,
        overall=DriverGroup("all reviews", explained, need, low, high),
        by_predicted=_levels(tally, tally.predicted, "predicted", reviews, options),
        by_given=_levels(tally, tally.given, "given", reviews, options) if has_stars else (),
        given_vs_predicted=tally.given_vs_predicted() if has_stars else None,
        surprising=tally.surprises.reviews(reviews),
        failed=failed,
        whole_sentences=whole,
        resamples=resamples,
    )


def _levels(
    tally: Tally, levels: np.ndarray, word: str, reviews: Sequence[Review], options: dict[str, Any]
) -> tuple[DriverGroup, ...]:
    """The drivers of each star level (`levels`: each review's label index, -1 for none) that has reviews."""
    out = []
    for label, name in enumerate(tally.labels):
        member = levels == label
        if member.any():
            need, low, high = rank_group(tally.table, member, int(member.sum()), reviews, **options)
            out.append(DriverGroup(f"{word} {name}", int(member.sum()), need, low, high))
    return tuple(out)


# ---------------------------------------------------------------------------- from a corpus run
def default_method(classifier: Classifier) -> str:
    """`amortized` when this model has a fitted amortized head (`explain amortize`, `explain build-default`),
    else occlusion."""
    from explain.amortize import has_head

    return "amortized" if has_head(classifier) else FALLBACK_METHOD


def check_method(method: str) -> str:
    """The canonical name of a method that can give drivers: it must score the rating, with a sign."""
    from explain.methods import get_method

    m = get_method(method)
    if not m.class_specific:
        raise UserError(
            f"{m.name} is class-agnostic (it says where the model looked, with no direction), so it cannot say "
            "what lowers or raises the rating; choose e.g. --method occlusion"
        )
    if not m.signed:
        raise UserError(f"{m.name} gives magnitudes only (no sign), so it cannot say what lowers the rating")
    return m.name


@dataclass
class DriversRun:
    """What `corpus_drivers` computed and how (the per-review run's counts come from `run_corpus`)."""

    drivers: Drivers
    computed: int
    cached: int
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0


def corpus_drivers(
    classifier: Classifier,
    reviews: Sequence[Review],
    store: ExplanationStore,
    *,
    method: str | None = None,
    params: dict[str, Any] | None = None,
    engine: str = "local",
    address: str | None = None,
    actors: int | None = None,
    batch_size: int = 4,
    progress: Progress | None = None,
    **options: Any,
) -> DriversRun:
    """Explain every review's expected rating into `store` (what it holds is not recomputed; a killed run
    resumes), then stream the explanations back a batch at a time into `compute_drivers`."""
    from explain.corpus.run import run_corpus

    if not reviews:
        raise UserError("no reviews: the file has no review text")
    if not classifier.has_rating:
        raise no_rating_error(classifier.labels)
    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    name = check_method(method or default_method(classifier))
    if name == "amortized":  # no head: say how to fit one, before any work
        from explain.word_head import load_head

        load_head(classifier)
    texts = [r.text for r in reviews]
    spec = method_specs([name], {name: dict(params or {})})[0]
    started = time.perf_counter()
    batched = 0
    if name == "amortized" and engine == "local" and spec.params == method_specs([name])[0].params:
        batched = _batched_amortized(classifier, texts, spec, store, progress)
    stats = run_corpus(  # what is left: everything for other methods, failures of the batched path
        classifier,
        texts,
        [name],
        store,
        params={name: dict(params or {})},
        engine=engine,
        address=address,
        actors=actors,
        batch_size=batch_size,
        progress=None if batched else progress,
    )
    if stats.failed and stats.cached + stats.computed == 0:
        _, _, error = stats.failed[0]
        raise UserError(f"{name} failed on every review ({len(stats.failed)}); on the first: {error}")
    seconds = time.perf_counter() - started
    stream = stream_explanations(store, classifier, texts, spec)
    drivers = compute_drivers(reviews, stream, classifier.labels, **options)
    return DriversRun(drivers, stats.computed + batched, stats.cached - batched, list(stats.failed), seconds)


def _batched_amortized(
    classifier: Classifier, texts: Sequence[str], spec: MethodSpec, store: ExplanationStore, progress: Progress | None
) -> int:
    """Explain the reviews the store lacks with `amortized` in batched forward passes (`amortized_many`),
    storing each chunk in one transaction; returns how many were stored. A chunk that fails is left to the
    one-review-at-a-time run, which records each failure."""
    from explain.corpus.run import pending
    from explain.methods.amortized_batch import amortized_many

    fp = fingerprint(classifier)
    todo = [text for text, _ in pending(store, fp, [spec], texts, classifier)]
    bar = Ticker(len(todo), progress)
    stored = 0
    for start in range(0, len(todo), STREAM_BATCH):
        chunk = todo[start : start + STREAM_BATCH]
        try:
            results = amortized_many(classifier, chunk)
        except Exception:  # noqa: BLE001 - the per-review run below explains these one by one and records why
            results = None
        if results is not None:
            keyed = [(store_key(fp, spec, t, classifier), r) for t, r in zip(chunk, results, strict=True)]
            stored += store.put_many(keyed)
        bar.set_postfix(batched=stored)
        bar.update(len(chunk))
    return stored


def stream_explanations(
    store: ExplanationStore, classifier: Classifier, texts: Sequence[str], spec: MethodSpec, batch: int = STREAM_BATCH
) -> Iterator[Explanation | None]:
    """Each text's stored explanation (None when missing), read `batch` texts at a time."""
    fp = fingerprint(classifier)
    for start in range(0, len(texts), batch):
        chunk = [store.get(store_key(fp, spec, t, classifier)) for t in texts[start : start + batch]]
        yield from chunk
        del chunk


def drivers_from_store(
    classifier: Classifier, reviews: Sequence[Review], specs: Sequence[MethodSpec], store: ExplanationStore
) -> Drivers | None:
    """Drivers from what a corpus run already stored, with the first of `specs` that scores the rating with a
    sign (a report's section); None for one review, a model without a rating, only class-agnostic methods, or
    no review explained."""
    if len(reviews) < 2 or not classifier.has_rating:
        return None
    for spec in specs:
        try:
            check_method(spec.name)
        except UserError:
            continue
        stream = stream_explanations(store, classifier, [r.text for r in reviews], spec)
        try:
            return compute_drivers(reviews, stream, classifier.labels)
        except UserError:  # no review could be explained: the report's failures say why
            return None
    return None
