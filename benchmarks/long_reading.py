"""Whole reading or windows? How the default model rates a long text against people (issue 25, item 2).

    .venv/bin/python benchmarks/long_reading.py

A text longer than the model reads at once is read in windows whose ratings are combined by
`explain.windows`' rule (the mean of the windows' probabilities, each weighted by the tokens it owns). The
default model (v3) was also taught whole reviews (runs of consecutive sentences rated the mean of their human
means). Which reads a long text closer to people? On texts the model never trained on, people's rating being
the mean of the sentences' human means (mapped linearly onto 1-5 stars):

- `whole`: the model reads the text at once (a text over its 512 tokens, one review here, in 512-token windows);
- `windows-W`: the same model made to read at most W tokens at a time (W = 128, 64), its windows combined by
  the rule: what a text longer than 512 tokens gets today, at a scale where both can be compared.

Texts: the default model's held-out Amazon reviews and held-out NYT editorials (their sentences joined), those
longer than the smallest window. Reported: Pearson and MAE of the expected rating against people, per set.
Results: benchmarks/results/long-reading.json.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np

from explain.atomic import write_atomic
from explain.training.scores import STAR_VALUES, linear_stars

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

RESULTS = Path(__file__).parent / "results" / "long-reading.json"
WINDOWS = (128, 64)


def heldout_documents(corpus: str) -> list[tuple[str, float]]:
    """(text, mean of its sentences' human means) of each held-out review or editorial of `corpus`."""
    from explain.default_model import heldout_sentences

    groups = defaultdict(list)
    for s in heldout_sentences((corpus,)):
        groups[s.group].append(s)
    out = []
    for items in groups.values():
        items.sort(key=lambda s: s.position)
        if len(items) >= 2:
            out.append((" ".join(s.text for s in items), float(np.mean([s.rating for s in items]))))
    return out


def reader(folder: Path, max_tokens: int | None):
    """The default model, reading at most `max_tokens` tokens at once (None: its own 512)."""
    from transformers import AutoTokenizer

    from explain.classifier import Classifier

    clf = Classifier.from_pretrained(folder)
    if max_tokens is None:
        return clf
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.model_max_length = max_tokens
    return Classifier(clf.model, tokenizer, name=f"{clf.name} (windows of {max_tokens})")


def scores(expected: np.ndarray, human: np.ndarray) -> dict:
    linear = linear_stars(human)
    return {"pearson": float(np.corrcoef(expected, linear)[0, 1]), "mae": float(np.mean(np.abs(expected - linear)))}


def main() -> None:
    from transformers import AutoTokenizer

    from explain.default_model import MODEL_VERSION, default_model_dir

    folder = default_model_dir()
    readers = {"whole": reader(folder, None)} | {f"windows-{w}": reader(folder, w) for w in WINDOWS}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    results: dict = {"model": MODEL_VERSION, "sets": {}}
    for corpus in ("amazon", "nyt"):
        docs = [(t, r) for t, r in heldout_documents(corpus) if len(tokenizer(t)["input_ids"]) > min(WINDOWS) + 2]
        texts, human = [t for t, _ in docs], np.array([r for _, r in docs])
        lengths = [len(tokenizer(t)["input_ids"]) for t in texts]
        entry: dict = {"n": len(texts), "tokens_median": float(np.median(lengths)), "tokens_max": int(max(lengths))}
        for name, clf in readers.items():
            entry[name] = scores(clf.predict_proba(texts) @ STAR_VALUES, human)
        results["sets"][corpus] = entry
        print(
            f"{corpus}: {entry['n']} texts, median {entry['tokens_median']:.0f} tokens: "
            + "; ".join(f"{n} Pearson {entry[n]['pearson']:.3f} MAE {entry[n]['mae']:.3f}" for n in readers)
        )
    results["uptime"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(RESULTS, json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
