"""`explain train`'s recipe on VADER's movie-review snippets vs a majority and a TF-IDF baseline.

    .venv/bin/python benchmarks/training.py [--runs stars-1000,sentiment-300] [--max-minutes M]

VADER's 10,605 human-rated movie-review sentences (not used by the default model), mapped to 1-5
stars with the default model's cut-offs (`explain.data.stars_from_rating`), or to 3 labels
(negative = 1-2 stars, neutral = 3, positive = 4-5). A seeded random sample of `n` sentences is the
training set (the recipe holds out its own validation part), every other sentence is the test set.
The model, the majority class and class-balanced TF-IDF + logistic regression are trained on the
same sentences and scored on the same test set. Wall and process CPU seconds are reported with the
load average, since a busy machine stretches wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RUNS = {
    "stars-1000": ("stars", 1000),
    "sentiment-300": ("sentiment", 300),
}
SPLIT_SEED = 11


def movie_examples(scale: str):
    from explain.data import vader_sentences
    from explain.training import Example, LabelSet

    sentences = vader_sentences(("movies",))
    if scale == "stars":
        labels = LabelSet.stars()
        examples = [Example(s.text, s.stars - 1, s.group) for s in sentences]
    else:
        labels = LabelSet(("negative", "neutral", "positive"), (1.0, 2.0, 3.0))
        examples = [Example(s.text, (0, 0, 1, 2, 2)[s.stars - 1], s.group) for s in sentences]
    return labels, examples


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(name: str, scale: str, n_train: int, max_minutes: float | None) -> dict:
    import torch

    from explain.default_model import base_model_dir
    from explain.training import TrainingConfig, train_and_report

    labels, examples = movie_examples(scale)
    order = list(range(len(examples)))
    random.Random(SPLIT_SEED).shuffle(order)
    train = [examples[i] for i in order[:n_train]]
    test = [examples[i] for i in order[n_train:]]
    config = TrainingConfig(max_minutes=max_minutes)
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), cpu_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        metrics = train_and_report(base_model_dir(), train, test, labels, Path(tmp) / "model", config)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    t = metrics["training"]
    return {
        "run": name,
        "labels": list(labels.names),
        "n_train": len(train),
        "n_test": len(test),
        "split_seed": SPLIT_SEED,
        "recipe": {
            k: t[k]
            for k in (
                "max_epochs",
                "learning_rate",
                "batch_size",
                "class_weighting",
                "validation_fraction",
                "patience",
                "select_on",
                "seed",
                "max_minutes",
            )
        },
        "epochs_run": t["epochs_run"],
        "best_epoch": t["best_epoch"],
        "stopped": t["stopped"],
        "max_length": t["max_length_used"],
        "history": t["history"],
        "train_seconds": t["train_seconds"],
        "train_cpu_seconds": t.get("train_cpu_seconds"),
        "total_wall_seconds": round(wall, 1),
        "total_cpu_seconds": round(cpu, 1),
        "torch_threads": torch.get_num_threads(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "heldout": metrics["heldout"],
        "warnings": metrics["warnings"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=",".join(RUNS), help=f"comma-separated subset of {','.join(RUNS)}")
    parser.add_argument("--max-minutes", type=float, default=None, help="training budget per run")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's, one per core)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "training.json")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    for name in [r.strip() for r in args.runs.split(",") if r.strip()]:
        scale, n = RUNS[name]
        r = run(name, scale, n, args.max_minutes)
        results[name] = r
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
        h = r["heldout"]
        print(
            f"\n{name}: {r['n_train']} training sentences, {r['n_test']} test; {r['epochs_run']} epochs "
            f"(best {r['best_epoch']}, {r['stopped']}); training {r['train_seconds']} s wall, whole run "
            f"{r['total_wall_seconds']} s wall / {r['total_cpu_seconds']} s CPU, load {r['loadavg_before']} -> "
            f"{r['loadavg_after']}"
        )
        print(f"  {'':24} {'accuracy':>8} {'macro-F1':>8} {'MAE':>6}  top class share")
        for key in ("model", "majority", "tfidf_logreg"):
            m = h[key]
            print(
                f"  {key:24} {m['accuracy']:8.3f} {m['macro_f1']:8.3f} {m['mae']:6.3f}  {m['top_predicted_share']:.2f}"
            )
        for w in r["warnings"]:
            print(f"  warning: {w}")


if __name__ == "__main__":
    main()
