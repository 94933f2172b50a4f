"""Corpus drivers at scale on VADER's 10,605 movie-review snippets.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/drivers.py [--occlusion-sample 150] [--shap-reviews 120]

Three parts, each in its own process (so each peak RSS is that part's own), each from a fresh cache file in a
temporary folder, on the default model, through `explain.corpus.drivers.corpus_drivers` (the `explain drivers`
path: local engine, the SQLite store, streamed aggregation):

- `occlusion`: a seeded sample of the snippets; its time per review is extrapolated to all 10,605
  (labelled as extrapolated).
- `amortized`: all 10,605 snippets (skipped when the default model has no amortized head; the head's fit is not
  timed here: its time is reported by `explain build-default`/`explain amortize`), then the same call again on the
  filled cache (a re-run recomputes nothing).
- `overlap`: SHAP at its default budget and `amortized` on the same seeded reviews, drawn from the snippets the
  default model never trained on (its held-out split, 2,105: the v3 model trains on part of this corpus); the
  top-20 lowering and raising drivers of each and how many they share. SHAP's time per review is extrapolated
  to 1,000 reviews.

Writes `benchmarks/results/drivers.json` with the machine's load before and after each part.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "drivers.json"
SEED = 24
TOP = 20
TARGET_SECONDS = 120.0
TARGET_RSS_MB = 2048.0
TARGET_OVERLAP = 16


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def movie_reviews():
    from explain.data import Review, vader_sentences

    return [Review(s.text, s.stars) for s in vader_sentences(("movies",))]


def heldout_movie_reviews():
    """The movie snippets the default model never trained on (its held-out split: v3 trains on some of the corpus)."""
    from explain.data import Review
    from explain.default_model import heldout_sentences

    return [Review(s.text, s.stars) for s in heldout_sentences(("movies",))]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def top_phrases(drivers, k: int = TOP) -> tuple[list[str], list[str]]:
    return [d.phrase for d in drivers.lowering[:k]], [d.phrase for d in drivers.raising[:k]]


def run_part(part: str, args: argparse.Namespace) -> dict:
    """One part, in this process."""
    from explain.corpus.drivers import corpus_drivers
    from explain.models import load_classifier
    from explain.store import ExplanationStore

    reviews = movie_reviews()
    started = time.perf_counter()
    classifier = load_classifier()
    out: dict = {"part": part, "corpus_reviews": len(reviews), "model_load_s": round(time.perf_counter() - started, 2)}
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        store = ExplanationStore(Path(tmp) / "cache.sqlite")
        if part == "occlusion":
            sample = rng.sample(reviews, args.occlusion_sample)
            t0 = time.perf_counter()
            run = corpus_drivers(classifier, sample, store, method="occlusion")
            seconds = time.perf_counter() - t0
            out |= {
                "reviews": len(sample),
                "wall_s": round(seconds, 2),
                "per_review_s": round(seconds / len(sample), 4),
                "extrapolated_all_s": round(seconds / len(sample) * len(reviews), 1),
                "extrapolated": True,
                "top_lowering": top_phrases(run.drivers, 10)[0],
                "top_raising": top_phrases(run.drivers, 10)[1],
            }
        elif part == "amortized":
            from explain.amortize import has_head

            if not has_head(classifier):
                return out | {"skipped": "the default model has no amortized head (explain build-default fits it)"}
            t0 = time.perf_counter()
            run = corpus_drivers(classifier, reviews, store, method="amortized")
            seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            again = corpus_drivers(classifier, reviews, store, method="amortized")
            cached_s = time.perf_counter() - t1
            out |= {
                "reviews": len(reviews),
                "wall_s": round(seconds, 2),
                "explain_and_store_s": round(run.seconds, 2),
                "aggregate_s": round(seconds - run.seconds, 2),
                "computed": run.computed,
                "failed": len(run.failures),
                "rerun_wall_s": round(cached_s, 2),
                "rerun_computed": again.computed,
                "min_support": run.drivers.min_support,
                "top_lowering": top_phrases(run.drivers)[0],
                "top_raising": top_phrases(run.drivers)[1],
            }
        elif part == "overlap":
            sample = rng.sample(heldout_movie_reviews(), args.shap_reviews)
            t0 = time.perf_counter()
            amortized = corpus_drivers(classifier, sample, store, method="amortized")
            amortized_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            shap = corpus_drivers(classifier, sample, store, method="shap")
            shap_s = time.perf_counter() - t1
            a_low, a_high = top_phrases(amortized.drivers)
            s_low, s_high = top_phrases(shap.drivers)
            out |= {
                "reviews": len(sample),
                "min_support": shap.drivers.min_support,
                "amortized_s": round(amortized_s, 2),
                "shap_s": round(shap_s, 2),
                "shap_per_review_s": round(shap_s / len(sample), 3),
                "shap_extrapolated_1000_s": round(shap_s / len(sample) * 1000, 1),
                "extrapolated": True,
                "lowering_shared": len(set(a_low) & set(s_low)),
                "raising_shared": len(set(a_high) & set(s_high)),
                "lists": {"amortized": [a_low, a_high], "shap": [s_low, s_high]},
            }
        store.close()
    return out | {"peak_rss_mb": round(peak_rss_mb(), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="occlusion,amortized,overlap")
    parser.add_argument("--occlusion-sample", type=int, default=150)
    parser.add_argument("--shap-reviews", type=int, default=120)
    parser.add_argument("--part", help=argparse.SUPPRESS)  # run one part in this process
    args = parser.parse_args()
    if args.part:
        print(json.dumps(run_part(args.part, args)), flush=True)
        return
    import torch

    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results["machine"] = {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    for part in args.parts.split(","):
        before = load()
        proc = subprocess.run(
            [sys.executable, __file__, "--part", part, "--occlusion-sample", str(args.occlusion_sample),
             "--shap-reviews", str(args.shap_reviews)],
            capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        if proc.returncode:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"part {part} failed")
        found = json.loads(proc.stdout.strip().splitlines()[-1])
        found |= {
            "load_before": before,
            "load_after": load(),
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        if part == "amortized" and "wall_s" in found:
            found["targets"] = {
                "wall_s<=120": found["wall_s"] <= TARGET_SECONDS,
                "peak_rss_mb<=2048": found["peak_rss_mb"] <= TARGET_RSS_MB,
            }
        if part == "overlap":
            found["targets"] = {
                "lowering_shared>=16": found["lowering_shared"] >= TARGET_OVERLAP,
                "raising_shared>=16": found["raising_shared"] >= TARGET_OVERLAP,
            }
        results[part] = found
        print(json.dumps(found, indent=1), flush=True)
        partial = RESULTS.with_suffix(".json.tmp")
        partial.write_text(json.dumps(results, indent=1) + "\n")
        os.replace(partial, RESULTS)  # a killed run leaves the previous results whole


if __name__ == "__main__":
    main()
