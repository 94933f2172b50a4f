"""The fine-tuning recipe (`TrainingConfig`, `fine_tune`): one code path for `explain train` and the default model."""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

from explain.errors import DataError, ModelNotFoundError
from explain.training.config_checks import check_config
from explain.training.label_sets import LabelSet
from explain.training.output import prepare_output, save_model
from explain.training.scores import evaluate_labels
from explain.training.start import Start, load_start


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of a fine-tuning run.

    `max_epochs` is the most epochs; with a validation split (`validation_fraction` > 0) the epoch
    with the best validation `select_on` (macro_f1, ties by MAE; or mae) is kept and training stops
    after `patience` epochs without improvement. `max_length=None` takes the 95th percentile of the
    training texts' token lengths (rounded up to a multiple of 8); longer texts are trained on their
    first `max_length` tokens. `class_weighting` weighs the loss by inverse class frequency so that a
    majority class cannot win by default. `max_minutes` stops training (the best epoch so far kept).
    `freeze_layers` keeps the embeddings and the lowest N transformer layers as they are (0: train all).
    """

    max_epochs: int = 10
    learning_rate: float = 1e-4
    batch_size: int = 16
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    max_length: int | None = None
    seed: int = 13
    class_weighting: bool = True
    validation_fraction: float = 0.15
    patience: int = 3
    select_on: str = "macro_f1"
    max_minutes: float | None = None
    freeze_layers: int = 0

    def __post_init__(self) -> None:
        """Every value checked for type, finiteness and range when the config is made, before any work: a NaN or
        infinite learning rate never trains a model whose probabilities are all NaN."""
        check_config(self)


# The recipe the first default model was built with (minilm-l6-vader-stars-v1): fixed epochs, nothing held out.
LEGACY_DEFAULT_CONFIG = TrainingConfig(
    max_epochs=2, max_length=128, class_weighting=False, validation_fraction=0.0, patience=0
)
# The default model's recipe (minilm-l6-vader-stars-v3; v2 chose up to 3 epochs on validation MAE, over rounded
# labels of Amazon sentences and tweets only): one pass over sentences of four corpora and
# multi-sentence passages (`explain.default_model.training_examples`) with soft labels, nothing held out
# for validation (the held-out split scores the model), up to 160 tokens (a whole review of about 120 words).
DEFAULT_MODEL_CONFIG = TrainingConfig(
    max_epochs=1, class_weighting=False, validation_fraction=0.0, patience=0, max_length=160
)


Grouped = TypeVar("Grouped")  # anything with `.group` and `.text` (an `Example`, a rated sentence)


@dataclass
class Example:
    text: str
    label: int  # index into the LabelSet
    group: str = ""
    soft: tuple[float, ...] | None = None  # a distribution over the labels (trained on when every example has one)

    @property
    def stars(self) -> int:
        """The label on the 5-star scale (label index + 1)."""
        return self.label + 1


def grouped_split(examples: Sequence[Grouped], test_fraction: float, seed: int) -> tuple[list[Grouped], list[Grouped]]:
    """Split by group (review id): no sentence of a test review is in training. Deterministic, and each item's side
    depends only on its own group, so the same groups split the same way whatever else is in `examples` (training
    `Example`s or the rated sentences they were made from)."""

    def bucket(group: str) -> float:
        digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    train, test = [], []
    for ex in examples:
        (test if bucket(ex.group or ex.text) < test_fraction else train).append(ex)
    return train, test


def data_hash(examples: Sequence[Example], labels: LabelSet) -> str:
    """sha256 of the labelled texts (text and label name per example, in order)."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.text, labels.names[ex.label]] + ([list(ex.soft)] if ex.soft else [])).encode())
        h.update(b"\n")
    return h.hexdigest()


