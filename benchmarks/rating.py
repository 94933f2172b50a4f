"""Does explaining the expected rating make methods agree, and agree with people? (issue 11's targets)

Part 1 — VADER movie-review snippets of 8-25 words (not used to train the default model), a seeded
sample: Spearman between occlusion and SHAP (max_evals 300) word scores, on the rating and on the
predicted class.
Part 2 — the default model's held-out Amazon reviews: mean pairwise Spearman among occlusion, shap,
lime and ig word scores, rating vs predicted class; plausibility (Spearman of sentence sums with
VADER's human sentence ratings) on the rating; SHAP additivity and IG completeness in stars.
Part 3 — the same reviews with occlusion and lime removing whole sentences (`units="sentence"`): the
plausibility of asking "which sentence cost stars?" directly.
Per-label methods (occlusion, shap, lime) are run once per text and read for both questions
(`Explanation.for_target`), exactly as a second run would give them.

    .venv/bin/python benchmarks/rating.py [--snippets 40] [--reviews 74] [--shap-evals 300]

Results (one JSON line per text, so a re-run resumes) go to benchmarks/results/rating.jsonl and the
summary to benchmarks/results/rating.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import random
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
PAIR = ("occlusion", "shap")
FOUR = ("occlusion", "shap", "lime", "ig")
BY_SENTENCE = ("occlusion", "lime")  # the perturbation methods that can remove whole sentences


def spearman(a, b) -> float:
    from explain.metrics.agreement import score_agreement

    return score_agreement(np.asarray(a), np.asarray(b), "spearman")


def mean_pairwise(explanations: dict[str, object]) -> float:
    """Mean Spearman of the word scores over every pair of FOUR's explanations of one text, for one question."""
    pairs = itertools.combinations(FOUR, 2)
    return float(np.nanmean([spearman(explanations[a].word_scores, explanations[b].word_scores) for a, b in pairs]))


def run_methods(clf, text: str, names, params, **common) -> dict[str, dict[str, object]]:
    """Each method's explanation for the rating and for the predicted class (`common`: parameters for all)."""
    from explain import Target, explain

    predicted = Target.of_label(int(clf.predict_proba([text])[0].argmax()))
    rating = clf.target("rating")
    out: dict[str, dict[str, object]] = {"rating": {}, "class": {}}
    for name in names:
        exp = explain(clf, text, method=name, target=rating, **params.get(name, {}), **common)
        out["rating"][name] = exp
        if exp.label_token_scores is not None:
            out["class"][name] = exp.for_target(predicted)
        else:
            out["class"][name] = explain(clf, text, method=name, target=predicted, **params.get(name, {}))
    return out


def load_done(path: Path) -> dict[str, dict]:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                done[record["key"]] = record
    return done


