"""Leave one corpus out: is the default model's recipe ahead of VADER's lexicon on a domain it never saw? (issue 25)

    flock /tmp/heavy.lock .venv/bin/python benchmarks/loco.py [--corpora amazon,tweets,movies,nyt]

For each VADER corpus in turn, the default model's recipe (`explain.default_model.build_default_model`, same
examples, caps and config) is built on the other three corpora only, into the cache folder
(`models/<MODEL_VERSION>-without-<corpus>`, reused by a re-run and by `benchmarks/train_start.py --start-model`),
and scored on every sentence of the corpus it left out that people did not rate neutral (human mean above or
below 0): is the expected rating on the same side of 3 stars? Beside it: VADER's own lexicon-and-rules scorer
from the same sdist (`vaderSentiment` 3.3.2's compound score above or below 0; a compound of exactly 0, no
sentiment word found, counts as a miss and is counted), and the full default model (trained on all four
corpora) on the left-out corpus's held-out split, for scale. Also Pearson and MAE of the expected rating
against the human mean mapped linearly onto 1-5. Results: benchmarks/results/loco.json, with `uptime`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from explain.atomic import write_atomic
from explain.training.scores import STAR_VALUES, linear_stars

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).parent / "results" / "loco.json"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def loco_dir(corpus: str) -> Path:
    from explain.default_model import MODEL_VERSION
    from explain.paths import cache_dir

    return cache_dir() / "models" / f"{MODEL_VERSION}-without-{corpus}"


def polar_scores(expected: np.ndarray, ratings: np.ndarray) -> dict:
    linear = linear_stars(ratings)
    polar = ratings != 0
    return {
        "polar_accuracy": float(np.mean((expected[polar] > 3) == (ratings[polar] > 0))),
        "pearson_linear": float(np.corrcoef(expected, linear)[0, 1]),
        "mae_linear": float(np.mean(np.abs(expected - linear))),
    }


def main() -> None:
    from explain.classifier import Classifier
    from explain.data import vader_compound, vader_sentences
    from explain.default_model import TRAIN_CORPORA, build_default_model, default_model_dir, heldout_sentences

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", default=",".join(TRAIN_CORPORA))
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {"cpus": os.cpu_count()}
    full = Classifier.from_pretrained(default_model_dir())
    for corpus in args.corpora.split(","):
        record: dict = {"uptime_before": uptime()}
        folder = loco_dir(corpus)
        if not (folder / "config.json").exists():
            started = time.perf_counter()
            build_default_model(folder, corpora=tuple(c for c in TRAIN_CORPORA if c != corpus))
            record["build_seconds"] = round(time.perf_counter() - started, 1)
        sentences = vader_sentences((corpus,))
        texts, ratings = [s.text for s in sentences], np.array([s.rating for s in sentences])
        record["n_sentences"] = len(texts)
        record["n_polar"] = int(np.sum(ratings != 0))
        expected = Classifier.from_pretrained(folder).predict_proba(texts) @ STAR_VALUES
        record["left_out_model"] = polar_scores(expected, ratings)
        compound = np.array(vader_compound(texts))
        polar = ratings != 0
        scored = polar & (compound != 0)  # where the lexicon finds a sentiment word: the fairer pair
        record["vader_lexicon"] = {
            "polar_accuracy": float(np.mean((compound[polar] > 0) == (ratings[polar] > 0))),
            "compound_zero": int(np.sum(compound[polar] == 0)),
            "pearson_linear": float(np.corrcoef(compound, linear_stars(ratings))[0, 1]),
        }
        record["where_the_lexicon_scores"] = {
            "n": int(scored.sum()),
            "vader_lexicon": float(np.mean((compound[scored] > 0) == (ratings[scored] > 0))),
            "left_out_model": float(np.mean((expected[scored] > 3) == (ratings[scored] > 0))),
        }
        held = heldout_sentences((corpus,))
        held_expected = full.predict_proba([s.text for s in held]) @ STAR_VALUES
        record["full_model_heldout_split"] = polar_scores(held_expected, np.array([s.rating for s in held]))
        ours, lexicon = record["left_out_model"]["polar_accuracy"], record["vader_lexicon"]["polar_accuracy"]
        record["ahead_of_vader"] = ours > lexicon
        record["uptime_after"] = uptime()
        results[corpus] = record
        print(
            f"{corpus:7} without it: polar acc {record['left_out_model']['polar_accuracy']:.3f} "
            f"(VADER lexicon {record['vader_lexicon']['polar_accuracy']:.3f}; full model on its held-out split "
            f"{record['full_model_heldout_split']['polar_accuracy']:.3f}), Pearson "
            f"{record['left_out_model']['pearson_linear']:.3f} vs {record['vader_lexicon']['pearson_linear']:.3f}",
            flush=True,
        )
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(RESULTS, json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