def _length_bucketed_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar-length examples (less padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def fine_tune(
    base: str | Path | Start,
    train: Sequence[Example],
    out_dir: str | Path,
    config: TrainingConfig = TrainingConfig(),
    progress: bool | Callable[[int, int], None] = True,
    on_saved: Callable[[Path], dict] | None = None,
    overwrite: bool = False,
    owned: bool = False,
    labels: LabelSet | None = None,
) -> Path:
    """Fine-tune `base` into a `...ForSequenceClassification` over `labels` (default: 1-5 stars),
    written atomically to `out_dir`; its config carries `id2label` and `label_values`. `base` is a checkpoint
    (a new head) or a `Start` (`explain.training.start.choose_start`: the default star model's head re-mapped
    to `labels`, recorded under "start" in the recipe). `progress`: a bar on
    standard error (True), nothing (False), or a function called with (steps done, total steps) after each step.

    The model is saved to a temporary sibling folder and renamed into place at the end, so a run
    killed halfway leaves nothing that later loads as a model. `on_saved(tmp_dir)` may write more
    files (metrics) before the rename; its returned dict is stored as metrics.json, with the recipe
    and the per-epoch history under "training". The output is checked before training (see
    `prepare_output`): an existing folder is replaced only if this tool wrote it and `overwrite` is
    set (or the caller `owned` the location, as the default model's cache).
    """
    labels = labels or LabelSet.stars()
    if not train:
        raise DataError("no training examples")
    bad_soft = [ex.text[:40] for ex in train if ex.soft is not None and len(ex.soft) != len(labels)]
    if bad_soft:
        raise DataError(f"soft labels must have {len(labels)} values; {bad_soft[0]!r}... has not")
    bad = sorted({ex.label for ex in train if ex.label not in range(len(labels))})
    if bad:
        raise DataError(f"label indices must be 0-{len(labels) - 1}; got {bad[:5]}")
    if len({ex.label for ex in train}) < 2:
        raise DataError(f"all {len(train)} training reviews have the same label; nothing to learn")
    start = base if isinstance(base, Start) else Start(str(base), "given checkpoint", False, "base given")
    base = start.checkpoint
    if not Path(base).exists() and "/" not in base:
        raise ModelNotFoundError(f"base checkpoint {base!r} is not a folder")

    out_dir = Path(out_dir)
    tmp = prepare_output(out_dir, overwrite=overwrite, owned=owned)
    try:
        model, tokenizer, info = _train(start, train, config, labels, progress)
        recipe = asdict(config) | {"base": base, "n_train": len(train), "data_sha256": data_hash(train, labels)}
        recipe["start"] = start.as_dict()
        save_model(model, tokenizer, out_dir, tmp, on_saved, recipe | info, overwrite or owned, owned)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _predict(model, tokenizer, texts: Sequence[str], max_length: int, batch_size: int = 64) -> np.ndarray:
    """Class probabilities (n, k) of `texts` in input order, evaluated in length-sorted batches."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    probs = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            batch = tokenizer(
                [texts[i] for i in idx], truncation=True, max_length=max_length, padding=True, return_tensors="pt"
            )
            probs[idx] = torch.softmax(model(**batch).logits.float(), -1).numpy()
    return probs


def _choose_max_length(tokenizer, texts: Sequence[str], config: TrainingConfig) -> tuple[int, str]:
    """The configured max length, or the 95th percentile of the texts' token lengths (multiple of 8)."""
    limit = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
    if config.max_length:
        return min(config.max_length, limit), "configured"
    lengths = [len(ids) for ids in tokenizer(list(texts), truncation=True, max_length=limit)["input_ids"]]
    p95 = float(np.percentile(lengths, 95))
    return int(min(limit, max(16, 8 * math.ceil(p95 / 8)))), f"95th percentile of training token lengths ({p95:.0f})"


def _class_weights(
    labels_of: Sequence[int], k: int, enabled: bool, soft: torch.Tensor | None = None
) -> torch.Tensor | None:
    """Inverse class frequency, mean 1 over the classes present (absent classes 0); None if disabled. With soft
    labels a class's frequency is its share of the soft labels' mass (a class only ever half-meant still counts)."""
    if not enabled:
        return None
    if soft is not None:
        counts = soft.double().sum(0).numpy()
    else:
        counts = np.bincount(np.asarray(labels_of), minlength=k).astype(float)
    present = counts > 1e-9
    weights = np.where(present, counts.sum() / (present.sum() * np.maximum(counts, 1e-9)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def _select_key(m: dict, select_on: str) -> tuple[float, float]:
    if select_on == "mae":
        return (-m["mae"], m["macro_f1"])
    return (m["macro_f1"], -m["mae"])


def _validation_split(train: Sequence[Example], config: TrainingConfig) -> tuple[list[Example], list[Example]]:
    """(fit, validation) by group; no validation when it would hold fewer than 5 examples."""
    if config.validation_fraction > 0:
        fit, val = grouped_split(train, config.validation_fraction, config.seed + 1)
        if len(val) >= 5 and len({ex.label for ex in fit}) >= 2:
            return fit, val
    return list(train), []


def _epoch_line(record: dict) -> str:
    line = f"epoch {record['epoch']}: train loss {record['train_loss']:.3f}"
    v = record.get("validation")
    if v:
        line += f", validation macro-F1 {v['macro_f1']:.3f}, accuracy {v['accuracy']:.3f}, MAE {v['mae']:.3f}"
        line += " (best so far)" if record.get("best") else ""
    return line


def _freeze(model, n_layers: int) -> int:
    """Freeze the embeddings and the lowest `n_layers` transformer layers; returns the layers frozen."""
    if n_layers <= 0:
        return 0
    backbone = getattr(model, getattr(model, "base_model_prefix", ""), None) or model.base_model
    stack = getattr(getattr(backbone, "encoder", None), "layer", None)
    if stack is None:
        stack = getattr(getattr(backbone, "transformer", None), "layer", None)  # DistilBERT
    if stack is None:
        raise DataError(f"cannot freeze layers of a {type(model).__name__}: no encoder layer stack found")
    if n_layers > len(stack):
        raise DataError(f"--freeze-layers {n_layers}: the model has {len(stack)} layers")
    for module in [backbone.embeddings, *stack[:n_layers]]:
        for p in module.parameters():
            p.requires_grad_(False)
    return n_layers


def _optimizer(model, config: TrainingConfig, total: int):
    """AdamW (no decay on biases and norms) with linear warm-up and linear decay over `total` steps."""
    warmup = max(1, int(total * config.warmup_fraction))
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim == 1 else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))
    )
    return optimizer, scheduler


