"""`explain train` from the default star model vs from MiniLM-L6, beside TF-IDF + logistic regression (issue 25).

    .venv/bin/python benchmarks/train_start.py [--corpus movies] [--labels stars] [--runs minilm,star,...] \
        [--start-model ~/.cache/review-explainer/models/minilm-l6-vader-stars-v3-without-movies]

The data is a VADER corpus the starting star model never saw: the second default model (v2) was trained on
Amazon sentences and tweets only; the third (v3) saw all four corpora, so its runs start from its
leave-one-corpus-out build (`--start-model`, made by benchmarks/loco.py) for the corpus asked:
`movies` (10,605 one-sentence movie-review snippets) or `nyt` (NYT editorial snippets joined into texts of 3
consecutive sentences of the same article, their rating the mean of the sentences' human means; split by
article). A seeded sample of 600 texts is the training set (the recipe holds out its own validation part);
a fixed seeded set of other texts is the held-out set. Labels: 1-5 stars by the default model's cut-offs
(`explain.data.stars_from_rating`) or `sentiment` (negative / neutral / positive, values -1, 0, 1: the star
head is re-mapped to three rows).

Per run (the start and the recipe): held-out macro-F1, accuracy, MAE, polar accuracy (texts whose human mean
is above or below the neutral point 0: is the expected rating on the same side of the scale's middle?), wall
and process CPU seconds of training and of the whole run, and `uptime` before and after (the machine is
shared). The zero-shot row is the default star model with its head re-mapped and no training. TF-IDF +
logistic regression and the majority class are trained on the same 600 texts.
Results: benchmarks/results/train-start.json (one entry per corpus/labels/run, re-runs replace their entry).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).parent / "results" / "train-start.json"
N_TRAIN = 600
N_TEST = 1500
SPLIT_SEED = 25
NYT_SENTENCES_PER_TEXT = 3
# name -> (start, TrainingConfig overrides). "zero-shot" trains nothing.
RUNS = {
    "zero-shot": ("default", None),
    "minilm": ("minilm", {}),
    "star": ("default", {}),
    "star-freeze3": ("default", {"freeze_layers": 3}),
    "star-lr5e-5": ("default", {"learning_rate": 5e-5}),
    "star-10ep": ("default", {"max_epochs": 10}),
}


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def corpus_texts(corpus: str) -> list[tuple[str, float, str]]:
    """(text, human mean rating on -4..4, group) of a VADER corpus; nyt: 3 consecutive sentences per text."""
    from explain.data import vader_sentences

    sentences = vader_sentences((corpus,))
    if corpus != "nyt":
        return [(s.text, s.rating, s.group) for s in sentences]
    by_article = defaultdict(list)
    for s in sentences:
        by_article[s.group].append(s)
    texts = []
    for group, items in by_article.items():
        items.sort(key=lambda s: s.position)
        for i in range(0, len(items) - NYT_SENTENCES_PER_TEXT + 1, NYT_SENTENCES_PER_TEXT):
            chunk = items[i : i + NYT_SENTENCES_PER_TEXT]
            texts.append((" ".join(s.text for s in chunk), float(np.mean([s.rating for s in chunk])), group))
    return texts


def split(corpus: str, labels_kind: str, n_train: int = N_TRAIN, n_test: int = N_TEST):
    """(labels, train, test, test ratings): N_TRAIN training texts and N_TEST held-out texts, no group in both."""
    from explain.data import stars_from_rating
    from explain.training import Example, LabelSet

    texts = corpus_texts(corpus)
    if labels_kind == "stars":
        labels = LabelSet.stars()

        def label(r: float) -> int:
            return stars_from_rating(r) - 1
    else:
        labels = LabelSet(("negative", "neutral", "positive"), (-1.0, 0.0, 1.0))

        def label(r: float) -> int:
            return (0, 0, 1, 2, 2)[stars_from_rating(r) - 1]

    groups = sorted({g for _, _, g in texts})
    random.Random(SPLIT_SEED).shuffle(groups)
    rank = {g: i for i, g in enumerate(groups)}
    ordered = sorted(texts, key=lambda t: (rank[t[2]], t[0]))
    train, test, test_groups = [], [], set()
    for text, rating, group in ordered:
        if len(train) < n_train or (train and group == train[-1].group):
            if len(train) < n_train:
                train.append(Example(text, label(rating), group))
            continue  # the rest of the last training group is in neither set
        if len(test) < n_test:
            test.append((Example(text, label(rating), group), rating))
            test_groups.add(group)
    assert not test_groups & {ex.group for ex in train}
    return labels, train, [ex for ex, _ in test], np.array([r for _, r in test])


def scores(probs: np.ndarray, test, ratings: np.ndarray, labels) -> dict:
    """evaluate_labels of the most likely label, plus polar accuracy from the expected rating and the label."""
    from explain.training import evaluate_labels

    values = np.asarray(labels.values)
    middle = (values[0] + values[-1]) / 2
    m = evaluate_labels(probs.argmax(1).tolist(), [ex.label for ex in test], labels)
    polar = ratings != 0
    side = np.sign(ratings[polar])
    expected = probs[polar] @ values
    predicted = values[probs[polar].argmax(1)]
    m["polar_n"] = int(polar.sum())
    m["polar_accuracy"] = float(np.mean(np.sign(expected - middle) == side))
    m["polar_accuracy_of_label"] = float(np.mean(np.sign(predicted - middle) == side))  # the middle label: wrong
    return {k: v for k, v in m.items() if k not in ("confusion_matrix",)} | {"confusion": m["confusion_matrix"]}


def predict(folder_or_model, tokenizer, texts) -> np.ndarray:
    from explain.classifier import Classifier

    clf = (
        Classifier(folder_or_model, tokenizer) if tokenizer is not None else Classifier.from_pretrained(folder_or_model)
    )
    return clf.predict_proba(texts)


def run(name: str, labels, train, test, ratings) -> dict:
    from explain.training import TrainingConfig, choose_start, fine_tune, load_start

    start_name, overrides = RUNS[name]
    start = choose_start(labels, start=start_name)
    load_before, up_before = os.getloadavg(), uptime()
    wall, cpu = time.perf_counter(), cpu_seconds()
    record: dict = {"run": name, "start": start.as_dict(), "uptime_before": up_before}
    texts = [ex.text for ex in test]
    if overrides is None:
        tok, model = load_start(start.checkpoint, labels, start.remap_head)
        probs = predict(model, tok, texts)
    else:
        config = TrainingConfig(**({"max_epochs": start.max_epochs} | overrides))
        with tempfile.TemporaryDirectory() as tmp:
            captured = {}

            def evaluate(folder: Path) -> dict:
                captured["probs"] = predict(folder, None, texts)
                return {}

            fine_tune(start, train, Path(tmp) / "model", config, progress=True, on_saved=evaluate, labels=labels)
            t = json.loads((Path(tmp) / "model" / "metrics.json").read_text())["training"]
        probs = captured["probs"]
        keep = ("max_epochs", "learning_rate", "batch_size", "freeze_layers", "patience", "class_weighting")
        record["recipe"] = {k: t[k] for k in keep}
        record |= {k: t[k] for k in ("epochs_run", "best_epoch", "stopped", "max_length_used", "history")}
        record |= {"train_seconds": t["train_seconds"], "train_cpu_seconds": t["train_cpu_seconds"]}
    record |= {
        "total_wall_seconds": round(time.perf_counter() - wall, 1),
        "total_cpu_seconds": round(cpu_seconds() - cpu, 1),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "uptime_after": uptime(),
        "heldout": scores(probs, test, ratings, labels),
    }
    return record


def baselines(labels, train, test, ratings) -> dict:
    from explain.training import tfidf_probabilities

    started, cpu = time.perf_counter(), cpu_seconds()
    tfidf = tfidf_probabilities(train, test, 13, len(labels))
    seconds = round(time.perf_counter() - started, 1)
    majority = np.zeros((len(test), len(labels)))
    majority[:, np.bincount([ex.label for ex in train], minlength=len(labels)).argmax()] = 1.0
    return {
        "tfidf_logreg": scores(tfidf, test, ratings, labels) | {"seconds": seconds, "cpu_seconds": cpu_seconds() - cpu},
        "majority": scores(majority, test, ratings, labels),
    }


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", choices=("movies", "nyt"), default="movies")
    parser.add_argument("--labels", choices=("stars", "sentiment"), default="stars")
    parser.add_argument("--runs", default="zero-shot,minilm,star", help=f"comma-separated subset of {','.join(RUNS)}")
    parser.add_argument("--n-train", type=int, default=N_TRAIN)
    parser.add_argument("--n-test", type=int, default=N_TEST)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--start-model",
        type=Path,
        help="the star model the 'star' runs start from, instead of the default model (a leave-one-corpus-out "
        "build from benchmarks/loco.py, so that --corpus is a domain it never saw)",
    )
    args = parser.parse_args()
    key = f"{args.corpus}/{args.labels}"
    if args.start_model:
        from explain.default_model import MODEL_ENV

        os.environ[MODEL_ENV] = str(args.start_model)  # `choose_start` takes the default model from there
        key += f"/from-{args.start_model.name}"
    labels, train, test, ratings = split(args.corpus, args.labels, args.n_train, args.n_test)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    entry = results.get(key, {})
    entry |= {
        "corpus": args.corpus,
        "labels": list(labels.names),
        "n_train": len(train),
        "n_test": len(test),
        "split_seed": SPLIT_SEED,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "class_counts_train": np.bincount([ex.label for ex in train], minlength=len(labels)).tolist(),
        "class_counts_test": np.bincount([ex.label for ex in test], minlength=len(labels)).tolist(),
    }
    entry["baselines"] = baselines(labels, train, test, ratings)
    entry.setdefault("runs", {})
    for name in [r.strip() for r in args.runs.split(",") if r.strip()]:
        entry["runs"][name] = run(name, labels, train, test, ratings)
        results[key] = entry
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(results, indent=2))
        os.replace(tmp, args.out)
        r = entry["runs"][name]
        print(
            f"\n{key} {name}: {r['start']['kind']}; whole run {r['total_wall_seconds']} s wall, "
            f"{r['total_cpu_seconds']} s CPU; {r['uptime_after']}"
        )
        if "epochs_run" in r:
            print(
                f"  {r['epochs_run']} epochs (best {r['best_epoch']}, {r['stopped']}), max length "
                f"{r['max_length_used']}, training {r['train_seconds']} s wall / {r['train_cpu_seconds']} s CPU"
            )
    print(f"\n{key}: {len(train)} training texts, {len(test)} held out")
    print(f"  {'':16} {'macro-F1':>8} {'accuracy':>8} {'MAE':>6} {'polar':>6} {'polar(label)':>12}")
    rows = {**{f"[{k}]": v for k, v in entry["baselines"].items()}, **entry["runs"]}
    for name, r in rows.items():
        m = r.get("heldout", r)
        print(
            f"  {name:16} {m['macro_f1']:8.3f} {m['accuracy']:8.3f} {m['mae']:6.3f} {m['polar_accuracy']:6.3f} "
            f"{m['polar_accuracy_of_label']:12.3f}"
        )


if __name__ == "__main__":
    main()
