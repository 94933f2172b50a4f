"""Loading a classifier by name: a model folder, a hub id, or None for the embedded default model.

This sits above `Classifier` (which loads a given checkpoint) and `explain.default_model` (the
default model's recipe and cache folder), so the lowest box never reaches the training recipe.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from explain.classifier import Classifier

DEFAULT_MODEL_NAME = "default (MiniLM-L6 VADER stars)"  # the name stored explanations are keyed by


def load_classifier(name_or_path: str | Path | None = None, **kwargs: Any) -> Classifier:
    """`Classifier.from_pretrained(name_or_path, **kwargs)`; None loads the default model (built on first use)."""
    if name_or_path is not None:
        return Classifier.from_pretrained(name_or_path, **kwargs)
    from explain.default_model import default_model_dir

    return Classifier.from_pretrained(default_model_dir(), name=DEFAULT_MODEL_NAME, **kwargs)
