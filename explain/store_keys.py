"""Keys of the explanation cache: a model fingerprint, the method with every parameter, the question
(`RATING`, `PREDICTED` or a label index) and the text's hash.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explain.explanation import jsonable

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
# Config entries that say where or how a model was loaded, not what it computes.
_RUNTIME_CONFIG_KEYS = {"transformers_version", "output_attentions", "output_hidden_states", "return_dict"}
_FINGERPRINTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Classifier -> fingerprint


def fingerprint(classifier: Classifier) -> str:
    """Hash of the classifier's weights, config and tokenizer; computed once per Classifier object.

    The weights are hashed tensor by tensor from the state dict (no copy of the model), in name
    order, so a model loaded from a folder and the same model built in memory agree. Being cached
    per object, it assumes the weights are not changed in place after the first call.
    """
    import torch

    cached = _FINGERPRINTS.get(classifier)
    if cached is not None:
        return cached
    h = hashlib.blake2b(digest_size=16)
    config = {
        k: v
        for k, v in classifier.model.config.to_dict().items()
        if not k.startswith("_") and k not in _RUNTIME_CONFIG_KEYS
    }
    h.update(canonical_json(config).encode())
    h.update(_tokenizer_identity(classifier.tokenizer).encode())
    h.update(f"label_values={classifier.label_values}".encode())  # the rating's values change its explanations
    for name, tensor in sorted(classifier.model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        h.update(memoryview(t.reshape(-1).view(dtype=torch.uint8).numpy()))
    value = h.hexdigest()
    _FINGERPRINTS[classifier] = value
    return value


def _tokenizer_identity(tokenizer: Any) -> str:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # truncation/padding are call-time state the tokenizer keeps, not identity
        state = {k: v for k, v in json.loads(backend.to_str()).items() if k not in ("truncation", "padding")}
        return canonical_json(state)
    vocab = tokenizer.get_vocab()
    return type(tokenizer).__name__ + json.dumps(sorted(vocab.items()))


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces; numpy scalars/arrays and tuples become plain JSON."""
    return json.dumps(jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


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
