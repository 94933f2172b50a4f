"""What a method explains: one number per text, computed from the model's output.

A `Target` is either a class (optionally minus a contrast class: "why 2 stars rather than 4") or the
*expected rating*, sum over labels of value x probability ("what moved the rating"). Every method takes
one and never re-writes "target minus contrast" itself:

- methods that score every label (SHAP, LIME, occlusion) combine their per-label scores with
  `weights`: the label values for the rating, one-hot(label) - one-hot(contrast) for a class;
- metrics map probabilities with `from_proba`;
- gradient methods differentiate `from_logits`: softmax(logits) @ values for the rating (so integrated
  gradients add up to a difference in stars), logit_label - logit_contrast for a class.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from explain.errors import UserError

RATING = "rating"
RATING_NAMES = ("rating", "expected rating", "stars", "expected stars")
RATING_QUESTION = "the expected rating"  # how `Target.describe` names the rating (and evaluation records store it)


def is_rating_name(value: object) -> bool:
    """Does a user's `target` ask for the expected rating ("rating", "stars", ...)?"""
    return isinstance(value, str) and value.strip().lower() in RATING_NAMES


@dataclass(frozen=True)
class Target:
    """A class (minus an optional contrast class), or the expected rating with its label values."""

    label: int | None = None
    contrast: int | None = None
    values: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if (self.label is None) == (self.values is None):
            raise ValueError("a Target is either a label or the rating (label values), not both or neither")
        if self.values is not None:
            object.__setattr__(self, "values", tuple(float(v) for v in self.values))
            if self.contrast is not None:
                raise ValueError("the rating has no contrast class")
            if not all(math.isfinite(v) for v in self.values):
                raise ValueError(f"label values must be finite numbers, got {self.values}")
        elif self.contrast is not None and self.contrast == self.label:
            raise ValueError("the contrast must differ from the target label")

    @classmethod
    def rating(cls, values: Sequence[float]) -> Target:
        return cls(values=tuple(values))

    @classmethod
    def of_label(cls, label: int, contrast: int | None = None) -> Target:
        return cls(label=int(label), contrast=None if contrast is None else int(contrast))

    @property
    def is_rating(self) -> bool:
        return self.values is not None

    def weights(self, n_labels: int) -> np.ndarray:
        """Linear weights over the labels: the explained number is `probabilities @ weights`."""
        if self.values is not None:
            if len(self.values) != n_labels:
                raise ValueError(f"{len(self.values)} label values for {n_labels} labels")
            return np.asarray(self.values, dtype=np.float64)
        w = np.zeros(n_labels)
        w[self.label] = 1.0
        if self.contrast is not None:
            w[self.contrast] = -1.0
        return w

    def from_proba(self, probs: np.ndarray) -> np.ndarray:
        """The explained number from probabilities (..., n_labels): rating, or p_label - p_contrast."""
        probs = np.asarray(probs, dtype=np.float64)
        return probs @ self.weights(probs.shape[-1])

    def from_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """The number gradient methods differentiate, per row of `logits` (batch, n_labels).

        The rating is softmax(logits) @ values, in the rating's unit; a class is its logit (minus the
        contrast's), as gradient explainers conventionally explain logits.
        """
        if self.values is not None:
            values = torch.tensor(self.values, dtype=logits.dtype, device=logits.device)
            return torch.softmax(logits, dim=-1) @ values
        out = logits[:, self.label]
        return out if self.contrast is None else out - logits[:, self.contrast]

    def describe(self, labels: Sequence[str]) -> str:
        """Short words for the question: "the expected rating", "2 stars", "2 stars rather than 4 stars"."""
        if self.values is not None:
            return RATING_QUESTION
        if self.contrast is None:
            return labels[self.label]
        return f"{labels[self.label]} rather than {labels[self.contrast]}"


def no_rating_error(labels: Sequence[str]) -> UserError:
    """The one-line error for asking the rating of a model whose labels have no order."""
    shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
    return UserError(
        f"this model's labels ({shown}) have no numeric order, so it has no rating; give label values "
        "(--label-values 1,2,3 / Classifier(..., label_values=[...])) or explain a class with --target LABEL"
    )
