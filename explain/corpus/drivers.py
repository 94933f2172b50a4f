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

import heapq
import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from explain.classifier import Classifier
from explain.corpus.run import ENGINES
from explain.corpus.spec import method_specs, store_key
from explain.corpus.summary import label_stars
from explain.data import Review
from explain.errors import UserError
from explain.explanation import Explanation
from explain.progress import Progress
from explain.stopwords import STOPWORDS
from explain.store import ExplanationStore, fingerprint
from explain.target import no_rating_error

CONFIDENCE = 0.95
RESAMPLES = 1000  # bootstrap resamples per ranked phrase
MIN_REVIEWS = 5
MIN_SHARE = 0.005  # 0.5 % of the reviews
STREAM_BATCH = 256  # explanations read from the store at a time
MAX_GAP = 2  # function words allowed between a negation and the word it negates
FALLBACK_METHOD = "occlusion"

# Words that negate what follows them; `n't` contractions arrive split as "didn", "'", "t" (or "didn", "'t"),
# and these stems start one.
NEGATIONS = frozenset(
    ["not", "no", "never", "nor", "none", "nothing", "nobody", "nowhere", "neither", "cannot", "without", "hardly"]
)
_NT_STEMS = frozenset(
    ["don", "doesn", "didn", "isn", "wasn", "aren", "weren", "won", "wouldn", "couldn", "shouldn", "hasn", "haven"]
    + ["hadn", "can", "ain", "mustn", "needn"]
)


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Example:
    """A review a driver occurs in, with the driver's effect in that review."""

    index: int  # the review's position in the input (0-based)
    text: str
    effect: float


@dataclass(frozen=True)
class Driver:
    """A phrase and what it does to the rating across the reviews it occurs in."""

    phrase: str
    effect: float  # mean over the reviews it occurs in of its words' summed scores there
    reviews: int  # reviews it occurs in
    ci: tuple[float, float]  # bootstrap interval of `effect` over those reviews
    examples: tuple[Example, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "phrase": self.phrase,
            "effect": self.effect,
            "reviews": self.reviews,
            "ci": [self.ci[0], self.ci[1]],
            "examples": [asdict(e) for e in self.examples],
        }


@dataclass(frozen=True)
class DriverGroup:
    """The drivers of one group of reviews (all of them, or those predicted / given one star level)."""

    name: str  # "all reviews", "predicted 1 star", "given 5 stars"
    n_reviews: int
    min_support: int  # reviews a phrase must occur in to be ranked
    lowering: tuple[Driver, ...]
    raising: tuple[Driver, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_reviews": self.n_reviews,
            "min_support": self.min_support,
            "lowering": [d.to_dict() for d in self.lowering],
            "raising": [d.to_dict() for d in self.raising],
        }


@dataclass(frozen=True)
class SurprisingReview:
    """A review whose given stars are far from the expected rating, with the phrases that moved it most."""

    index: int
    text: str
    given: int
    expected: float
    predicted: str  # the predicted label
    drivers: tuple[tuple[str, float], ...]  # (phrase, effect in this review), largest |effect| first

    @property
    def surprise(self) -> float:
        return abs(self.given - self.expected)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"surprise": self.surprise, "drivers": [list(d) for d in self.drivers]}