def main() -> None:
    from explain import load_classifier
    from explain.default_model import heldout_reviews, heldout_sentences
    from explain.metrics.plausibility import plausibility

    parser = argparse.ArgumentParser()
    parser.add_argument("--snippets", type=int, default=40)
    parser.add_argument("--reviews", type=int, default=74)
    parser.add_argument("--shap-evals", type=int, default=300)
    parser.add_argument("--lime-samples", type=int, default=300)
    parser.add_argument("--max-words", type=int, default=0, help="only held-out reviews of at most this many words")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    log_path = RESULTS / "rating.jsonl"
    done = load_done(log_path)
    resumed = len(done)
    clf = load_classifier()
    params = {"shap": {"max_evals": args.shap_evals}, "lime": {"num_samples": args.lime_samples}}
    started = time.perf_counter()

    snippets = [s.text for s in heldout_sentences(("movies",)) if 8 <= len(s.text.split()) <= 25]
    sample = random.Random(7).sample(snippets, args.snippets)
    with log_path.open("a") as log:
        for i, text in enumerate(sample):
            key = f"snippet|{args.shap_evals}|{text}"
            if key not in done:
                runs = run_methods(clf, text, PAIR, params)
                done[key] = {"key": key, "kind": "snippet"} | {
                    q: spearman(runs[q]["occlusion"].word_scores, runs[q]["shap"].word_scores) for q in runs
                }
                log.write(json.dumps(done[key]) + "\n")
                log.flush()
            print(f"snippet {i + 1}/{len(sample)}", flush=True)
        reviews = [r for r in heldout_reviews() if not args.max_words or len(r.text.split()) <= args.max_words]
        reviews = reviews[: args.reviews]
        for i, review in enumerate(reviews):
            key = f"review|{args.shap_evals}|{args.lime_samples}|{review.review_id}"
            if key not in done:
                runs = run_methods(clf, review.text, FOUR, params)
                record = {"key": key, "kind": "review"}
                for q in runs:
                    record[q] = mean_pairwise(runs[q])
                    record[f"plausibility_{q}"] = {
                        m: plausibility(clf, runs[q][m], review.sentences, review.ratings) for m in FOUR
                    }
                record["shap_additivity_error"] = runs["rating"]["shap"].diagnostics["additivity_error"]
                record["ig_delta_stars"] = abs(runs["rating"]["ig"].diagnostics["delta"])
                done[key] = record
                log.write(json.dumps(record) + "\n")
                log.flush()
            key = f"sentences|{args.lime_samples}|{review.review_id}"
            if key not in done:
                runs = run_methods(clf, review.text, BY_SENTENCE, params, units="sentence")
                done[key] = {"key": key, "kind": "sentences"} | {
                    f"plausibility_{q}": {
                        m: plausibility(clf, runs[q][m], review.sentences, review.ratings) for m in BY_SENTENCE
                    }
                    for q in runs
                }
                log.write(json.dumps(done[key]) + "\n")
                log.flush()
            print(f"review {i + 1}/{len(reviews)}", flush=True)

    snip = [done[f"snippet|{args.shap_evals}|{t}"] for t in sample]
    revs = [done[f"review|{args.shap_evals}|{args.lime_samples}|{r.review_id}"] for r in reviews]
    by_sentence = [done[f"sentences|{args.lime_samples}|{r.review_id}"] for r in reviews]

    predicted = clf.predict_proba([r.text for r in reviews]).argmax(1) if reviews else []
    extreme = {0, len(clf.labels) - 1}  # 1 or 5 stars: P(class) already moves one way with sentiment

    def agreement_where(keep):
        rows = [r for r, p in zip(revs, predicted, strict=True) if keep(int(p))]
        means = {q: float(np.nanmean([r[q] for r in rows])) if rows else None for q in ("rating", "class")}
        return {"n": len(rows)} | means

    def sentences_alone(review) -> float:
        """Spearman of the model's rating of each sentence read alone with the human ratings (a reference)."""
        if len(review.sentences) < 3:
            return float("nan")
        return spearman(clf.expected_rating(list(review.sentences)), np.asarray(review.ratings, dtype=float))

    def mean_plausibility(records, methods):
        return {
            q: {m: float(np.nanmean([r[f"plausibility_{q}"][m] for r in records])) for m in methods}
            for q in ("rating", "class")
        }

    def share_negative(values):
        values = [v for v in values if v == v]
        return float(np.mean([v < 0 for v in values])) if values else float("nan")

    summary = {
        "machine": f"{platform.machine()} {platform.processor()} {__import__('os').cpu_count()} cores",
        "load_average_at_end": __import__("os").getloadavg(),
        "seconds_this_run": round(time.perf_counter() - started, 1),  # a resumed run reads most records back
        "records_computed_this_run": len(done) - resumed,
        "snippets": {
            "n": len(snip),
            "occlusion_vs_shap_spearman": {q: float(np.nanmean([r[q] for r in snip])) for q in ("rating", "class")},
            "negative_share": {q: share_negative([r[q] for r in snip]) for q in ("rating", "class")},
        },
        "reviews": {
            "n": len(revs),
            "mean_pairwise_spearman_occlusion_shap_lime_ig": {
                q: float(np.nanmean([r[q] for r in revs])) for q in ("rating", "class")
            },
            "mean_pairwise_by_predicted_class": {
                "extreme (lowest or highest label)": agreement_where(lambda p: p in extreme),
                "middle": agreement_where(lambda p: p not in extreme),
            },
            "plausibility": mean_plausibility(revs, FOUR),
            "plausibility_sentence_units": mean_plausibility(by_sentence, BY_SENTENCE),
            "plausibility_reference_sentences_alone": float(np.nanmean([sentences_alone(r) for r in reviews])),
            "shap_additivity_error_max": float(max(r["shap_additivity_error"] for r in revs)) if revs else None,
            "ig_delta_stars_max": float(max(r["ig_delta_stars"] for r in revs)) if revs else None,
            "ig_delta_stars_median": float(np.median([r["ig_delta_stars"] for r in revs])) if revs else None,
        },
        "config": {
            "shap.max_evals": args.shap_evals,
            "lime.num_samples": args.lime_samples,
            "ig.n_steps": 50,
            "max_words": args.max_words,
        },
    }
    (RESULTS / "rating.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
