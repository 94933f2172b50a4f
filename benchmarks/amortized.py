"""How faithful and how fast is the amortized method on text it was not fitted on? (issue 23's targets)

Reference: SHAP at a high budget (`--ref-evals`, default 2000), checked for convergence (shap's own
`exact` flag and `estimated_error`: the largest change of a score from half the budget, in stars).
Compared with it, per review, on the expected rating: the amortized head (the default model's, fitted by
`explain build-default` on training sentences), SHAP at its default budget (500), occlusion, a random
ranking and a TF-IDF ridge surrogate fitted to the model's own expected ratings on the head's training
sentences (the cheapest global baseline). Measures: Spearman with the reference, top-5 overlap (largest
|score|), sign agreement of the reference's top-3 words, and comprehensiveness on the rating
(`explain.metrics.faithfulness`, stars, AOPC over 1/5/10/20/50 % of the words).
Texts: VADER movie-review sentences of 8-25 words (a domain the default model was not trained on) and the
default model's held-out Amazon reviews, whole (40-130 words, so the reference stays affordable).
Timing: on held-out reviews of ~150 words (130-170), per review: `predict_proba([text])`, `explain(...,
"amortized")` (median of repeats) and SHAP at its default budget (one run each), in this one run.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/amortized.py [--sentences 20] [--reviews 6] [--timing 3]

SHAP results go through the explanation cache (a re-run recomputes nothing); the summary is written to
benchmarks/results/amortized.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
METHODS = ("amortized", "shap_default", "occlusion", "tfidf", "random")
TEACHERS = (  # candidate teachers for the training labels, measured on the sentences
    ("shap max_evals=32", "shap", {"max_evals": 32}),
    ("shap max_evals=64", "shap", {"max_evals": 64}),
    ("shap max_evals=128", "shap", {"max_evals": 128}),
    ("occlusion", "occlusion", {}),
)
TARGETS = {
    "speed_vs_predict_proba": "<= 1.5x",
    "speed_vs_shap_default": ">= 100x faster",
    "spearman_sentences": ">= 0.7",
    "spearman_reviews": ">= 0.6",
    "top3_sign_agreement": ">= 0.9",
    "comprehensiveness_vs_shap_default": ">= 0.8",
    "better_than_tfidf": "on each measure",
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def tfidf_surrogate(clf, texts: list[str]):
    """A ridge regression on TF-IDF features fitted to the model's expected ratings of `texts`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import Ridge

    vectorizer = TfidfVectorizer(lowercase=True)
    features = vectorizer.fit_transform(texts)
    ridge = Ridge(alpha=1.0).fit(features, clf.expected_rating(texts))
    return vectorizer, ridge


def tfidf_scores(vectorizer, ridge, text: str, words: tuple[str, ...]) -> np.ndarray:
    """Each word's share of the surrogate's prediction: coefficient x its tf-idf value, split over its occurrences."""
    row = vectorizer.transform([text])
    vocabulary = vectorizer.vocabulary_
    contribution = {i: ridge.coef_[i] * v for i, v in zip(row.indices, row.data, strict=True)}
    keys = [re.findall(r"(?u)\b\w\w+\b", w.lower()) for w in words]
    counts: dict[int, int] = {}
    for k in keys:
        for t in k:
            if t in vocabulary:
                counts[vocabulary[t]] = counts.get(vocabulary[t], 0) + 1
    return np.array(
        [sum(contribution.get(vocabulary[t], 0.0) / counts[vocabulary[t]] for t in k if t in vocabulary) for k in keys]
    )


@dataclass
class Bench:
    """What every measurement shares: the model, the cache, the reference budget, the surrogate."""

    clf: object
    store: object
    ref_evals: int
    surrogate: tuple
    rng: np.random.Generator


def reference_of(bench: Bench, text: str):
    from explain.store import cached_explain

    return cached_explain(bench.store, bench.clf, text, "shap", "rating", max_evals=bench.ref_evals)