@dataclass(frozen=True)
class GivenVsPredicted:
    """Given stars against the model: counts per (given, predicted) label and the mean expected rating per given."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]  # rows: given label, columns: predicted label
    mean_expected: tuple[float | None, ...]  # per given label
    mean_abs_error: float | None  # mean |given - expected| over reviews with given stars
    unmapped: int = 0  # given stars that match no label


@dataclass(frozen=True)
class Drivers:
    """Corpus drivers overall, per predicted (and given) star level, and the surprising reviews."""

    method: str
    question: str
    unit: str
    n_reviews: int  # reviews with an explanation
    min_reviews: int
    min_share: float
    overall: DriverGroup
    by_predicted: tuple[DriverGroup, ...] = ()
    by_given: tuple[DriverGroup, ...] = ()
    given_vs_predicted: GivenVsPredicted | None = None
    surprising: tuple[SurprisingReview, ...] = ()
    failed: int = 0  # reviews without an explanation (the method failed on them)
    whole_sentences: int = 0  # reviews whose method scored whole sentences (their words share its score)
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES

    @property
    def lowering(self) -> tuple[Driver, ...]:
        return self.overall.lowering

    @property
    def raising(self) -> tuple[Driver, ...]:
        return self.overall.raising

    @property
    def min_support(self) -> int:
        return self.overall.min_support

    @property
    def support_rule(self) -> str:
        return (
            f"a phrase must occur in at least max({self.min_reviews}, {self.min_share:.1%} of the reviews) reviews "
            f"of its group ({self.overall.min_support} of all {self.n_reviews})"
        )

    @property
    def aggregation(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return (
            f"in each review, the sum of the phrase's word scores ({self.method}, {self.question}); "
            f"mean{unit} over the reviews it occurs in; {self.confidence:.0%} interval: percentile bootstrap "
            f"over those reviews ({self.resamples} resamples)"
        )

    @property
    def ranking(self) -> str:
        return (
            "lowering: by the upper end of the interval, raising: by the lower end (the end nearest zero); "
            "stopwords and punctuation are never drivers; negations are kept with what they negate"
        )

    def settings(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "question": self.question,
            "unit": self.unit,
            "min_support": self.min_support,
            "n_reviews": self.n_reviews,
            "support_rule": self.support_rule,
            "aggregation": self.aggregation,
            "ranking": self.ranking,
            "confidence": self.confidence,
            "resamples": self.resamples,
            "failed": self.failed,
            "whole_sentences": self.whole_sentences,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `lowering` and `raising` of all reviews, the settings, the groups and surprising reviews."""
        return {
            "lowering": [d.to_dict() for d in self.lowering],
            "raising": [d.to_dict() for d in self.raising],
            "settings": self.settings(),
            "by_predicted": [g.to_dict() for g in self.by_predicted],
            "by_given": [g.to_dict() for g in self.by_given],
            "given_vs_predicted": None if self.given_vs_predicted is None else asdict(self.given_vs_predicted),
            "surprising": [s.to_dict() for s in self.surprising],
        }


# ---------------------------------------------------------------------------- phrases of one review
@dataclass(frozen=True)
class _Unit:
    text: str  # lower-cased; a split "didn ' t" joined to "didn't"
    score: float
    kind: str  # "content", "negation", "stop" or "break" (punctuation)


def _units(words: Sequence[str], scores: Sequence[float]) -> list[_Unit]:
    out, i = [], 0
    while i < len(words):
        n = _contraction(words, i)
        if n:
            out.append(_Unit(words[i].lower() + "'t", float(sum(scores[i : i + n])), "negation"))
            i += n
            continue
        key = words[i].lower()
        if not any(ch.isalnum() for ch in key):
            kind = "break"
        elif key in NEGATIONS or key.endswith("n't") or key.endswith("n\u2019t"):
            kind = "negation"
        elif key in STOPWORDS or key == "t":
            kind = "stop"
        else:
            kind = "content"
        out.append(_Unit(key, float(scores[i]), kind))
        i += 1
    return out


def _contraction(words: Sequence[str], i: int) -> int:
    """Words at `i` that spell one `n't` contraction: "didn" "'" "t" -> 3, "didn" "'t" -> 2, else 0."""
    if words[i].lower() not in _NT_STEMS:
        return 0
    rest = [w.lower().replace("\u2019", "'") for w in words[i + 1 : i + 3]]
    if rest[:1] == ["'t"]:
        return 2
    if rest[:2] == ["'", "t"]:
        return 3
    return 0


def review_phrases(words: Sequence[str], scores: Sequence[float]) -> dict[str, float]:
    """{phrase: summed score of its words over its occurrences} for one review: content words and negations,
    adjacent pairs of them, and a negation with the next content word (up to `MAX_GAP` function words between)."""
    units = _units(words, scores)
    found: dict[str, float] = {}

    def add(phrase: str, score: float) -> None:
        found[phrase] = found.get(phrase, 0.0) + score

    for i, u in enumerate(units):
        if u.kind not in ("content", "negation"):
            continue
        add(u.text, u.score)
        nxt = units[i + 1] if i + 1 < len(units) else None
        if nxt is not None and nxt.kind == "content":  # a negation attaches to what follows it, never before
            add(f"{u.text} {nxt.text}", u.score + nxt.score)
        elif u.kind == "negation" and nxt is not None and nxt.kind == "stop":
            span = [u]
            for v in units[i + 1 : i + 2 + MAX_GAP]:
                span.append(v)
                if v.kind != "stop":
                    break
            if span[-1].kind == "content":
                add(" ".join(v.text for v in span), sum(v.score for v in span))
    return found


