"""8 threads share one Classifier, half aligning/tokenizing and half predicting: how many wrong results?

Issue 14's target: 0 wrong results in 10,000 calls. Every result is compared with the same call made
alone on one thread before the threads start (probabilities within 1e-5, alignments identical).

    .venv/bin/python benchmarks/threads.py [--calls 10000] [--threads 8] [--model FOLDER]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

TEXTS = [
    "I really loved that movie",
    "I hate very cold, and cloudy winter days",
    "The battery died after two days and support never answered my emails.",
    "ok",
    "Great sound, terrible price!",
    "It's not bad, but I wouldn't buy it again. The screen is fine; the speakers crackle.",
]


def main() -> None:
    from explain import Classifier

    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    clf = Classifier.from_pretrained(args.model)
    expected = {t: clf.predict_proba([t])[0] for t in TEXTS}
    words = {t: clf.align(t).words for t in TEXTS}
    counter = iter(range(args.calls))
    lock = threading.Lock()
    wrong, worst = [0], [0.0]
    barrier = threading.Barrier(args.threads)

    def work(worker: int) -> None:
        barrier.wait()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            text = TEXTS[(i + worker) % len(TEXTS)]
            if worker % 2:
                p = clf.predict_proba([text])[0]
                error = float(np.abs(p - expected[text]).max())
                bad = error > 1e-5
            else:
                clf.tokenize([text, "padding on"])
                bad, error = clf.align(text).words != words[text], 0.0
            with lock:
                wrong[0] += bad
                worst[0] = max(worst[0], error)

    started = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(work, range(args.threads)))
    result = {
        "calls": args.calls,
        "threads": args.threads,
        "wrong": wrong[0],
        "max_probability_error": worst[0],
        "seconds": round(time.perf_counter() - started, 1),
        "model": clf.name,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, load {os.getloadavg()}",
    }
    out = Path(__file__).parent / "results" / "threads.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
