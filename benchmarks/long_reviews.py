"""Long reviews on the default model: does the whole text count, and is the cost bounded?

    .venv/bin/python benchmarks/long_reviews.py [--parts verdict,speed,big] [--out benchmarks/results/long-reviews.json]

- verdict: ~1,000 tokens of neutral filler, then one strongly negative sentence. Expected stars (sum of label value
  x probability) with and without the sentence, and each sentence's score (sum of its words' scores) for ig and
  occlusion, both explaining the expected rating (the default question). The negative sentence should have the
  most negative score.
- speed: a 2,000-word review: predict, `why --method ig`, occlusion (sentence units), each timed in-process.
- big: every method through the real CLI (`explain why --method M --file FILE`) on inputs of 100 KB and 1 MB,
  under `/usr/bin/time -v`: exit code, wall seconds, peak RSS, and the last line of stderr.
Every timing is printed with the machine's load average (`uptime`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FILLER = [
    "The hotel is on the main street, about ten minutes on foot from the railway station.",
    "Our room was on the third floor and had two beds, a desk, a chair and a wardrobe.",
    "Breakfast was served in the hall on the ground floor from seven until ten.",
    "There is a supermarket across the road and a bus stop next to the entrance.",
    "We checked in at three in the afternoon and checked out on Sunday morning.",
    "The window looked out over the car park and a row of houses.",
    "The bathroom had a shower, a sink and a small mirror.",
    "Parking costs extra and has to be booked at the reception desk.",
]
NEGATIVE = "It was the worst, most disgusting stay of my life: filthy, rude and a complete rip-off, I hated it."
METHODS = ("shap", "lime", "occlusion", "attention", "rollout", "grad_attn", "saliency", "grad_x_input", "ig")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def filler(n_tokens: int, tokenizer) -> str:
    sentences, count, i = [], 0, 0
    while count < n_tokens:
        sentence = FILLER[i % len(FILLER)]
        sentences.append(sentence)
        count += len(tokenizer(sentence, add_special_tokens=False)["input_ids"])
        i += 1
    return " ".join(sentences)


def stars(probs: np.ndarray) -> float:
    return float(probs @ np.arange(1, len(probs) + 1))


def window_stars(clf, text: str) -> list[dict]:
    """Each window's weight and expected stars as the model reads it (to see what the aggregation averages)."""
    windowed = clf.windows(text)
    out = []
    for window in windowed.windows:
        inputs, _ = clf.window_inputs(windowed, window)
        with torch.no_grad():
            probs = torch.softmax(clf.model(**inputs).logits[0].float(), -1).numpy()
        out.append({"tokens": [window.start, window.end], "weight": round(window.weight, 4), "stars": stars(probs)})
    return out


def verdict(clf) -> dict:
    from explain import explain

    base = filler(1000, clf.tokenizer)
    text = base + " " + NEGATIVE
    n_tokens = len(clf.tokenizer(text)["input_ids"])
    p_base, p_text = clf.predict_proba([base, text])
    result = {
        "tokens": n_tokens,
        "windows": len(clf.windows(text).windows),
        "stars_filler": stars(p_base),
        "stars_with_sentence": stars(p_text),
        "stars_drop": stars(p_base) - stars(p_text),
        "stars_first_window_only": stars(type(clf)(clf.model, clf.tokenizer, long="truncate").predict_proba([text])[0]),
        "stars_sentence_alone": stars(clf.predict_proba([NEGATIVE])[0]),
        "windows_with_sentence": window_stars(clf, text),
        "windows_filler": window_stars(clf, base),
    }
    for method in ("ig", "occlusion"):
        started = time.perf_counter()
        exp = explain(clf, text, method, target="rating")
        seconds = time.perf_counter() - started
        scores = [(sentence.text, sentence.score) for sentence in exp.sentences]
        worst = min(range(len(scores)), key=lambda i: scores[i][1])
        result[method] = {
            "seconds": round(seconds, 2),
            "uptime": uptime(),
            "explains": exp.explains,
            "n_sentences": len(scores),
            "most_negative_sentence": scores[worst][0],
            "most_negative_is_the_negative_sentence": scores[worst][0].strip() == NEGATIVE.strip(),
            "negative_sentence_score": scores[-1][1],
            "next_most_negative_score": sorted(s for _, s in scores[:-1])[0],
            "diagnostics": {k: v for k, v in exp.diagnostics.items() if isinstance(v, (int, float, str))},
        }
    return result