# ---------------------------------------------------------------------------- aggregation
class _PhraseTable:
    """Per phrase: the reviews it occurs in and its effect in each (compact arrays, no explanations kept)."""

    def __init__(self) -> None:
        self.owners: dict[str, array] = {}
        self.values: dict[str, array] = {}

    def add(self, index: int, phrases: dict[str, float]) -> None:
        for phrase, value in phrases.items():
            owners = self.owners.get(phrase)
            if owners is None:
                owners = self.owners[phrase] = array("q")
                self.values[phrase] = array("d")
            owners.append(index)
            self.values[phrase].append(value)


def support_needed(n_reviews: int, min_reviews: int = MIN_REVIEWS, min_share: float = MIN_SHARE) -> int:
    """Reviews a phrase must occur in to be ranked: max(min_reviews, ceil(min_share x n_reviews))."""
    return max(min_reviews, math.ceil(min_share * n_reviews))


def _rank(
    table: _PhraseTable,
    member: np.ndarray | None,
    n_group: int,
    reviews: Sequence[Review],
    *,
    top_k: int,
    n_examples: int,
    min_reviews: int,
    min_share: float,
    rng: np.random.Generator,
    resamples: int,
) -> tuple[int, tuple[Driver, ...], tuple[Driver, ...]]:
    """(support needed, lowering, raising) for the reviews where `member` is True (all when None)."""
    need = support_needed(n_group, min_reviews, min_share)
    z = 1.959963984540054
    candidates: list[tuple[str, np.ndarray, np.ndarray, float, float]] = []  # phrase, owners, values, mean, se
    for phrase, owners_raw in table.owners.items():
        if len(owners_raw) < need:
            continue
        owners = np.frombuffer(owners_raw, dtype=np.int64)
        values = np.frombuffer(table.values[phrase], dtype=np.float64)
        if member is not None:
            keep = member[owners]
            if int(keep.sum()) < need:
                continue
            owners, values = owners[keep], values[keep]
        mean = float(values.mean())
        se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
        candidates.append((phrase, owners, values, mean, se))
    lowering = _top(candidates, -1, top_k, n_examples, reviews, rng, resamples, z)
    raising = _top(candidates, +1, top_k, n_examples, reviews, rng, resamples, z)
    return need, lowering, raising


def _top(candidates, sign: int, top_k: int, n_examples: int, reviews, rng, resamples: int, z: float):
    """The top_k phrases in one direction, by the bootstrap interval's end nearest zero."""
    side = [c for c in candidates if sign * c[3] > 0]
    # pre-select with the normal approximation (cheap), then bootstrap the few that can rank
    side.sort(key=lambda c: (-(sign * c[3] - z * c[4]), c[0]))
    drivers = []
    for phrase, owners, values, mean, _ in side[: 3 * top_k + 10]:
        low, high = _bootstrap(values, rng, resamples)
        order = np.argsort(sign * -values, kind="stable")[:n_examples]
        examples = tuple(Example(int(owners[i]), reviews[int(owners[i])].text, float(values[i])) for i in order)
        drivers.append(Driver(phrase, mean, len(values), (low, high), examples))
    drivers.sort(key=lambda d: (-(sign * (d.ci[0] if sign > 0 else d.ci[1])), -sign * d.effect, d.phrase))
    return tuple(drivers[:top_k])


