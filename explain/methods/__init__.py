"""The registry of explanation methods, and `explain()`, the one way to run any of them.

Each method is a function in its own module, registered on definition with `@register(...)`:

    @register("occlusion", summary=..., additive=False, per_label=True)
    def occlusion(classifier, text, target, *, mode="delete") -> Explanation: ...

It takes a `Classifier`, a non-empty text and a `Target` (what to explain: a class, a class minus a
contrast, or the expected rating; class-agnostic methods registered with `class_specific=False` get
None), and returns an `Explanation`.
Modules import their heavy libraries (shap, lime, captum) inside the function, so importing the
registry stays cheap. Budget parameters keep their libraries' names: `max_evals`, `num_samples`,
`n_steps`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from explain.classifier import Classifier
from explain.errors import UnknownMethodError, UserError
from explain.explanation import Explanation
from explain.limits import check_text
from explain.target import Target

# Every module that registers methods; imported when the registry is first used.
METHOD_MODULES = ("occlusion", "shap", "lime", "attention", "gradients", "amortized")


@dataclass(frozen=True)
class Method:
    """A registered method and what it can do (capability flags read by metrics, CLI and dashboard)."""

    name: str
    function: Callable[..., Explanation]
    summary: str
    reference: str = ""
    aliases: tuple[str, ...] = ()
    additive: bool = False  # scores (plus a base value) add up to the model output
    per_label: bool = False  # one run scores every label (so contrasts are free)
    needs_gradients: bool = False
    budget: str | None = None  # name of the parameter that trades time for accuracy
    class_specific: bool = True  # False: scores say where the model looked, with no direction and no question
    signed: bool = True  # scores can be negative (lowering the output); False: magnitudes only (saliency, grad_attn)
    # Checks the full parameters before any work (a bad value is a UserError), e.g. occlusion's mode.
    validate: Callable[[dict[str, Any]], None] | None = None
    # Model evaluations planned for one reading of the text, from the full parameters (lime: num_samples).
    evaluations: Callable[[dict[str, Any]], int] | None = None

    @property
    def parameters(self) -> dict[str, object]:
        """Tunable keyword parameters and their defaults."""
        sig = inspect.signature(self.function)
        return {p.name: p.default for p in sig.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY}

    @property
    def optional(self) -> frozenset[str]:
        """Keyword parameters that also take None (annotated `... | None`)."""
        sig = inspect.signature(self.function)
        return frozenset(
            p.name
            for p in sig.parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and "None" in str(p.annotation)
        )

    def resolve(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Every parameter this call would use (defaults filled in); an unknown name is a user error."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            valid = ", ".join(f"{k}={v!r}" for k, v in self.parameters.items()) or "none"
            raise UserError(f"{self.name} has no parameter {', '.join(unknown)}; its parameters: {valid}")
        defaults = self.parameters
        for name, value in params.items():
            expected = _expected_type(defaults[name])
            if value is None and name in self.optional:
                continue
            if expected is not None and not _is_a(value, expected):
                raise UserError(
                    f"{self.name}'s {name} must be {_TYPE_WORDS[expected]} (got {value!r}); default {defaults[name]!r}"
                )
        return defaults | params

    def check(self, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The full parameters of a call (`resolve`), each checked before any work: a bad value (a mode that
        does not exist, a budget below its minimum) is a one-line UserError, for every entry alike."""
        full = self.resolve(params)
        if self.validate is not None:
            try:
                self.validate(full)
            except UserError as exc:  # named after the method, as a bad name or type is
                message = str(exc)
                raise type(exc)(message if message.startswith(self.name) else f"{self.name}: {message}") from None
        return full


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _expected_type(default: object) -> type | None:
    """The type a parameter's values must have, read from its default (None: any value)."""
    for kind in (bool, int, float, str):  # bool before int: True is an int too
        if isinstance(default, kind):
            return kind
    return None


def _is_a(value: object, kind: type) -> bool:
    """Is `value` acceptable where the default is a `kind` (numpy integers count as integers)?"""
    if kind is bool:
        return isinstance(value, (bool, np.bool_))
    if isinstance(value, (bool, np.bool_)):
        return False
    if kind is int:
        return isinstance(value, numbers.Integral)
    if kind is float:
        return isinstance(value, numbers.Real)
    return isinstance(value, kind)


_REGISTRY: dict[str, Method] = {}
_ALIASES: dict[str, str] = {}


