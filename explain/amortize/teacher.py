"""Teacher labels: a per-label method's explanations of the training reviews, through the SQLite cache.

Each label is stored as soon as it is computed (`ExplanationStore`, one short transaction per review), so a
killed fit loses at most the review it was on, and a second fit of the same model, teacher and reviews
recomputes nothing. The teacher must answer every label in one run (`per_label`: shap, occlusion, lime),
so that the head learns per-label scores and can answer any question; class-agnostic methods say nothing
about a direction and are refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from explain.classifier import Classifier
from explain.errors import UserError
from explain.explanation import Explanation
from explain.methods import explain, get_method
from explain.store import ExplanationStore, make_key

DEFAULT_TEACHER = "shap"
DEFAULT_TEACHER_PARAMS = {"max_evals": 64}  # cheap, noisy training labels (benchmarks/amortized.py measures why)


@dataclass(frozen=True)
class Teacher:
    """The method whose scores the head learns, with its parameters (defaults filled in)."""

    method: str = DEFAULT_TEACHER
    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_TEACHER_PARAMS))

    @property
    def given_params(self) -> dict[str, Any]:
        """The parameters that differ from the method's defaults (for the head's description)."""
        defaults = get_method(self.method).parameters
        return {k: v for k, v in self.params.items() if defaults.get(k) != v}


def choose_teacher(method: str = DEFAULT_TEACHER, params: dict[str, Any] | None = None) -> Teacher:
    """A checked teacher: a registered, class-specific method that scores every label in one run."""
    m = get_method(method)
    if not m.class_specific:
        raise UserError(
            f"{m.name} is class-agnostic (where the model looked, with no direction): it cannot teach word scores "
            "that raise or lower the rating; choose shap, occlusion or lime"
        )
    if not m.per_label:
        raise UserError(f"{m.name} scores one label per run; the teacher must score every label: shap, occlusion, lime")
    if m.name == "amortized":
        raise UserError("amortized cannot teach itself; choose shap, occlusion or lime")
    chosen = dict(DEFAULT_TEACHER_PARAMS) if params is None and m.name == DEFAULT_TEACHER else dict(params or {})
    return Teacher(m.name, m.resolve(chosen))


@dataclass
class LabelCounts:
    """How many teacher labels were computed now, and how many were read from the cache."""

    computed: int = 0
    cached: int = 0


def teacher_labels(
    classifier: Classifier,
    texts: Sequence[str],
    chosen: Teacher,
    store: ExplanationStore,
    question: str | None,
    counts: LabelCounts,
    stop: Callable[[], bool] = lambda: False,
) -> Iterator[tuple[int, Explanation]]:
    """(index, teacher explanation) per text, read from `store` or computed and stored; stops early when
    `stop()` says so (a time budget). `counts` is updated as labels come."""
    for i, text in enumerate(texts):
        if stop():
            return
        key = make_key(classifier, text, chosen.method, chosen.params, question)
        found = store.get(key)
        if found is None:
            found = explain(classifier, text, method=chosen.method, target=question, **chosen.params)
            store.put(key, found)
            counts.computed += 1
        else:
            counts.cached += 1
        yield i, found
