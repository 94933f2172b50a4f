"""Does the answer line ever name noise? (issue 22's target)

Review sentences the default model never saw in training (VADER's movie-review snippets, 6-30 words; the
model trains on the amazon and tweets corpora), a seeded sample scored once; the first `--saturated` whose
expected rating is >= 4.8 or <= 1.2 and the first `--ordinary` ones in between. For each, the answer line
(`explain.answer`) is built from each method set: occlusion alone (the dashboard's first page), and
occlusion + SHAP (the Attributions page's defaults), with the model at hand as the rule asks. Every word
(or sentence) the line names is then checked independently: the text without it goes to `predict_proba`, and
the drop in the expected rating is its removal effect. A violation is a named word whose removal effect is
below the noise floor (0.05 stars), or one named in the direction opposite to its removal effect.

The rule before issue 22 (top-5 words per method, signs agreed by two thirds, no floor, stopwords kept) is
checked the same way for comparison.

    .venv/bin/python benchmarks/answer_floor.py [--saturated 20] [--ordinary 20] [--shap-evals 300]

The summary goes to benchmarks/results/answer-floor.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
SATURATED_ABOVE, SATURATED_BELOW = 4.8, 1.2
METHOD_SETS = {"occlusion": ("occlusion",), "occlusion+shap": ("occlusion", "shap")}


def removal_effect(clf, exp, index: int, level: str) -> float:
    """The drop in the expected rating when word (or sentence) `index` is deleted, by the model itself."""
    from explain.words import remove_words

    if level == "word":
        span = exp.alignment.word_offsets[index]
    else:
        sentence = exp.sentences[index]
        span = (sentence.start, sentence.end)
    without = clf.predict_proba([remove_words(exp.text, [span])])[0]
    return float(exp.expected_rating - without @ np.asarray(exp.label_values))


def old_rule(explanations) -> list[tuple[int, int]]:
    """(word index, sign) the line named before issue 22: each method's top 5 words with a letter or digit,
    signs agreed by two thirds, up to 3 per direction by mean rank; no floor, no stopword list."""
    need = int(np.ceil(2 / 3 * len(explanations) - 1e-9))
    words = explanations[0].words
    ranks = [np.argsort(np.argsort(-np.abs(e.word_scores), kind="stable"), kind="stable") for e in explanations]
    candidates = sorted({int(i) for r in ranks for i in np.flatnonzero(r < 5) if any(c.isalnum() for c in words[i])})
    agreed = []
    for i in candidates:
        signs = [np.sign(e.word_scores[i]) for e in explanations]
        ups, downs = sum(s > 0 for s in signs), sum(s < 0 for s in signs)
        sign = 1 if ups >= need and ups > downs else -1 if downs >= need and downs > ups else 0
        if sign:
            agreed.append((float(np.mean([r[i] for r in ranks])), i, sign))
    agreed.sort()
    return [(i, s) for sign in (-1, 1) for _, i, s in [a for a in agreed if a[2] == sign][:3]]


def check(clf, exp, named: list[tuple[int, int]], level: str, floor: float) -> dict:
    """Counts of named words, those whose removal effect is below the floor, and those named the wrong way."""
    below = wrong = 0
    examples = []
    for index, sign in named:
        effect = removal_effect(clf, exp, index, level)
        if abs(effect) < floor:
            below += 1
        elif np.sign(effect) != sign:
            wrong += 1
        if abs(effect) < floor or np.sign(effect) != sign:
            word = exp.words[index] if level == "word" else exp.sentences[index].text
            examples.append({"word": word, "named_sign": sign, "removal_effect": round(effect, 4)})
    return {"named": len(named), "below_floor": below, "wrong_direction": wrong, "examples": examples}


def main() -> None:
    from explain import explain, load_classifier
    from explain.answer import answer
    from explain.default_model import heldout_sentences

    parser = argparse.ArgumentParser()
    parser.add_argument("--saturated", type=int, default=20)
    parser.add_argument("--ordinary", type=int, default=20)
    parser.add_argument("--pool", type=int, default=800, help="snippets scored to find them")
    parser.add_argument("--shap-evals", type=int, default=300)
    args = parser.parse_args()
    clf = load_classifier()
    started = time.perf_counter()

    snippets = [s.text for s in heldout_sentences(("movies",)) if 6 <= len(s.text.split()) <= 30]
    pool = random.Random(22).sample(snippets, min(args.pool, len(snippets)))
    ratings = clf.expected_rating(pool)
    saturated = [t for t, r in zip(pool, ratings, strict=True) if r >= SATURATED_ABOVE or r <= SATURATED_BELOW]
    ordinary = [t for t, r in zip(pool, ratings, strict=True) if SATURATED_BELOW + 0.3 <= r <= SATURATED_ABOVE - 0.3]
    groups = {"saturated": saturated[: args.saturated], "ordinary": ordinary[: args.ordinary]}
    print({k: len(v) for k, v in groups.items()}, f"of {len(pool)} scored", flush=True)

    params = {"shap": {"max_evals": args.shap_evals}}
    totals: dict = {}
    per_review = []
    for group, texts in groups.items():
        for n, text in enumerate(texts):
            runs = {m: explain(clf, text, method=m, **params.get(m, {})) for m in ("occlusion", "shap")}
            record = {"group": group, "text": text, "rating": round(float(runs["occlusion"].expected_rating), 3)}
            for name, methods in METHOD_SETS.items():
                exps = [runs[m] for m in methods]
                a = answer(exps, clf.rating_unit, classifier=clf)
                named = [(i, int(np.sign(effect))) for i, (_, effect) in zip(a.named_at, a.named, strict=True)]
                new = check(clf, exps[0], named, a.level, a.floor)
                old = check(clf, exps[0], old_rule(exps), "word", a.floor)
                record[name] = {"line": a.words, "new": new, "old": old}
                for rule, result in (("new", new), ("old", old)):
                    bucket = totals.setdefault(group, {}).setdefault(name, {}).setdefault(rule, {})
                    for key in ("named", "below_floor", "wrong_direction"):
                        bucket[key] = bucket.get(key, 0) + result[key]
                    bucket["reviews_naming_nothing"] = bucket.get("reviews_naming_nothing", 0) + (result["named"] == 0)
            per_review.append(record)
            print(f"{group} {n + 1}/{len(texts)}  {record['occlusion+shap']['line'][:100]}", flush=True)

    met = all(
        b["new"]["below_floor"] == 0 and b["new"]["wrong_direction"] == 0 for g in totals.values() for b in g.values()
    )
    summary = {
        "target": "the answer names no word whose removal effect is below the 0.05-star floor, and none in the "
        "direction opposite to its removal effect (checked with predict_proba), on >= 20 saturated and 20 ordinary "
        "reviews",
        "met": met,
        "reviews": {k: len(v) for k, v in groups.items()},
        "floor_stars": 0.05,
        "data": f"VADER movie snippets of 6-30 words (not used in training), seeded sample of {len(pool)}",
        "shap_max_evals": args.shap_evals,
        "totals": totals,
        "per_review": per_review,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_1_5_15": os.getloadavg(), "python": platform.python_version()},
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "answer-floor.json"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    print(json.dumps({k: summary[k] for k in ("met", "reviews", "totals", "seconds", "machine")}, indent=1))


if __name__ == "__main__":
    main()