def _bootstrap(values: np.ndarray, rng: np.random.Generator, resamples: int) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (resampling reviews), in chunks so memory stays small."""
    n, means = len(values), []
    chunk = max(1, 2_000_000 // max(n, 1))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        means.append(values[rng.integers(0, n, size=(size, n))].mean(axis=1))
    alpha = (1 - CONFIDENCE) / 2
    low, high = np.quantile(np.concatenate(means), [alpha, 1 - alpha])
    return float(low), float(high)


class _Surprises:
    """The k reviews with the largest |given - expected|, kept in a bounded heap."""

    def __init__(self, k: int):
        self.k, self.heap = k, []

    def add(self, index: int, given: int, expected: float, predicted: str, phrases: dict[str, float]) -> None:
        item = (abs(given - expected), -index, given, expected, predicted)
        if len(self.heap) < self.k:
            heapq.heappush(self.heap, (*item, _strongest(phrases)))
        elif item[:2] > self.heap[0][:2]:
            heapq.heapreplace(self.heap, (*item, _strongest(phrases)))

    def reviews(self, reviews: Sequence[Review]) -> tuple[SurprisingReview, ...]:
        ordered = sorted(self.heap, key=lambda h: (-h[0], -h[1]))
        return tuple(SurprisingReview(-h[1], reviews[-h[1]].text, h[2], h[3], h[4], h[5]) for h in ordered)


def _strongest(phrases: dict[str, float], k: int = 4) -> tuple[tuple[str, float], ...]:
    """A review's k single words with the largest |effect| (its own drivers)."""
    words = [(p, s) for p, s in phrases.items() if " " not in p]
    words.sort(key=lambda ps: (-abs(ps[1]), ps[0]))
    return tuple(words[:k])


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
    n = len(reviews)
    table = _PhraseTable()
    predicted = np.full(n, -1, dtype=np.int16)
    given = np.full(n, -1, dtype=np.int16)
    star_to_label = {s: i for i, s in enumerate(label_stars(labels)) if s is not None}
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    expected_sum = np.zeros(len(labels))
    surprises = _Surprises(n_surprising)
    errors: list[float] = []
    method = question = unit = None
    failed = whole = unmapped = 0
    seen = 0
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
        phrases = review_phrases(exp.words, exp.word_scores)
        table.add(index, phrases)
        label = int(np.argmax(exp.probabilities))
        predicted[index] = label
        if review.stars is not None:
            rating = float(exp.expected_rating)
            g = star_to_label.get(review.stars)
            if g is None:
                unmapped += 1
            else:
                given[index] = g
                counts[g, label] += 1
                expected_sum[g] += rating
            errors.append(abs(review.stars - rating))
            surprises.add(index, review.stars, rating, labels[label], phrases)
    if seen != n:
        raise ValueError(f"{n} reviews but {seen} explanations")
    explained = n - failed
    if explained == 0:
        raise UserError("no review could be explained, so there are no drivers (see the failures above)")
    rng = np.random.default_rng(seed)
    options = dict(
        top_k=top_k, n_examples=n_examples, min_reviews=min_reviews, min_share=min_share, rng=rng, resamples=resamples
    )
    need, low, high = _rank(table, predicted >= 0, explained, reviews, **options)
    overall = DriverGroup("all reviews", explained, need, low, high)

    def groups(levels: np.ndarray, word: str) -> tuple[DriverGroup, ...]:
        out = []
        for label in range(len(labels)):
            member = levels == label
            size = int(member.sum())
            if size:
                need, low, high = _rank(table, member, size, reviews, **options)
                out.append(DriverGroup(f"{word} {labels[label]}", size, need, low, high))
        return tuple(out)

    has_stars = any(r.stars is not None for r in reviews)
    gvp = None
    if has_stars:
        per_given = counts.sum(axis=1)
        gvp = GivenVsPredicted(
            labels,
            tuple(tuple(int(c) for c in row) for row in counts),
            tuple(float(expected_sum[g] / per_given[g]) if per_given[g] else None for g in range(len(labels))),
            float(np.mean(errors)) if errors else None,
            unmapped,
        )
    return Drivers(
        method=str(method),
        question=str(question),
        unit=str(unit or ""),
        n_reviews=explained,
        min_reviews=min_reviews,
        min_share=min_share,
        overall=overall,
        by_predicted=groups(predicted, "predicted"),
        by_given=groups(given, "given") if has_stars else (),
        given_vs_predicted=gvp,
        surprising=surprises.reviews(reviews),
        failed=failed,
        whole_sentences=whole,
        resamples=resamples,
    )


# ---------------------------------------------------------------------------- from a corpus run
def default_method(classifier: Classifier) -> str:
    """`amortized` when its head for this model exists (fitted by `explain amortize`), else occlusion."""
    from explain.methods import method_names

    try:
        method_names("amortized")
    except UserError:  # not registered (yet)
        return FALLBACK_METHOD
    try:
        from explain.amortize import has_head
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("explain.amortize"):
            return FALLBACK_METHOD
        raise
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
    texts = [r.text for r in reviews]
    stats = run_corpus(
        classifier,
        texts,
        [name],
        store,
        params={name: dict(params or {})},
        engine=engine,
        address=address,
        actors=actors,
        batch_size=batch_size,
        progress=progress,
    )
    spec = method_specs([name], {name: dict(params or {})})[0]
    stream = stream_explanations(store, classifier, texts, spec)
    drivers = compute_drivers(reviews, stream, classifier.labels, **options)
    return DriversRun(drivers, stats.computed, stats.cached, list(stats.failed), stats.seconds)


def stream_explanations(
    store: ExplanationStore, classifier: Classifier, texts: Sequence[str], spec, batch: int = STREAM_BATCH
) -> Iterator[Explanation | None]:
    """Each text's stored explanation (None when missing), read `batch` texts at a time."""
    fp = fingerprint(classifier)
    for start in range(0, len(texts), batch):
        chunk = [store.get(store_key(fp, spec, t, classifier)) for t in texts[start : start + batch]]
        yield from chunk
        del chunk
