"""How much model work one explanation is planned to take, in the rows `Classifier.metered()` counts, so a
caller can show work done and time left while it runs (the dashboard's progress bars).

Rows are texts for a review that fits the model, windows for a long one. The plan comes from the method's
own budget (`Method.evaluations`, e.g. SHAP's `max_evals`, LIME's `num_samples`) or, for occlusion, from the
units it removes (one text per word or sentence, plus the review, which every explanation also reads
once more for its probabilities; a long review's variants share most of
their windows, so about 3 new windows per unit). It is a plan, not a promise: SHAP and LIME evaluate each
distinct masked text once, so they may finish early; a caller reports done / planned and stops at the end.
"""

from __future__ import annotations

from typing import Any

from explain.classifier import Classifier
from explain.methods import get_method
from explain.words import perturbation_units

NEW_WINDOWS_PER_UNIT = 3  # a long review's variant re-reads about this many windows (see explain.windows)


def planned_rows(classifier: Classifier, text: str, method: str, params: dict[str, Any] | None = None) -> int:
    """Rows (texts, or windows of a long review) `explain(classifier, text, method, **params)` plans to run."""
    m = get_method(method)
    full = m.resolve(params)
    windowed = classifier.windows(text)
    n_windows = 1 if windowed is None else len(windowed.windows)
    own = n_windows  # every explanation reads the review once more for its probabilities
    if "units" in full and m.name == "occlusion":
        units = len(perturbation_units(text, classifier.align(text), str(full["units"])))
        return own + (1 + units if windowed is None else n_windows + NEW_WINDOWS_PER_UNIT * units)
    evaluations = getattr(m, "evaluations", None)  # the budget rule's count, where the method has one
    if evaluations is not None:
        return own + max(1, int(evaluations(full))) * n_windows
    if m.budget and isinstance(full.get(m.budget), int):  # samples, evaluations or steps
        return own + max(1, int(full[m.budget])) * n_windows
    return own + n_windows  # one reading: attention, gradients