def register(
    name: str,
    *,
    summary: str,
    reference: str = "",
    aliases: tuple[str, ...] = (),
    additive: bool = False,
    per_label: bool = False,
    needs_gradients: bool = False,
    budget: str | None = None,
    class_specific: bool = True,
    signed: bool = True,
    validate: Callable[[dict[str, Any]], None] | None = None,
    evaluations: Callable[[dict[str, Any]], int] | None = None,
) -> Callable[[Callable[..., Explanation]], Callable[..., Explanation]]:
    """Decorator: register an explanation function under `name` (and `aliases`).

    `validate(params)` checks the full parameters before any work; `evaluations(params)` is the number of
    model evaluations one reading of the text is planned to take (the budget rule, `check_budget`)."""

    def decorate(function: Callable[..., Explanation]) -> Callable[..., Explanation]:
        if name in _REGISTRY and _REGISTRY[name].function is not function:
            raise ValueError(f"method {name!r} is registered twice")
        _REGISTRY[name] = Method(
            name,
            function,
            summary,
            reference,
            tuple(aliases),
            additive,
            per_label,
            needs_gradients,
            budget,
            class_specific,
            signed and class_specific,
            validate,
            evaluations,
        )
        for alias in aliases:
            _ALIASES[alias] = name
        return function

    return decorate


def _load_all() -> None:
    for module in METHOD_MODULES:
        importlib.import_module(f"explain.methods.{module}")


def methods() -> list[Method]:
    """All registered methods, in registration order."""
    _load_all()
    return list(_REGISTRY.values())


def get_method(name: str) -> Method:
    """The method called `name` (or one of its aliases); a clear error lists the valid names."""
    _load_all()
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise UnknownMethodError(f"unknown method {name!r}; choose from: {', '.join(_REGISTRY)}")
    return _REGISTRY[key]


