"""Fine-tuning a BERT-style checkpoint into a 1-5 star classifier, and the default model's recipe.

The same code builds the embedded default model (MiniLM-L6 + VADER's human-rated sentences) and
serves `explain train` on a user's own reviews.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from explain.errors import DataError, ModelNotFoundError, OutputError

STAR_LABELS = ("1 star", "2 stars", "3 stars", "4 stars", "5 stars")
# Written into every model folder this tool writes, listing its files: only such a folder is ever replaced.
MODEL_MARKER = "review-explainer-model.json"


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of a fine-tuning run (the defaults are the default model's)."""

    epochs: int = 2
    learning_rate: float = 1e-4
    batch_size: int = 16
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 13


@dataclass
class Example:
    text: str
    stars: int  # 1..5
    group: str = ""


def grouped_split(examples: Sequence[Example], test_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Split by group (review id): no sentence of a test review is in training. Deterministic."""

    def bucket(group: str) -> float:
        digest = hashlib.sha256(f"{seed}:{group}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    train, test = [], []
    for ex in examples:
        (test if bucket(ex.group or ex.text) < test_fraction else train).append(ex)
    return train, test


def _length_bucketed_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar-length examples (less padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def evaluate_stars(predicted: Sequence[int], given: Sequence[int]) -> dict:
    """Accuracy, mean absolute error in stars and the 5x5 confusion matrix (rows: given)."""
    pred, gold = np.asarray(predicted), np.asarray(given)
    confusion = np.zeros((5, 5), dtype=int)
    for g, p in zip(gold, pred):
        confusion[g - 1, p - 1] += 1
    return {
        "n": int(len(gold)),
        "accuracy": float(np.mean(pred == gold)) if len(gold) else float("nan"),
        "mae_stars": float(np.mean(np.abs(pred - gold))) if len(gold) else float("nan"),
        "confusion_matrix": confusion.tolist(),
    }


def fine_tune(
    base: str | Path,
    train: Sequence[Example],
    out_dir: str | Path,
    config: TrainingConfig = TrainingConfig(),
    progress: bool = True,
    on_saved: Callable[[Path], dict] | None = None,
    overwrite: bool = False,
    owned: bool = False,
) -> Path:
    """Fine-tune `base` into a 5-star `...ForSequenceClassification`, written atomically to `out_dir`.

    The model is saved to a temporary sibling folder and renamed into place at the end, so a run
    killed halfway leaves nothing that later loads as a model. `on_saved(tmp_dir)` may write more
    files (metrics) before the rename; its returned dict is stored as metrics.json. The output is
    checked before training (see `prepare_output`): an existing folder is replaced only if this tool
    wrote it and `overwrite` is set (or the caller `owned` the location, as the default model's cache).
    """
    if not train:
        raise DataError("no training examples")
    bad = [ex.stars for ex in train if ex.stars not in range(1, 6)]
    if bad:
        raise DataError(f"stars must be whole numbers 1-5; got {sorted(set(bad))[:5]}")
    base = str(base)
    if not Path(base).exists() and "/" not in base:
        raise ModelNotFoundError(f"base checkpoint {base!r} is not a folder")

    out_dir = Path(out_dir)
    tmp = prepare_output(out_dir, overwrite=overwrite, owned=owned)
    try:
        model, tokenizer = _train(base, train, config, progress)
        _save_model(model, tokenizer, out_dir, tmp, on_saved, config, base, len(train), overwrite or owned, owned)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _train(base: str, train: Sequence[Example], config: TrainingConfig, progress: bool):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=5,
        id2label=dict(enumerate(STAR_LABELS)),
        label2id={label: i for i, label in enumerate(STAR_LABELS)},
        attn_implementation="eager",
    )
    encoded = tokenizer([ex.text for ex in train], truncation=True, max_length=config.max_length)
    labels = [ex.stars - 1 for ex in train]
    lengths = [len(ids) for ids in encoded["input_ids"]]

    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = max(1, int(total * config.warmup_fraction))
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))
    )
    model.train()
    bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=not progress)
    for _ in range(config.epochs):
        for batch_idx in _length_bucketed_batches(lengths, config.batch_size, rng):
            features = [{k: encoded[k][i] for k in encoded} for i in batch_idx]
            batch = tokenizer.pad(features, return_tensors="pt")
            out = model(**batch, labels=torch.tensor([labels[i] for i in batch_idx]))
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            bar.update(1)
            bar.set_postfix(loss=f"{out.loss.item():.3f}")
    bar.close()
    model.eval()

    return model, tokenizer


def _written_files(folder: Path) -> list[str]:
    """The names of the files this tool wrote into a model folder (from its marker), or [] if none."""
    try:
        marker = json.loads((folder / MODEL_MARKER).read_text(encoding="utf-8"))
        return list(marker["files"]) + [MODEL_MARKER]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _check_replaceable(out_dir: Path, overwrite: bool, owned: bool) -> None:
    """Raise OutputError unless writing a model to `out_dir` destroys nothing of the user's."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise OutputError(f"--out {out_dir} is a file, not a folder; choose a folder name for the model")
    resolved, cwd = out_dir.resolve(), Path.cwd().resolve()
    if resolved == cwd or resolved in cwd.parents or resolved == Path.home().resolve():
        raise OutputError(
            f"--out {out_dir} is the current folder, your home folder or holds them; name a new folder for the model"
        )
    if not out_dir.exists() or owned:
        return
    present = sorted(p.name for p in out_dir.iterdir())
    if not present:
        return
    written = _written_files(out_dir)
    foreign = [name for name in present if name not in written]
    if not written or foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise OutputError(
            f"--out {out_dir} already holds files that are not a model written by review-explainer ({shown}); "
            "nothing was changed: choose a new or empty folder"
        )
    if not overwrite:
        raise OutputError(
            f"--out {out_dir} already holds a model; pass --overwrite to replace it, or choose a new folder"
        )


def prepare_output(out_dir: Path, overwrite: bool = False, owned: bool = False) -> Path:
    """Check `out_dir` before any work and create the temporary sibling folder the model is written to.

    Refuses (OutputError, nothing touched) a path that is a file, the current or home folder or one
    of their parents, a non-empty folder that is not a model this tool wrote (its marker lists every
    file it holds), and an existing model unless `overwrite`; an unwritable location fails here, not
    after training. `owned` skips the content check for locations the tool owns (its cache).
    """
    _check_replaceable(out_dir, overwrite, owned)
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    except OSError as exc:
        raise OutputError(f"cannot write the model to {out_dir}: {exc.strerror or exc}") from exc


def _save_model(model, tokenizer, out_dir, tmp, on_saved, config, base, n_train, replace, owned) -> None:
    """Write weights, tokenizer, metrics and the marker into `tmp`, then rename it to `out_dir`."""
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        metrics = on_saved(tmp) if on_saved else {}
        metrics.setdefault("training", asdict(config) | {"base": base, "n_train": n_train})
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2))
        files = sorted(p.name for p in tmp.iterdir())
        (tmp / MODEL_MARKER).write_text(json.dumps({"written_by": "review-explainer", "files": files}, indent=2))
    except OSError as exc:
        raise OutputError(f"cannot write the model to {tmp}: {exc.strerror or exc}") from exc
    _check_replaceable(out_dir, replace, owned)  # again: the folder may have changed while we trained
    old = None
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        out_dir.rename(old / "model")
    tmp.rename(out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
