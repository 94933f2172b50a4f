"""Ask a contrastive question: why 2 stars rather than 4? SHAP scores every label at once, so the
contrast is free (`for_label`); gradient methods compute it from logit_A - logit_B.

    .venv/bin/python examples/contrast.py
"""

from explain import explain, load_classifier

text = "Great sound, but the price is terrible and it broke after a week."
clf = load_classifier()

shap_exp = explain(clf, text, method="shap", target="2 stars")
contrast = shap_exp.for_label(clf.label_index("2 stars"), contrast=clf.label_index("4 stars"))
print(contrast.question, contrast.top_words(5))

ig = explain(clf, text, method="ig", target="2 stars", contrast="4 stars", n_steps=50)
print(ig.question, ig.top_words(5), "completeness delta:", ig.diagnostics.get("delta"))
