"""Is the rating's small agreement gain on whole reviews a budget effect? (issue 11)

The first held-out reviews of at most 120 words are explained with shap and lime at a larger budget
(default 2,000 evaluations / samples) and compared with `rating.py`'s records at 300: the mean pairwise
Spearman among occlusion, shap, lime and ig, on the rating and on the predicted class, split by whether
the model predicts an extreme label (1 or 5 stars) or a middle one.

    .venv/bin/python benchmarks/rating_budget.py [--n 20] [--budget 2000]

Needs `rating.py` run first (its 300-budget records). One JSON line per review in
results/rating-budget.jsonl (a re-run resumes); the summary in results/rating-budget.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from rating import FOUR, RESULTS, load_done, mean_pairwise, run_methods

MAX_WORDS = 120


def main() -> None:
    from explain import load_classifier
    from explain.default_model import heldout_reviews

    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--budget", type=int, default=2000)
    args = parser.parse_args()
    clf = load_classifier()
    reviews = [r for r in heldout_reviews() if len(r.text.split()) <= MAX_WORDS][: args.n]
    predicted = clf.predict_proba([r.text for r in reviews]).argmax(1)
    extreme = {0, len(clf.labels) - 1}
    params = {"shap": {"max_evals": args.budget}, "lime": {"num_samples": args.budget}}
    log_path = RESULTS / "rating-budget.jsonl"
    done, at_300 = load_done(log_path), load_done(RESULTS / "rating.jsonl")
    started = time.perf_counter()
    rows = []
    with log_path.open("a") as log:
        for i, (review, label) in enumerate(zip(reviews, predicted, strict=True)):
            key = f"budget|{args.budget}|{review.review_id}"
            if key not in done:
                runs = run_methods(clf, review.text, FOUR, params)
                done[key] = {"key": key} | {q: mean_pairwise(runs[q]) for q in runs}
                log.write(json.dumps(done[key]) + "\n")
                log.flush()
            low = at_300[f"review|300|300|{review.review_id}"]
            rows.append({"extreme": int(label) in extreme, "300": low, str(args.budget): done[key]})
            print(f"review {i + 1}/{len(reviews)}", flush=True)

    def means(group):
        return {"n": len(group)} | {
            f"{q} at {b}": float(np.nanmean([r[b][q] for r in group]))
            for b in ("300", str(args.budget))
            for q in ("rating", "class")
        }

    summary = {
        "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "seconds_this_run": round(time.perf_counter() - started, 1),
        "reviews": f"the first {len(reviews)} held-out reviews of at most {MAX_WORDS} words",
        "mean_pairwise_spearman_occlusion_shap_lime_ig": {
            "all": means(rows),
            "predicted 1 or 5 stars": means([r for r in rows if r["extreme"]]),
            "predicted 2-4 stars": means([r for r in rows if not r["extreme"]]),
        },
        "config": {"shap.max_evals": args.budget, "lime.num_samples": args.budget, "ig.n_steps": 50},
    }
    (RESULTS / "rating-budget.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
