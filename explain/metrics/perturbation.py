"""Perturbed texts for faithfulness metrics: word removal on the text the model sees, rankings, curves,
and scoring many perturbations of one explanation with one `predict_proba` call.

The conventions are those of `explain.metrics.faithfulness` (its module docstring).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from explain.explanation import Explanation
from explain.target import Target
from explain.words import removal_string, remove_words

CURVE_STEPS = 20  # at most this many removal/insertion steps per curve (one per word for short texts)
CURVE_GRID = 21  # points curves are resampled to for averaging over texts (0%, 5%, ..., 100%)

WordScores = np.ndarray  # (n_words,)
Ranking = np.ndarray  # (n_words,) word indices, most supporting the target first


def top_k_count(fraction: float, n_words: int) -> int:
    """Number of words in the top `fraction` of `n_words`: ceil, at least 1, at most n_words."""
    if n_words <= 0:
        return 0
    return min(n_words, max(1, math.ceil(fraction * n_words - 1e-9)))  # 1e-9: 0.1 * 30 is 3.0000000000000004


def ranking(word_scores: WordScores) -> Ranking:
    """Word indices by score, highest first; equal scores keep text order."""
    return np.argsort(-np.asarray(word_scores, dtype=np.float64), kind="stable")


def curve_counts(n_words: int, steps: int = CURVE_STEPS) -> list[int]:
    """How many words are removed (or inserted) at each point of a curve: 0..n_words in <= steps steps."""
    m = min(n_words, steps)
    if m <= 0:
        return [0]
    return [int(math.floor(i * n_words / m + 0.5)) for i in range(m + 1)]


@dataclass(frozen=True)
class Curve:
    """Model output as words are removed (deletion) or added (insertion), most important first."""

    fractions: np.ndarray  # (n_points,) share of the words removed / inserted, 0..1
    outputs: np.ndarray  # (n_points,) model output for the target at each point

    @property
    def auc(self) -> float:
        """Area under the curve over the 0..1 fraction axis (trapezoid rule)."""
        if len(self.fractions) < 2:
            return float("nan")
        return float(np.trapezoid(self.outputs, self.fractions))

    def on_grid(self, n_points: int = CURVE_GRID) -> np.ndarray:
        """Outputs linearly interpolated at `n_points` evenly spaced fractions (to average curves)."""
        return np.interp(np.linspace(0.0, 1.0, n_points), self.fractions, self.outputs)


# ---------------------------------------------------------------- text surgery
class TextView:
    """The explained text as the model sees it, and how to remove words from it."""

    def __init__(self, classifier, explanation: Explanation, mode: str):
        self.replacement = removal_string(classifier.tokenizer, mode)
        offsets = explanation.alignment.word_offsets
        self.text = explanation.text[: offsets[-1][1]] if offsets else explanation.text
        self.offsets = offsets
        self.n = len(offsets)

    def without(self, words: Iterable[int]) -> str:
        """The text with these words removed (or masked)."""
        return remove_words(self.text, sorted(self.offsets[int(i)] for i in words), self.replacement)

    def only(self, words: Iterable[int]) -> str:
        """The text with every word except these removed (or masked)."""
        keep = {int(i) for i in words}
        return self.without(i for i in range(self.n) if i not in keep)


@dataclass(frozen=True)
class Probe:
    """Texts one metric needs scored, and how their model outputs become the metric's value."""

    texts: list[str]
    finish: Callable[[np.ndarray], object]


def output_change(out: np.ndarray, signed: bool) -> np.ndarray:
    """f(x) - f(x') for each perturbed x' (out[1:]); its size when the explanation makes no signed claim."""
    drops = out[0] - out[1:]
    return drops if signed else np.abs(drops)


def comprehensiveness_probe(view: TextView, order: Ranking, bins: Sequence[float], signed: bool = True) -> Probe:
    ks = [top_k_count(b, view.n) for b in bins]
    texts = [view.text] + [view.without(order[:k]) for k in ks]
    return Probe(texts, lambda out: float(np.mean(output_change(out, signed))))


def sufficiency_probe(view: TextView, order: Ranking, bins: Sequence[float], signed: bool = True) -> Probe:
    ks = [top_k_count(b, view.n) for b in bins]
    return Probe(
        [view.text] + [view.only(order[:k]) for k in ks], lambda out: float(np.mean(output_change(out, signed)))
    )


def curve_probe(view: TextView, order: Ranking, steps: int, insertion: bool) -> Probe:
    counts = curve_counts(view.n, steps)
    cut = view.only if insertion else view.without
    fractions = np.asarray(counts, dtype=np.float64) / max(view.n, 1)
    return Probe([cut(order[:k]) for k in counts], lambda out: Curve(fractions, np.asarray(out, dtype=np.float64)))


def loo_probe(view: TextView) -> Probe:
    return Probe([view.text] + [view.without([i]) for i in range(view.n)], lambda out: out[0] - out[1:])


def question(explanation: Explanation, target: Target | None = None) -> Target:
    """What faithfulness is measured on: `target`, else the explanation's own question, else (class-agnostic
    explanations) the rating when the model has one, else the predicted class."""
    if target is not None:
        return target
    if explanation.target_spec is not None:
        return explanation.target_spec
    if explanation.label_values is not None:
        return Target.rating(explanation.label_values)
    return Target.of_label(explanation.predicted)


def score_probes(classifier, target: Target, probes: Mapping[object, Probe]) -> dict[object, object]:
    """Score every probe's texts with one predict_proba call and finish each probe."""
    texts = [t for p in probes.values() for t in p.texts]
    outputs = target.from_proba(classifier.predict_proba(texts)) if texts else np.zeros(0)
    results, start = {}, 0
    for key, probe in probes.items():
        results[key] = probe.finish(outputs[start : start + len(probe.texts)])
        start += len(probe.texts)
    return results
