"""What a corpus run is made of: its methods with full parameters, its counts, and the store key of each result."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from explain.classifier import Classifier
from explain.errors import UserError
from explain.methods import method_names
from explain.store import NO_CONTRAST, StoreKey, canonical_json, method_params, question_code, text_hash


@dataclass(frozen=True)
class MethodSpec:
    """One method of a corpus run, with its full parameters (defaults filled in)."""

    name: str
    params: Mapping[str, Any]

    @property
    def params_json(self) -> str:
        return canonical_json(self.params)


def split_methods(methods: str) -> list[str]:
    """`"occlusion, shap"` -> ["occlusion", "shap"] (canonical names); an empty list is an error."""
    return method_names(methods)


def method_specs(methods: Sequence[str], params: Mapping[str, Mapping[str, Any]] | None = None) -> list[MethodSpec]:
    """Resolve method names (aliases allowed, duplicates dropped) and their parameters."""
    if not methods:
        raise UserError("name at least one method, e.g. --methods occlusion")
    params = params or {}
    specs: dict[str, MethodSpec] = {}
    for method in methods:
        name, full = method_params(method, params.get(method, {}))
        specs.setdefault(name, MethodSpec(name, full))
    unused = [m for m in params if method_params(m)[0] not in specs]
    if unused:
        raise UserError(f"parameters given for {', '.join(unused)}, which is not among the methods run")
    return list(specs.values())


@dataclass
class RunStats:
    """What one corpus run did."""

    engine: str
    items: int  # (unique text, method) pairs asked for
    cached: int = 0  # already in the store
    computed: int = 0  # explained by this run
    raced: int = 0  # of those, how many a concurrent run had stored first (the store keeps one copy)
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (method, text, error)
    seconds: float = 0.0

    def stored(self, new: bool) -> None:
        """Count one explanation this run computed; `new`: whether the store took it (False: another run sharing
        the cache had stored the same result first, so this run's copy was not needed, but it was computed)."""
        self.computed += 1
        self.raced += not new

    @property
    def rate(self) -> float:
        """Explanations computed per second of this run."""
        return self.computed / self.seconds if self.seconds > 0 else 0.0


def store_key(fp: str, spec: MethodSpec, text: str, classifier: Classifier) -> StoreKey:
    """The store key of `explain(classifier, text, spec.name, **spec.params)`: its default question."""
    return StoreKey(fp, spec.name, spec.params_json, question_code(classifier, spec.name), NO_CONTRAST, text_hash(text))