def words_review(n_words: int) -> str:
    text, i = [], 0
    while sum(len(s.split()) for s in text) < n_words:
        text.append(FILLER[i % len(FILLER)])
        i += 1
    return " ".join(text) + " " + NEGATIVE


def speed(clf) -> dict:
    from explain import explain

    text = words_review(2000)
    out = {"words": len(text.split()), "tokens": len(clf.tokenizer(text)["input_ids"])}
    clf.predict_proba(["warm up"])
    for name, run in (
        ("predict", lambda: clf.predict_proba([text])),
        ("ig", lambda: explain(clf, text, "ig")),
        ("occlusion", lambda: explain(clf, text, "occlusion")),
    ):
        load = uptime()
        started = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - started
        extra = {} if name == "predict" else {k: result.diagnostics.get(k) for k in ("unit", "units", "windows")}
        out[name] = {"seconds": round(seconds, 2), "uptime_before": load, "uptime_after": uptime(), **extra}
        print(f"  {name}: {seconds:.2f} s   [{load}]", flush=True)
    return out


def big(sizes: list[int]) -> list[dict]:
    rows = []
    sentence = " ".join(FILLER) + " "
    with tempfile.TemporaryDirectory() as folder:
        for size in sizes:
            path = Path(folder) / f"review-{size}.txt"
            text = (sentence * (size // len(sentence) + 1))[: size - len(NEGATIVE) - 1] + " " + NEGATIVE
            path.write_text(text.replace("\n", " "), encoding="utf-8")
            for method in ("predict", *METHODS):
                args = ["predict"] if method == "predict" else ["why", "--method", method]
                command = ["/usr/bin/time", "-v", sys.executable, "-m", "explain.cli", *args, "--file", str(path)]
                load = uptime()
                started = time.perf_counter()
                try:
                    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
                    code, stderr = done.returncode, done.stderr
                except subprocess.TimeoutExpired as exc:
                    code, stderr = "timeout", (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else ""
                seconds = time.perf_counter() - started
                rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr or "")
                lines = [
                    line
                    for line in (stderr or "").splitlines()
                    if line.strip()
                    and not line.startswith("\t")
                    and not line.startswith(("Command being timed", "Command exited with non-zero status"))
                ]
                row = {
                    "bytes": size,
                    "method": method,
                    "exit": code,
                    "seconds": round(seconds, 1),
                    "peak_rss_mb": round(int(rss.group(1)) / 1024) if rss else None,
                    "message": lines[-1][:300] if lines else "",
                    "traceback": "Traceback" in (stderr or ""),
                    "uptime": load,
                }
                rows.append(row)
                print(
                    f"  {size:>8} B {method:<13} exit {code!s:<3} {seconds:6.1f} s "
                    f"{row['peak_rss_mb']} MB  {row['message'][:100]}   [{load}]",
                    flush=True,
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="verdict,speed,big")
    parser.add_argument("--sizes", default="100000,1000000", help="bytes, comma-separated (part big)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "long-reviews.json")
    args = parser.parse_args()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from explain import load_classifier

    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    results: dict = {"uptime_start": uptime(), "cpus": os.cpu_count()}
    if args.out.exists():
        results = json.loads(args.out.read_text()) | results
    clf = load_classifier() if {"verdict", "speed"} & set(parts) else None
    if "verdict" in parts:
        print("verdict (1,000 tokens of filler + one negative sentence):", flush=True)
        results["verdict"] = verdict(clf)
        print(json.dumps(results["verdict"], indent=2), flush=True)
    if "speed" in parts:
        print("speed (2,000-word review):", flush=True)
        results["speed"] = speed(clf)
    if "big" in parts:
        print("big inputs, every method through the CLI:", flush=True)
        results["big"] = big([int(s) for s in args.sizes.split(",")])
    results["uptime_end"] = uptime()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