def evaluate(bench: Bench, text: str) -> dict:
    """One text: the reference, its convergence, and every method's fidelity and comprehensiveness."""
    from explain.amortize import fidelity
    from explain.methods import explain
    from explain.metrics.faithfulness import comprehensiveness
    from explain.store import cached_explain

    clf, store = bench.clf, bench.store
    reference = reference_of(bench, text)
    half = cached_explain(store, clf, text, "shap", "rating", max_evals=bench.ref_evals // 2)
    scores = {
        "amortized": explain(clf, text, method="amortized", target=clf.target("rating")),
        "shap_default": cached_explain(store, clf, text, "shap", "rating"),
        "occlusion": cached_explain(store, clf, text, "occlusion", "rating"),
    }
    for name, values in (
        ("tfidf", tfidf_scores(*bench.surrogate, text, reference.words)),
        ("random", bench.rng.normal(size=len(reference.words))),
    ):
        scores[name] = replace(
            reference,
            method=name,
            word_scores=values,
            token_scores=np.zeros(len(reference.tokens)),
            label_token_scores=None,
            diagnostics={},
        )
    ref = reference.word_scores
    record = {
        "words": len(ref),
        "reference_exact": bool(reference.diagnostics.get("exact")),
        "reference_estimated_error": reference.diagnostics.get("estimated_error"),
        "reference_vs_half_budget_spearman": fidelity(half.word_scores, ref).spearman,
        "reference_comprehensiveness": comprehensiveness(clf, reference),
    }
    for name, exp in scores.items():
        f = fidelity(exp.word_scores, ref)
        record[name] = {
            "spearman": f.spearman,
            "top5_overlap": f.top5_overlap,
            "top3_sign_agreement": f.top3_sign_agreement,
            "comprehensiveness": comprehensiveness(clf, exp),
        }
    return record


def teacher_candidates(bench: Bench, text: str) -> dict:
    """Candidate training labels on one text: Spearman with the reference, and seconds per label."""
    from explain.amortize import fidelity
    from explain.methods import explain

    reference = reference_of(bench, text)
    row = {}
    for name, method, params in TEACHERS:
        t = time.perf_counter()
        candidate = explain(bench.clf, text, method=method, target=bench.clf.target("rating"), **params)
        row[name] = (fidelity(candidate.word_scores, reference.word_scores).spearman, time.perf_counter() - t)
    return row


def summary(records: list[dict]) -> dict:
    """Means over texts of every measure, per method, and of the reference's convergence checks."""
    from explain.amortize import mean_fidelity
    from explain.amortize.fidelity import Fidelity

    out = {
        "n": len(records),
        "mean_words": float(np.mean([r["words"] for r in records])),
        "reference_exact_share": float(np.mean([r["reference_exact"] for r in records])),
        "reference_max_estimated_error_stars": float(max(r["reference_estimated_error"] or 0.0 for r in records)),
        "reference_vs_half_budget_spearman": float(
            np.nanmean([r["reference_vs_half_budget_spearman"] for r in records])
        ),
        "reference_comprehensiveness": float(np.mean([r["reference_comprehensiveness"] for r in records])),
    }
    for name in METHODS:
        mean = mean_fidelity(
            Fidelity(r[name]["spearman"], r[name]["top5_overlap"], r[name]["top3_sign_agreement"]) for r in records
        )
        out[name] = {
            "spearman": mean.spearman,
            "top5_overlap": mean.top5_overlap,
            "top3_sign_agreement": mean.top3_sign_agreement,
            "comprehensiveness": float(np.mean([r[name]["comprehensiveness"] for r in records])),
        }
    return out


def timing(clf, texts: list[str]) -> list[dict]:
    """Per ~150-word review: predict_proba and amortized (medians of 7, after a warm-up), SHAP default (once)."""
    from explain.methods import explain

    rows = []
    for text in texts:
        clf.predict_proba([text])
        explain(clf, text, method="amortized")
        predict, amortized = [], []
        for _ in range(7):
            t = time.perf_counter()
            clf.predict_proba([text])
            predict.append(time.perf_counter() - t)
            t = time.perf_counter()
            explain(clf, text, method="amortized")
            amortized.append(time.perf_counter() - t)
        t = time.perf_counter()
        explain(clf, text, method="shap")
        rows.append(
            {
                "words": len(text.split()),
                "predict_proba_s": statistics.median(predict),
                "amortized_s": statistics.median(amortized),
                "shap_default_s": time.perf_counter() - t,
            }
        )
        print(f"timing {len(rows)}/{len(texts)}: {rows[-1]}  load {load()}", flush=True)
    return rows


def main() -> None:
    from explain import load_classifier
    from explain.amortize import default_head_texts, head_info
    from explain.cli.first_use import ensure_default_head
    from explain.default_model import heldout_reviews, heldout_sentences
    from explain.store import ExplanationStore

    parser = argparse.ArgumentParser()
    parser.add_argument("--sentences", type=int, default=20)
    parser.add_argument("--reviews", type=int, default=6)
    parser.add_argument("--timing", type=int, default=3)
    parser.add_argument("--ref-evals", type=int, default=2000)
    args = parser.parse_args()
    started = time.perf_counter()
    print(f"load before: {load()}", flush=True)
    clf = load_classifier()
    ensure_default_head(clf)  # fitted by build-default; fitted here (and timed in its file) when missing
    info = head_info(clf)
    bench = Bench(
        clf,
        ExplanationStore(),
        args.ref_evals,
        tfidf_surrogate(clf, default_head_texts(3000)),
        np.random.default_rng(0),
    )

    snippets = [s.text for s in heldout_sentences(("movies",)) if 8 <= len(s.text.split()) <= 25]
    sentences = random.Random(7).sample(snippets, args.sentences)
    sentence_records, teacher_rows = [], []
    for i, text in enumerate(sentences):
        sentence_records.append(evaluate(bench, text))
        teacher_rows.append(teacher_candidates(bench, text))
        print(f"sentence {i + 1}/{len(sentences)}  load {load()}", flush=True)
    held = heldout_reviews()
    whole = [r.text for r in held if 40 <= len(r.text.split()) <= 130]
    review_records = []
    for i, text in enumerate(random.Random(7).sample(whole, min(args.reviews, len(whole)))):
        review_records.append(evaluate(bench, text))
        print(f"review {i + 1}/{args.reviews} ({len(text.split())} words)  load {load()}", flush=True)
    timed = timing(clf, [r.text for r in held if 130 <= len(r.text.split()) <= 170][: args.timing])
    ratio_predict = statistics.median(r["amortized_s"] / r["predict_proba_s"] for r in timed)
    speedup_shap = statistics.median(r["shap_default_s"] / r["amortized_s"] for r in timed)

    s_sum, r_sum = summary(sentence_records), summary(review_records)
    both = sentence_records + review_records
    all_sum = summary(both)
    figures = {
        "speed_vs_predict_proba": ratio_predict,
        "speed_vs_shap_default": speedup_shap,
        "spearman_sentences": s_sum["amortized"]["spearman"],
        "spearman_reviews": r_sum["amortized"]["spearman"],
        "top3_sign_agreement": all_sum["amortized"]["top3_sign_agreement"],
        "comprehensiveness_vs_shap_default": all_sum["amortized"]["comprehensiveness"]
        / all_sum["shap_default"]["comprehensiveness"],
        "better_than_tfidf": {
            part: {
                m: summ["amortized"][m] > summ["tfidf"][m]
                for m in ("spearman", "top5_overlap", "top3_sign_agreement", "comprehensiveness")
            }
            for part, summ in (("sentences", s_sum), ("reviews", r_sum))
        },
    }
    result = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_after": load()},
        "head": {
            "teacher": info.teacher_name,
            "fidelity_at_fit": info.fidelity,
            "fidelity_reviews": info.fidelity_reviews,
            "fitted_on": info.fitted_on,
            "fit_seconds": info.seconds,
        },
        "reference": f"shap max_evals={args.ref_evals}",
        "sentences": s_sum,
        "reviews": r_sum,
        "timing_150_words": timed,
        "teacher_candidates_on_sentences": {
            name: {
                "spearman_with_reference": float(np.nanmean([r[name][0] for r in teacher_rows])),
                "seconds_per_label": float(np.mean([r[name][1] for r in teacher_rows])),
            }
            for name, _, _ in TEACHERS
        },
        "targets": {k: {"target": TARGETS[k], "measured": figures[k]} for k in TARGETS},
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "amortized.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["targets"], indent=2))
    for part in ("sentences", "reviews"):
        print(f"\n{part} (n={result[part]['n']}, mean {result[part]['mean_words']:.0f} words):")
        print(f"{'method':14} spearman  top5  top3sign  compr")
        for name in METHODS:
            m = result[part][name]
            print(
                f"{name:14} {m['spearman']:8.3f} {m['top5_overlap']:5.2f} {m['top3_sign_agreement']:9.2f} "
                f"{m['comprehensiveness']:6.3f}"
            )
    for name, row in result["teacher_candidates_on_sentences"].items():
        print(
            f"teacher {name:20} spearman {row['spearman_with_reference']:.3f}  {row['seconds_per_label']:.3f} s/label"
        )
    print(f"\nload after: {load()}; {result['seconds']} s")


if __name__ == "__main__":
    main()
