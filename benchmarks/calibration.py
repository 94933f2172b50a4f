"""Calibration of the default model: its expected rating against the human mean (issue 25, item 3; measurement only).

    .venv/bin/python benchmarks/calibration.py

On the default model's held-out split (grouped by review id, `explain.default_model.heldout_sentences`): the
held-out sentences (Amazon and tweets, each rated by about 20 people) and the held-out whole Amazon reviews
(`heldout_reviews`: a review's sentences joined, as benchmarks/rating.py assembles them). The human rating of
a sentence is its mean on -4..+4; of a review, the mean of its sentences' means. It is compared with the
model's expected rating (sum of star x probability) two ways:

- `stars`: the human mean mapped to 1-5 stars by the default model's cut-offs (`explain.data.stars_from_rating`,
  the labels it was trained on): Pearson, MAE, accuracy of the most likely label, and how often each star
  level is predicted (most likely label) against how often it is given;
- `linear`: the human mean mapped linearly onto the star scale (1 + (mean + 4) / 2): Pearson (the same as
  against the raw mean) and MAE.

The reliability plot (docs/images/calibration.png) bins the expected rating in half stars and plots each
bin's mean human rating (linear stars) for sentences and reviews, and the most likely label's probability
against how often it is right (sentences). Results: benchmarks/results/calibration.json, with `uptime`.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from explain.atomic import write_atomic

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).parent / "results" / "calibration.json"
PLOT = Path(__file__).parents[1] / "docs" / "images" / "calibration.png"
TARGETS = {"reviews_pearson": 0.92, "reviews_accuracy": 0.65, "most_over_predicted_ratio": 1.5}


def binned(x, y, lo=1.0, hi=5.0, width=0.5):
    """(bin centre, mean y, count) of x in bins of `width` from `lo` to `hi`."""
    edges = np.arange(lo, hi + width, width)
    which = np.clip(np.digitize(x, edges) - 1, 0, len(edges) - 2)
    out = []
    for b in range(len(edges) - 1):
        sel = which == b
        if sel.any():
            out.append((float(edges[b] + width / 2), float(np.mean(np.asarray(y)[sel])), int(sel.sum())))
    return out


def plot(sets: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.4), dpi=110)
    left.plot([1, 5], [1, 5], color="#999", lw=1, ls="--", label="perfect")
    for name, colour, marker in (("sentences", "#1f77b4", "o"), ("reviews", "#d62728", "s")):
        m = sets[name]
        points = binned(np.array(m["_expected"]), np.array(m["_linear"]))
        xs, ys, ns = zip(*points, strict=True)
        left.plot(xs, ys, marker=marker, color=colour, label=f"held-out {name} (n={m['n']})")
        for x, y, n in points:
            left.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7, color=colour)
    left.set(xlim=(1, 5), ylim=(1, 5), xlabel="model's expected rating (stars; half-star bins)",
             ylabel="mean human rating in the bin (1 + (mean + 4) / 2)", title="Expected rating vs people")  # fmt: skip
    left.legend(loc="upper left", fontsize=8)
    m = sets["sentences"]
    conf, correct = np.array(m["_confidence"]), np.array(m["_correct"])
    points = binned(conf, correct, lo=0.2, hi=1.0, width=0.1)
    xs, ys, _ = zip(*points, strict=True)
    right.plot([0.2, 1], [0.2, 1], color="#999", lw=1, ls="--", label="perfect")
    right.plot(xs, ys, marker="o", color="#1f77b4", label=f"held-out sentences (ECE {m['ece_top_label']:.3f})")
    r = sets["reviews"]
    points = binned(np.array(r["_confidence"]), np.array(r["_correct"]), lo=0.2, hi=1.0, width=0.1)
    xs, ys, _ = zip(*points, strict=True)
    right.plot(xs, ys, marker="s", color="#d62728", label=f"held-out reviews (ECE {r['ece_top_label']:.3f})")
    right.set(xlim=(0.2, 1), ylim=(0, 1), xlabel="probability of the most likely star label",
              ylabel="how often that label is the human stars", title="Most likely label")  # fmt: skip
    right.legend(loc="upper left", fontsize=8)
    fig.suptitle("Default model calibration on its held-out split (benchmarks/calibration.py)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    os.replace(tmp, path)


def main() -> None:
    import torch

    from explain import load_classifier
    from explain.default_model import MODEL_VERSION, TRAIN_CORPORA, heldout_reviews, heldout_sentences
    from explain.training.scores import calibration

    up_before = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    started, cpu = time.perf_counter(), time.process_time()
    clf = load_classifier()
    heldout = heldout_sentences()
    probs = clf.predict_proba([s.text for s in heldout])
    sets = {}
    for name, corpora in (("sentences", TRAIN_CORPORA), *((f"sentences_{c}", (c,)) for c in TRAIN_CORPORA)):
        sel = np.array([s.corpus in corpora for s in heldout])
        sets[name] = calibration(probs[sel], np.array([s.rating for s in heldout])[sel])
    reviews = heldout_reviews()
    sets["reviews"] = calibration(
        clf.predict_proba([r.text for r in reviews]), np.array([float(np.mean(r.ratings)) for r in reviews])
    )
    plot(sets, PLOT)
    r = sets["reviews"]
    results = {
        "model": MODEL_VERSION,
        "targets": TARGETS,
        "met": {
            "reviews_pearson": r["linear"]["pearson"] >= TARGETS["reviews_pearson"],
            "reviews_accuracy": r["stars"]["accuracy"] >= TARGETS["reviews_accuracy"],
            "most_over_predicted_ratio": r["most_over_predicted_ratio"] <= TARGETS["most_over_predicted_ratio"]
            and not r["star_never_given_but_predicted"],
        },
        "sets": {k: {f: v for f, v in m.items() if not f.startswith("_")} for k, m in sets.items()},
        "plot": str(PLOT.relative_to(Path(__file__).parents[1])),
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "torch_threads": torch.get_num_threads(),
        "uptime_before": up_before,
        "uptime_after": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(RESULTS, json.dumps(results, indent=2))
    print(f"{MODEL_VERSION}: {results['seconds']} s, {results['uptime_after']}")
    print(f"  {'':18} {'n':>5} {'Pearson':>8} {'(stars)':>8} {'MAE':>6} {'(stars)':>8} {'acc':>6}  pred/given per star")
    for name, m in results["sets"].items():
        counts = " ".join(f"{p}/{g}" for p, g in zip(m["predicted_per_star"], m["given_per_star"], strict=True))
        print(
            f"  {name:18} {m['n']:5d} {m['linear']['pearson']:8.3f} {m['stars']['pearson']:8.3f} "
            f"{m['linear']['mae']:6.3f} {m['stars']['mae']:8.3f} {m['stars']['accuracy']:6.3f}  {counts}"
        )
    print(f"  targets met: {results['met']}")


if __name__ == "__main__":
    main()
