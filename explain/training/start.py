"""Where `explain train` starts: the default star model (its head re-mapped to ordered labels) or a base checkpoint.

When the user's labels are ordered (1-5 stars, 1-10, 0-4, any ordered numbers, or named labels given
lowest first), training starts from the embedded default model, which already reads sentiment: its
1-5-star output rows are re-mapped to the user's labels by interpolating on the normalised value scale
(label i with value v_i sits at (v_i - v_1) / (v_k - v_1) of the way from 1 star to 5 stars and gets
the star rows on either side, weighted by distance), so before any training the re-mapped model already
orders texts as the star model does. Labels marked unordered (`LabelSet(..., ordered=False)`) start from
MiniLM-L6 with a new head, as before; `--base` overrides both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explain.errors import DataError
from explain.training.label_sets import LabelSet

START_CHOICES = ("auto", "default", "minilm")
# From the star model a few epochs suffice (benchmarks/train_start.py, 600 unseen movie snippets): 4 epochs
# (best: the third) beat MiniLM-L6's 7 (early-stopped; best: the fourth) on macro-F1 with 40 % of its CPU time.
STAR_START_EPOCHS = 4
BASE_START_EPOCHS = 10


@dataclass(frozen=True)
class Start:
    """A training run's starting weights: `checkpoint` (folder or hub id), `kind` ("default star model",
    "MiniLM-L6" or "--base"), whether its head is re-mapped to the user's labels (`remap_head`), why,
    and the most epochs a run from it needs by default."""

    checkpoint: str
    kind: str
    remap_head: bool
    reason: str
    max_epochs: int = BASE_START_EPOCHS

    def describe(self) -> str:
        head = "its 1-5-star head re-mapped to your labels" if self.remap_head else "a new classification head"
        return f"started from the {self.kind} ({head}): {self.reason}"

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "checkpoint": self.checkpoint,
            "head": "re-mapped from the star labels" if self.remap_head else "new",
            "reason": self.reason,
        }


def labels_ordered(labels: LabelSet) -> bool:
    """Are `labels` a scale (marked ordered, values strictly increasing) rather than categories?"""
    values = labels.values
    return labels.ordered and len(values) >= 2 and all(a < b for a, b in zip(values, values[1:], strict=False))


def choose_start(labels: LabelSet, base: str | Path | None = None, start: str = "auto") -> Start:
    """The start of a run over `labels`: `base` if given; else (`start` "auto") the default star model when the
    labels are ordered and MiniLM-L6 when they are not; `start` "default" or "minilm" picks one. The default
    model is built on first use (a few minutes once)."""
    from explain.default_model import base_model_dir, default_model_dir

    if start not in START_CHOICES:
        raise DataError(f"--start must be one of {', '.join(START_CHOICES)}; got {start!r}")
    if base is not None:
        if start != "auto":
            raise DataError("give --base or --start, not both (--base is the start)")
        return Start(str(base), "--base checkpoint", False, "--base given")
    ordered = labels_ordered(labels)
    if start == "minilm" or (start == "auto" and not ordered):
        reason = "--start minilm" if start == "minilm" else "the labels are unordered categories"
        return Start(str(base_model_dir()), "MiniLM-L6 base", False, reason)
    if not ordered:
        raise DataError("--start default needs ordered labels (a rating scale): these labels are unordered")
    reason = "--start default" if start == "default" else "the labels are ordered"
    return Start(str(default_model_dir()), "default star model", True, reason, STAR_START_EPOCHS)


def head_map(source_values, target_values) -> np.ndarray:
    """(k, m) matrix taking m source output rows (values `source_values`, increasing) to k target rows: each
    target value's position on the normalised scale, interpolated between its two nearest source rows."""
    s, t = np.asarray(source_values, dtype=float), np.asarray(target_values, dtype=float)
    if len(s) < 2 or np.any(np.diff(s) <= 0) or len(t) < 2 or np.any(np.diff(t) <= 0):
        raise DataError("re-mapping a head needs increasing source and target label values")
    s_norm, t_norm = (s - s[0]) / (s[-1] - s[0]), (t - t[0]) / (t[-1] - t[0])
    position = np.interp(t_norm, s_norm, np.arange(len(s), dtype=float))
    matrix = np.zeros((len(t), len(s)))
    for i, p in enumerate(position):
        lo = min(int(np.floor(p)), len(s) - 2)
        frac = p - lo
        matrix[i, lo] += 1 - frac
        matrix[i, lo + 1] += frac
    return matrix


def load_start(checkpoint: str, labels: LabelSet, remap_head: bool):
    """Tokenizer and a `...ForSequenceClassification` over `labels` (config carries id2label and label_values):
    every weight from `checkpoint`; the classification head new, or (`remap_head`) the checkpoint's own
    output rows re-mapped by `head_map` from its `label_values` (1..m if it has none) to the labels' values."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    source = None
    if remap_head:
        source = AutoModelForSequenceClassification.from_pretrained(checkpoint, attn_implementation="eager")
        m = source.config.num_labels
        source_values = getattr(source.config, "label_values", None) or list(range(1, m + 1))
        matrix = torch.tensor(head_map(source_values, labels.values), dtype=torch.float32)
    model = AutoModelForSequenceClassification.from_pretrained(
        checkpoint,
        num_labels=len(labels),
        id2label=dict(enumerate(labels.names)),
        label2id={label: i for i, label in enumerate(labels.names)},
        attn_implementation="eager",
        ignore_mismatched_sizes=True,
    )
    if source is not None:
        _copy_remapped_head(source, model, matrix)
    model.config.label_values = list(labels.values)
    model.config.problem_type = "single_label_classification"
    return tokenizer, model


def _copy_remapped_head(source, model, matrix: torch.Tensor) -> None:
    """Set `model`'s output layer (the head's last Linear, one output per label) to `matrix` @ `source`'s; every
    other head layer (BERT's pooler, DistilBERT's pre-classifier, RoBERTa's dense) is the source's already."""
    linears = [name for name, module in source.named_modules() if isinstance(module, torch.nn.Linear)]
    if not linears or source.get_submodule(linears[-1]).out_features != matrix.shape[1]:
        raise DataError("could not find the start model's output layer to re-map")
    old, new = source.get_submodule(linears[-1]), model.get_submodule(linears[-1])
    with torch.no_grad():
        new.weight.copy_(matrix @ old.weight.float())
        if new.bias is not None and old.bias is not None:
            new.bias.copy_(matrix @ old.bias.float())
