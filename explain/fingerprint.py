"""A model's fingerprint: what identifies a classifier's function (weights, config, tokenizer, label values).

Cached explanations (`explain.store_keys`) and fitted amortized heads (`explain.word_head`) are filed under
it, so a retrained or different model never reads another model's results.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from typing import TYPE_CHECKING, Any

from explain.explanation import jsonable

if TYPE_CHECKING:
    from explain.classifier import Classifier

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
