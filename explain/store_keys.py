"""Keys of the explanation cache: a model fingerprint, the method with every parameter, the question
(`RATING`, `PREDICTED` or a label index) and the text's hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explain.fingerprint import canonical_json as canonical_json  # re-exported
from explain.fingerprint import fingerprint as fingerprint  # re-exported

if TYPE_CHECKING:
    from explain.classifier import Classifier


PREDICTED = -1  # the `target` column's value for "the label the model predicts"
RATING = -2  # the `target` column's value for "the expected rating"
NO_CONTRAST = -1


@dataclass(frozen=True)
class StoreKey:
    """What identifies one cached explanation."""

    model: str
    method: str
    params: str
    target: int
    contrast: int
    text_hash: str


# ---------------------------------------------------------------------------- keys
def text_hash(text: str) -> str:
    """sha256 of the text's UTF-8 bytes (exact text: no normalisation)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def method_params(method: str, params: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The canonical method name and its full parameters (defaults filled in); unknown ones are errors."""
    from explain.methods import get_method

    m = get_method(method)
    return m.name, m.resolve(dict(params or {}))


def make_key(
    classifier: Classifier,
    text: str,
    method: str,
    params: Mapping[str, Any] | None = None,
    target: str | int | None = None,
    contrast: str | int | None = None,
) -> StoreKey:
    """The cache key of `explain(classifier, text, method, target, contrast, **params)`."""
    name, full = method_params(method, params)
    return StoreKey(
        model=fingerprint(classifier),
        method=name,
        params=canonical_json(full),
        target=question_code(classifier, name, target, contrast),
        contrast=NO_CONTRAST if contrast is None else classifier.label_index(contrast),
        text_hash=text_hash(text),
    )


def question_code(
    classifier: Classifier, method: str, target: str | int | None = None, contrast: str | int | None = None
) -> int:
    """The `target` column of an explanation's key: RATING, PREDICTED or a label index, as `explain()` resolves
    `target` (None: the rating for a rated model); class-agnostic methods always store PREDICTED."""
    from explain.methods import get_method
    from explain.target import is_rating_name

    if not get_method(method).class_specific:  # attention, rollout: the same scores for every question
        return PREDICTED
    if is_rating_name(target) or (target is None and contrast is None and classifier.has_rating):
        return RATING
    if target is None or (isinstance(target, str) and target.strip().lower() == "predicted"):
        return PREDICTED
    return classifier.label_index(target)
