"""Batch-setting sweep behind the engine's defaults: token budget, row cap, padding cap, attention kernel.

    .venv/bin/python benchmarks/tune.py [--threads 1] [--repeats 3]

Workloads, all from the default model's held-out reviews: masked copies of a ~25-, ~60- and ~200-token
review (words replaced by [MASK] at random, as SHAP and LIME do) and 240 whole review sentences of
mixed length. For each setting it prints CPU milliseconds per text (process time: the least sensitive
to other processes on a shared machine) and wall-clock texts per second, best of `--repeats`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from run import review_texts

from explain.models import load_classifier

SETTINGS = [  # (max_tokens_per_batch, max_batch_size, max_padding, fused attention)
    (512, 16, 0.1, True),
    (1024, 32, 0.1, True),
    (2048, 64, 0.1, True),
    (2048, 64, 1.0, True),
    (4096, 128, 0.1, True),
    (4096, 128, 1.0, True),
    (8192, 256, 1.0, True),
    (2048, 64, 0.1, False),
]


def masked_copies(text: str, n: int, seed: int = 0) -> list[str]:
    """`n` distinct copies of `text` with each word replaced by [MASK] with probability 1/2."""
    rng = np.random.default_rng(seed)
    words = text.split()
    out: set[str] = set()
    while len(out) < n:
        out.add(" ".join(w if rng.random() < 0.5 else "[MASK]" for w in words))
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    from explain.default_model import heldout_reviews

    clf = load_classifier()
    texts = review_texts(clf.tokenizer, (25, 60, 200))
    sentences = [s for review in heldout_reviews() for s in review.sentences][:240]
    workloads = {
        "masked ~25 tok": masked_copies(texts[25], 240),
        "masked ~60 tok": masked_copies(texts[60], 120),
        "masked ~200 tok": masked_copies(texts[200], 48),
        "240 sentences": sentences,
    }
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    rows = []
    for name, work in workloads.items():
        clf.predict_proba(work[:16])
        for budget, max_rows, padding, fused in SETTINGS:
            clf.engine.configure(
                max_tokens_per_batch=budget, max_batch_size=max_rows, max_padding=padding, fused_attention=fused
            )
            walls, cpus = [], []
            for _ in range(args.repeats):
                wall, cpu = time.perf_counter(), time.process_time()
                clf.predict_proba(work)
                walls.append(time.perf_counter() - wall)
                cpus.append(time.process_time() - cpu)
            row = {
                "workload": name,
                "max_tokens_per_batch": budget,
                "max_batch_size": max_rows,
                "max_padding": padding,
                "attention": "sdpa" if fused else "eager",
                "cpu_ms_per_text": 1000 * min(cpus) / len(work),
                "texts_per_s": len(work) / min(walls),
                "load": os.getloadavg()[0],
            }
            rows.append(row)
            print(
                f"{name:<16} budget {budget:>5} rows {max_rows:>3} padding<={padding:<4} {row['attention']:<5} "
                f"{row['cpu_ms_per_text']:6.2f} CPU ms/text {row['texts_per_s']:7.1f} texts/s",
                flush=True,
            )
    out = Path(__file__).resolve().parent / "results" / "tune.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