def parse_params(pairs: Sequence[str] | None, method_names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`--param` values -> keyword arguments per method (canonical names).

    `METHOD.NAME=VALUE` sets a parameter of one method; `NAME=VALUE` sets it for every chosen method
    that has it. Values are read as JSON (`200`, `0.5`, `"mask"`), else kept as text. Unknown
    methods or parameters are user errors that list the valid ones.
    """
    chosen = [get_method(name) for name in method_names]
    params: dict[str, dict[str, Any]] = {}
    for pair in pairs or []:
        name, eq, raw = pair.partition("=")
        method_name, dot, param = name.strip().rpartition(".")
        param = param.strip().replace("-", "_")
        if not eq or not param:
            raise UserError(f"--param {pair!r}: write NAME=VALUE or METHOD.NAME=VALUE, e.g. shap.max_evals=200")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        targets = [get_method(method_name)] if dot else [m for m in chosen if param in m.parameters]
        if dot and targets[0].name not in {m.name for m in chosen}:
            raise UserError(
                f"--param {pair!r} names {targets[0].name}, which is not among the chosen methods "
                f"({', '.join(m.name for m in chosen)})"
            )
        if not targets or param not in targets[0].parameters:
            listing = "; ".join(f"{m.name}: {', '.join(m.parameters) or '-'}" for m in (targets or chosen))
            raise UserError(f"--param {pair!r}: no such parameter ({listing})")
        for m in targets:
            params.setdefault(m.name, {})[param] = value
    return params


def new_explanation(
    classifier: Classifier,
    text: str,
    method: str,
    target: Target | None,
    *,
    token_scores=None,
    word_scores=None,
    label_token_scores=None,
    aggregation: str = "sum",
    unit: str = "",
    params: dict | None = None,
    diagnostics: dict | None = None,
    alignment=None,
    probabilities=None,
) -> Explanation:
    """Build an Explanation from token scores or word scores (the other is derived).

    Token scores -> word scores by `aggregation`; word scores -> token scores split evenly. With
    `label_token_scores` (n_tokens, n_labels) the explained scores are `label_token_scores @
    target.weights(...)`. `target=None`: a class-agnostic explanation (no question, no direction).
    Probabilities are the classifier's own for this text (`probabilities`: already computed by the method).
    """
    from explain.explanation import aggregate, spread

    alignment = alignment or classifier.align(text)
    n_words = len(alignment.words)
    if label_token_scores is not None:
        label_token_scores = np.asarray(label_token_scores, dtype=np.float64)
        token_scores = label_token_scores @ target.weights(len(classifier.labels))
    if token_scores is None and word_scores is None:
        raise ValueError("give token_scores, word_scores or label_token_scores")
    if token_scores is None:
        token_scores = spread(word_scores, alignment.token_to_word)
    if word_scores is None:
        word_scores = aggregate(token_scores, alignment.token_to_word, n_words, aggregation)
    explains = "none" if target is None else "rating" if target.is_rating else "label"
    return Explanation(
        text=text,
        model=classifier.name,
        method=method,
        labels=tuple(classifier.labels),
        target=None if target is None else target.label,
        contrast=None if target is None else target.contrast,
        probabilities=classifier.predict_proba([text])[0] if probabilities is None else probabilities,
        alignment=alignment,
        token_scores=token_scores,
        word_scores=word_scores,
        aggregation=aggregation,
        label_token_scores=label_token_scores,
        params=params or {},
        diagnostics=diagnostics or {},
        explains=explains,
        label_values=classifier.label_values,
        unit=unit,
    )


def probability_unit(classifier: Classifier, target: Target) -> str:
    """The unit of scores measured on probabilities: the rating's unit for the rating, else "probability"."""
    return (classifier.rating_unit or "rating points") if target.is_rating else "probability"


def explain(
    classifier: Classifier,
    text: str,
    method: str = "shap",
    target: str | int | Target | None = None,
    contrast: str | int | None = None,
    **params: object,
) -> Explanation:
    """Explain `classifier`'s output for `text` with one method.

    The question (`target`): None asks what moved the expected rating when the model has one (see
    `Classifier.target`), else why its predicted class; "rating"; a label name or index ("2 stars"),
    with an optional `contrast` ("why 2 stars rather than 4 stars"); or a `Target`. Class-agnostic
    methods (attention, rollout) answer no question. `params` go to the method (see
    `get_method(name).parameters`). Adds wall time, model evaluations and the forward-pass share of
    wall time (counted for this thread only) to the explanation's diagnostics.
    """
    m = get_method(method)
    check_text(text)  # size limit; no words (empty, zero-width, controls) is an EmptyTextError
    full_params = m.check(params)
    from explain.methods.budget import check_budget, window_share

    check_budget(m, full_params, window_share(classifier, text))  # before any model evaluation
    started = time.perf_counter()
    with classifier.metered() as meter:
        question = target if isinstance(target, Target) else classifier.target(target, contrast, text)
        result = m.function(classifier, text, question if m.class_specific else None, **params)
    wall = time.perf_counter() - started
    diagnostics = dict(result.diagnostics) | {
        "seconds": round(wall, 4),
        "model_evaluations": meter.rows,
        "forward_passes": meter.forward_passes,
        "forward_share": round(meter.seconds / wall, 4) if wall > 0 else 0.0,
    }
    return replace(result, params=full_params, diagnostics=diagnostics)


def check_plan(
    classifier: Classifier,
    texts: Sequence[str],
    method_names: Sequence[str],
    params: dict[str, dict[str, Any]] | None = None,
    *,
    every_text: bool = True,
) -> None:
    """Check a run of several methods on several texts before any of it starts: each method's parameters
    (`Method.check`: `occlusion.mode=bad` is one line) and its budget (`check_budget`) on every text, or with
    `every_text=False` (corpus runs, where a review over the budget fails alone) on the shortest one only, so
    a budget no review can meet is refused at once."""
    from explain.methods.budget import check_budget, window_share

    params = params or {}
    chosen = [(m, m.check(params.get(m.name))) for m in map(get_method, method_names)]
    budgeted = [(m, p) for m, p in chosen if m.evaluations is not None]
    if not budgeted or not texts:
        return
    if not every_text:
        texts = [min(texts, key=len)]
    for i, text in enumerate(texts):
        share = window_share(classifier, text)
        which = ("the review" if len(texts) == 1 else f"review {i + 1}") if every_text else "the shortest review"
        for m, p in budgeted:
            check_budget(m, p, share, which)


def method_names(spec: str | None, *, option: str = "--methods", extra: Sequence[str] = ()) -> list[str]:
    """Canonical method names from a comma-separated list: aliases resolved, duplicates dropped, order kept.

    None or "all" is every registered method; names in `extra` (pseudo-methods such as the evaluation's
    random baseline) pass as they are. An empty list or an unknown method is a user error naming `option`.
    """
    if spec is None or spec.strip().lower() == "all":
        return [m.name for m in methods()]
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise UserError(f"{option} is empty; name at least one method, e.g. {option} occlusion,shap")
    return list(dict.fromkeys(n if n in extra else get_method(n).name for n in names))
