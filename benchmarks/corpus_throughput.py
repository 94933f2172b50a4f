"""Reviews/s for report generation (uncached, cached) and for corpus runs, local vs Ray-local.

    .venv/bin/python benchmarks/corpus_throughput.py [--n 200] [--ray-n 100] [--method occlusion]

Uses the default model on its held-out Amazon review sentences (each with its human-rated stars).
Every run starts from a fresh cache file in a temporary folder. The local engine is timed with each
of `--local-threads` torch thread counts, then Ray-local (one actor per CPU, one torch thread each)
on the same texts; the Ray time includes actor start-up and model loading, not `ray.init`
(reported beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="reviews in the report")
    parser.add_argument("--ray-n", type=int, default=100, help="reviews in the local-vs-Ray comparison")
    parser.add_argument("--method", default="occlusion")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the report (default: torch's)")
    parser.add_argument("--local-threads", default="1,2", help="torch thread counts to time the local engine with")
    parser.add_argument("--skip-ray", action="store_true")
    args = parser.parse_args()

    import torch

    from explain.corpus import run_corpus
    from explain.data import Review
    from explain.default_model import default_split
    from explain.models import load_classifier
    from explain.report import build_report, report_html
    from explain.store import ExplanationStore

    if args.threads:
        torch.set_num_threads(args.threads)
    clf = load_classifier()
    heldout = [Review(e.text, e.stars) for e in default_split()[1] if e.group.startswith("amazon:")]
    reviews = heldout[: args.n]
    results: dict = {
        "model": clf.name,
        "method": args.method,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        store = ExplanationStore(Path(tmp) / "report.sqlite")
        for phase in ("uncached", "cached"):
            started = time.perf_counter()
            report = build_report(clf, reviews, [args.method], store, attention_views=0)
            page = report_html(report)
            seconds = time.perf_counter() - started
            results[f"report_{phase}"] = {
                "reviews": len(reviews),
                "seconds": round(seconds, 2),
                "reviews_per_s": round(len(reviews) / seconds, 2),
                "computed": report.run.computed,
                "html_mb": round(len(page) / 1e6, 2),
            }
            print(phase, results[f"report_{phase}"], flush=True)
        store.close()

        texts = [r.text for r in heldout[args.n : args.n + args.ray_n]]  # the same texts for every engine
        for threads in (int(t) for t in args.local_threads.split(",") if t.strip()):
            torch.set_num_threads(threads)
            started = time.perf_counter()
            stats = run_corpus(clf, texts, [args.method], ExplanationStore(Path(tmp) / f"local{threads}.sqlite"))
            seconds = time.perf_counter() - started
            results[f"local_{threads}_threads"] = {
                "reviews": len(texts),
                "seconds": round(seconds, 2),
                "reviews_per_s": round(len(texts) / seconds, 2),
                "computed": stats.computed,
            }
            print(f"local_{threads}_threads", results[f"local_{threads}_threads"], flush=True)
        if not args.skip_ray:
            import ray

            started = time.perf_counter()
            ray.init(include_dashboard=False, log_to_driver=False)
            init_seconds = time.perf_counter() - started
            try:
                started = time.perf_counter()
                stats = run_corpus(clf, texts, [args.method], ExplanationStore(Path(tmp) / "ray.sqlite"), engine="ray")
                seconds = time.perf_counter() - started
                results["ray_local"] = {
                    "reviews": len(texts),
                    "seconds": round(seconds, 2),
                    "reviews_per_s": round(len(texts) / seconds, 2),
                    "computed": stats.computed,
                    "failed": len(stats.failed),
                    "ray_init_seconds": round(init_seconds, 2),
                    "actors": int(ray.cluster_resources().get("CPU", 1)),
                    "threads_per_actor": 1,
                }
                print("ray_local", results["ray_local"], flush=True)
            finally:
                ray.shutdown()
    results["load_average_after"] = os.getloadavg()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