@dataclass
class _Run:
    """What one training run carries from epoch to epoch."""

    model: object
    tokenizer: object
    config: TrainingConfig
    labels: LabelSet
    fit: list
    val: list
    max_length: int
    progress: bool | Callable[[int, int], None]
    deadline: float | None

    def __post_init__(self):
        self.rng = random.Random(self.config.seed)
        self.encoded = self.tokenizer([ex.text for ex in self.fit], truncation=True, max_length=self.max_length)
        self.y = [ex.label for ex in self.fit]
        # Soft labels (a distribution over the labels) when every example has one: cross-entropy to it.
        self.soft = (
            torch.tensor([ex.soft for ex in self.fit], dtype=torch.float32)
            if all(ex.soft is not None for ex in self.fit)
            else None
        )
        self.weights = _class_weights(self.y, len(self.labels), self.config.class_weighting, self.soft)
        self.lengths = [len(ids) for ids in self.encoded["input_ids"]]
        total = math.ceil(len(self.fit) / self.config.batch_size) * self.config.max_epochs
        self.optimizer, self.scheduler = _optimizer(self.model, self.config, total)
        self.bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=self.progress is not True)
        self.steps, self.total = 0, total
        self.best_state, self.best_key, self.since_best = None, None, 0

    def epoch(self) -> tuple[list[float], bool]:
        """One pass over the training examples; returns (losses, ran out of time)."""
        self.model.train()
        losses = []
        for batch_idx in _length_bucketed_batches(self.lengths, self.config.batch_size, self.rng):
            features = [{k: self.encoded[k][i] for k in self.encoded} for i in batch_idx]
            logits = self.model(**self.tokenizer.pad(features, return_tensors="pt")).logits
            target = torch.tensor([self.y[i] for i in batch_idx]) if self.soft is None else self.soft[batch_idx]
            loss = torch.nn.functional.cross_entropy(logits, target, weight=self.weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.optimizer.step()
            self.scheduler.step()
            self.optimizer.zero_grad()
            losses.append(loss.item())
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{losses[-1]:.3f}")
            self.steps += 1
            if callable(self.progress):
                self.progress(self.steps, self.total)
            if self.deadline is not None and time.monotonic() > self.deadline:
                return losses, True
        return losses, False

    def validate(self, record: dict) -> None:
        """Score the validation split into `record`; keep the weights when they are the best so far."""
        probs = _predict(self.model, self.tokenizer, [ex.text for ex in self.val], self.max_length)
        m = evaluate_labels(probs.argmax(1), [ex.label for ex in self.val], self.labels)
        record["validation"] = {k: m[k] for k in ("accuracy", "macro_f1", "mae", "top_predicted_share")}
        key = _select_key(m, self.config.select_on)
        if self.best_key is None or key > self.best_key:
            self.best_key, self.since_best, record["best"] = key, 0, True
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        else:
            self.since_best += 1


def _train(start: Start, train: Sequence[Example], config: TrainingConfig, labels: LabelSet, progress):
    """Train; returns (model with the best validation epoch's weights, tokenizer, info for the report)."""
    started, cpu_started = time.monotonic(), time.process_time()
    torch.manual_seed(config.seed)
    tokenizer, model = load_start(start.checkpoint, labels, start.remap_head)
    _freeze(model, config.freeze_layers)
    fit, val = _validation_split(train, config)
    max_length, length_rule = _choose_max_length(tokenizer, [ex.text for ex in fit], config)
    deadline = started + 60 * config.max_minutes if config.max_minutes else None
    run = _Run(model, tokenizer, config, labels, fit, val, max_length, progress, deadline)
    history: list[dict] = []
    stopped = "max_epochs"
    for epoch in range(1, config.max_epochs + 1):
        losses, out_of_time = run.epoch()
        record: dict = {"epoch": epoch, "train_loss": float(np.mean(losses)), "steps": len(losses)}
        if val:
            run.validate(record)
        history.append(record)
        if progress is True:
            tqdm.write(_epoch_line(record), file=sys.stderr)
        if out_of_time:
            stopped = "time budget (--max-minutes)"
            break
        if val and run.since_best >= config.patience > 0:
            stopped = f"early stopping (no better validation {config.select_on} for {config.patience} epochs)"
            break
    run.bar.close()
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    model.eval()
    best = [r["epoch"] for r in history if r.get("best")]
    n_long = sum(n >= max_length for n in run.lengths)
    info = {
        "labels": list(labels.names),
        "label_values": list(labels.values),
        "max_length_used": max_length,
        "max_length_rule": length_rule,
        "long_texts": (
            f"{n_long} of {len(fit)} training texts reach {max_length} tokens: trained on their first {max_length}"
            if n_long
            else "no training text is cut"
        ),
        "targets": "soft: cross-entropy to each example's distribution over the labels"
        if run.soft is not None
        else "labels",
        "n_fit": len(fit),
        "n_validation": len(val),
        "class_weights": None if run.weights is None else dict(zip(labels.names, map(float, run.weights), strict=True)),
        "epochs_run": len(history),
        "best_epoch": best[-1] if best else len(history),
        "stopped": stopped,
        "history": history,
        "train_seconds": round(time.monotonic() - started, 1),
        "train_cpu_seconds": round(time.process_time() - cpu_started, 1),
    }
    return model, tokenizer, info
