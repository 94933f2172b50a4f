"""An explanation's diagnostics in plain words: a label, a readable value and what it means (for hovering).

Methods record developer names (`fx`, `forward_share`, `base_values`); readers of the dashboard and the
report see these rows instead. Diagnostics with no entry here are shown under their own name; the
internal ones (batch sizes, per-label lists) are left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from explain.explanation import Explanation


@dataclass(frozen=True)
class Diagnostic:
    """One row: what it is, its value as text, and what it means."""

    label: str
    value: str
    meaning: str


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _percent(value: Any) -> str:
    return f"{100 * float(value):.0f} %"


def _seconds(value: Any) -> str:
    return f"{float(value):.2f} s"


def _yes_no(value: Any) -> str:
    return "yes" if value else "no"


# name -> (label, meaning, formatter); formatter None: leave the diagnostic out
_GLOSSARY: dict[str, tuple[str, str, Callable[[Any], str] | None]] = {
    "seconds": ("time", "Wall-clock time this explanation took on this machine.", _seconds),
    "model_evaluations": (
        "texts the model scored",
        "How many (perturbed) texts the model classified to build this explanation.",
        _number,
    ),
    "forward_passes": ("model calls", "Batched forward passes through the model.", _number),
    "forward_share": (
        "time spent in the model",
        "Share of the time spent running the model (the rest is the method's own work).",
        _percent,
    ),
    "fx": (
        "explained output",
        "The model output the scores explain for this review (the expected rating, a probability, a logit, or a "
        "difference of them).",
        _number,
    ),
    "base_value": (
        "output with no words",
        "The explained output when the words are removed (masked); the scores share out the difference.",
        _number,
    ),
    "additivity_error": (
        "additivity gap",
        "|sum of scores + output with no words - explained output|: 0 means the scores add up exactly.",
        _number,
    ),
    "delta": (
        "completeness gap",
        "Integrated gradients: sum of scores - (output - baseline output); close to 0 when the path is fine enough.",
        _number,
    ),
    "relative_delta": (
        "relative completeness gap",
        "The completeness gap divided by the output change; IG doubles its path points until it is at most "
        "0.01 (up to max_steps).",
        _number,
    ),
    "n_steps": (
        "path points",
        "Integrated gradients: points on the path from the baseline to the review (doubled from 50 while the "
        "completeness gap was too large).",
        _number,
    ),
    "explained_output": ("scores explain", "Which model output the gradients were taken of.", str),
    "score": (
        "local fit (R²)",
        "LIME: how well its weighted linear model reproduces the model near this review (1: perfectly).",
        _number,
    ),
    "intercept": ("fit with no words", "LIME: the linear model's output when every word is removed.", _number),
    "local_pred": ("fit for the review", "LIME: the linear model's output for the whole review.", _number),
    "mode": ("how words are removed", "delete: the word is dropped; mask: replaced by the mask token.", str),
    "variants": ("texts tried", "Occlusion: the review once without each word.", _number),
    "truncated": (
        "review cut",
        "Whether the review was longer than the model reads; only its first part is explained.",
        _yes_no,
    ),
    "class_specific": (
        "depends on the label",
        "No: the scores are the same whatever label is asked about (attention shows where the model looks, "
        "not which way a word pushes).",
        _yes_no,
    ),
    "layer": ("layer", "The attention layer shown (0 is the first).", _number),
    "layers": ("layers in the model", "Number of transformer layers.", _number),
    "unit": (
        "removed at a time",
        "What occlusion and LIME removed at a time: words, or whole sentences when asked (units=sentence) and on "
        "long reviews, then fixed chunks of text (a sentence's or chunk's score is spread evenly over its words).",
        str,
    ),
    "units": ("pieces removed", "How many words, sentences or chunks were removed one at a time.", _number),
    "windows": (
        "windows read",
        "A review longer than the model reads at once is read in overlapping windows; 1 when it fits.",
        _number,
    ),
    "score_label": ("fit shown for", "LIME keeps the fit quality of one label: this one.", str),
    "exact": ("exact", "SHAP: yes when the whole Owen tree fitted the budget (no approximation).", _yes_no),
    "estimated_error": (
        "estimated error",
        "SHAP: largest change of a score between half the budget and the whole; raise max_evals when large.",
        _number,
    ),
    "evals": ("evaluations used", "SHAP: masked texts evaluated within max_evals.", _number),
    "full_tree_evals": ("evaluations for exact", "SHAP: masked texts the whole Owen tree would need.", _number),
    "approximation": (
        "learned approximation",
        "Amortized: a small head on the model's hidden states predicts the teacher method's scores in one forward "
        "pass; fidelity is its mean Spearman with the teacher's word scores on reviews it was not fitted on.",
        str,
    ),
    "teacher": ("", "", None),
    "fidelity": ("", "", None),
    "model_calls": ("", "", None),
    "model_evals": ("", "", None),
    "base_values": ("", "", None),
    "intercepts": ("", "", None),
    "internal_batch_size": ("", "", None),
}


def readable_diagnostics(explanation: Explanation) -> list[Diagnostic]:
    """The explanation's question, diagnostics and parameters as plain-word rows."""
    rows = [
        Diagnostic("question", explanation.question, "What the scores answer: positive scores push toward it."),
        Diagnostic(
            "words from subwords",
            explanation.aggregation,
            "How a word's score is made from its subword tokens' scores.",
        ),
    ]
    rows += _rows(explanation.diagnostics)
    rows += [
        Diagnostic(f"setting: {name}", _number(value), "A parameter of the method (see `explain methods`).")
        for name, value in explanation.params.items()
    ]
    return rows


def _rows(diagnostics: Mapping[str, Any]) -> list[Diagnostic]:
    out = []
    for name, value in diagnostics.items():
        label, meaning, shown = _GLOSSARY.get(name, (name.replace("_", " "), "", _number))
        if shown is None or value is None or isinstance(value, list | tuple | dict):
            continue
        out.append(Diagnostic(label, shown(value), meaning))
    return out


def score_unit(explanation: Explanation) -> str:
    """What one unit of this explanation's scores is (stars, probability, logit, attention weight...)."""
    if explanation.unit:
        return explanation.unit
    return "attention weight" if not explanation.class_specific else "relevance"
