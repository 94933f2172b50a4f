"""Predict and explain one review with the embedded default model.

.venv/bin/python examples/quickstart.py "The battery died after two days, what a waste of money."
"""

import sys

from explain import explain, load_classifier

text = sys.argv[1] if len(sys.argv) > 1 else "I hate very cold, and cloudy winter days"
clf = load_classifier()  # the default model (built once into the cache on first use)

probs = clf.predict_proba([text])[0]
for label, p in zip(clf.labels, probs, strict=True):
    print(f"{label:>8}  {p:.3f}")

for method in ("occlusion", "shap", "ig"):
    exp = explain(clf, text, method=method)
    words = ", ".join(f"{w} {s:+.3f}" for w, s in exp.top_words(5))
    print(f"\n{method}: {exp.question} ({exp.diagnostics['seconds']:.2f} s)\n  {words}")
