"""Which explanation to trust on one review: a verdict from the faithfulness numbers against the random
baseline, and the words on whose direction two methods disagree (both beyond the noise floor).

A method "beats chance" on a metric when it is better than the mean of random word rankings in the
metric's own direction (`MetricInfo.higher_is_better`). tau-LOO is leave-one-out agreement, and occlusion
*is* leave-one-out, so for occlusion tau-LOO is the reference it matches by construction, not a score:
it is left out of occlusion's count and of the ranking.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from explain.explanation import Explanation
from explain.metrics import metric_info
from explain.metrics.consensus import is_signed, noise_floor

REFERENCE_OF = {"occlusion": ("tau_loo",)}  # metrics a method matches by construction


def is_reference(method: str, metric: str) -> bool:
    """True when `metric` measures agreement with what `method` itself computes (occlusion and tau-LOO)."""
    return metric in REFERENCE_OF.get(method, ())


@dataclass(frozen=True)
class MethodStanding:
    """How one method did against chance on the metrics that score it."""

    method: str
    beats_chance: tuple[str, ...]
    scored: tuple[str, ...]  # metrics that count for it (finite, and not its own reference)
    best_on: tuple[str, ...]  # metrics where it is the best of the compared methods

    @property
    def share(self) -> float:
        return len(self.beats_chance) / len(self.scored) if self.scored else 0.0


@dataclass(frozen=True)
class Verdict:
    standings: tuple[MethodStanding, ...]  # most trustworthy first
    sentence: str


def _better(metric: str, value: float, than: float) -> bool:
    info = metric_info(metric)
    return value > than if info.higher_is_better else value < than


def faithfulness_verdict(values: Mapping[str, Mapping[str, float]], random: Mapping[str, float]) -> Verdict:
    """One sentence on which method's word ranking is most faithful here, from {method: {metric: value}} and
    the random-ranking means {metric: value}."""
    metrics = sorted({m for per in values.values() for m in per if m in random})
    best: dict[str, str | None] = {}
    for metric in metrics:
        counted = {
            name: per[metric]
            for name, per in values.items()
            if metric in per and per[metric] == per[metric] and not is_reference(name, metric)
        }
        best[metric] = metric_info(metric).best(counted) if counted else None
    standings = []
    for name, per in values.items():
        scored = tuple(
            m for m in metrics if m in per and per[m] == per[m] and random[m] == random[m] and not is_reference(name, m)
        )
        beats = tuple(m for m in scored if _better(m, per[m], random[m]))
        standings.append(MethodStanding(name, beats, scored, tuple(m for m in scored if best[m] == name)))
    standings.sort(key=lambda s: (-s.share, -len(s.best_on), s.method))
    return Verdict(tuple(standings), _sentence(standings))


def _sentence(standings: list[MethodStanding]) -> str:
    if not standings:
        return "No faithfulness numbers to compare."
    top = standings[0]
    if not top.beats_chance:
        return "No method ranks the words better than chance on this review: trust none of them here."
    line = (
        f"Trust {top.method} most here: it beats random word rankings on {len(top.beats_chance)} of "
        f"{len(top.scored)} faithfulness measures"
        + (f" and is the best on {len(top.best_on)}" if top.best_on else "")
        + "."
    )
    chance = [s.method for s in standings[1:] if s.scored and s.share <= 0.5]
    if chance:
        line += f" {', '.join(chance)} {'is' if len(chance) == 1 else 'are'} no better than chance on half or more."
    return line


@dataclass(frozen=True)
class SignReversal:
    """Words that two methods both say move the output by at least the noise floor, in opposite directions."""

    first: str
    second: str
    words: tuple[str, ...]
    effects: tuple[tuple[float, float], ...] = ()  # per word: (first method's score, second method's score)
    unit: str = ""  # the scores' unit, when both methods share one


def sign_reversals(explanations: Mapping[str, Explanation], floor: float | None = None) -> list[SignReversal]:
    """For each pair of signed methods, every word (with a letter or digit) that both score at or beyond the
    noise floor (`explain.metrics.consensus.noise_floor` in each one's unit, or `floor`) with opposite signs,
    wherever it ranks: a +0.42-star word that another method puts at -0.07 stars is flagged, not only words in
    both top fives.

    Explanations without a sign (class-agnostic attention and rollout, magnitude-only saliency and
    gradient-weighted attention) are skipped.
    """
    signed = {name: exp for name, exp in explanations.items() if is_signed(exp)}
    out = []
    for (a, ea), (b, eb) in itertools.combinations(signed.items(), 2):
        if ea.words != eb.words:
            continue
        floor_a = noise_floor(ea, ea.unit) if floor is None else floor
        floor_b = noise_floor(eb, eb.unit) if floor is None else floor
        sa, sb = ea.word_scores, eb.word_scores
        clear = (np.abs(sa) >= floor_a) & (np.abs(sb) >= floor_b) & (sa * sb < 0)
        flipped = [int(i) for i in np.flatnonzero(clear) if any(c.isalnum() for c in ea.words[i])]
        flipped.sort(key=lambda i: -min(abs(sa[i]), abs(sb[i])))  # the clearest disagreement first
        if flipped:
            out.append(
                SignReversal(
                    a,
                    b,
                    tuple(ea.words[i] for i in flipped),
                    tuple((float(sa[i]), float(sb[i])) for i in flipped),
                    ea.unit if ea.unit == eb.unit else "",
                )
            )
    return out
