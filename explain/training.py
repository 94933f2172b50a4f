"""Fine-tuning a BERT-style checkpoint into a rating classifier, and the default model's recipe.

The same code builds the embedded default model (MiniLM-L6 + VADER's human-rated sentences) and
serves `explain train` on a user's own reviews: labels from the data (1-5 stars, 1-10, 0-4, or named
labels in a given order), class-weighted loss, epochs chosen on a validation split (best checkpoint
kept), a max length from the data's length distribution, a time budget, and an honest report
against a majority and a TF-IDF + logistic-regression baseline (`train_and_report`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import tempfile
import time
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
MAX_LABELS = 20
COLLAPSE_SHARE = 0.9  # warn when this share of held-out predictions is one class


@dataclass(frozen=True)
class LabelSet:
    """The labels a model predicts, in order, and the rating value of each (its `config.label_values`)."""

    names: tuple[str, ...]
    values: tuple[float, ...]

    @classmethod
    def stars(cls) -> LabelSet:
        return cls(STAR_LABELS, (1.0, 2.0, 3.0, 4.0, 5.0))

    def __len__(self) -> int:
        return len(self.names)


def _number_name(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def _parse_numbers(raw: Sequence[str], column: str) -> list[float]:
    numbers = []
    for r in raw:
        try:
            v = float(r)
        except ValueError:
            words = sorted({x for x in raw if not _is_number(x)})[:3]
            raise DataError(
                f"column {column!r} holds labels that are not numbers ({', '.join(map(repr, words))}); "
                f"give their order, e.g. --label-order {','.join(words) or 'negative,neutral,positive'}"
            ) from None
        if not math.isfinite(v):
            raise DataError(f"column {column!r} holds {r!r}; ratings must be finite numbers")
        numbers.append(v)
    return numbers


def _is_number(x: str) -> bool:
    try:
        float(x)
        return True
    except ValueError:
        return False


def infer_labels(
    raw: Sequence[str], order: Sequence[str] | None = None, stars: bool = False, column: str = "label"
) -> tuple[LabelSet, list[int]]:
    """The label set of a rating column and each row's label index.

    `order` names the labels from lowest to highest (values 1..k, or the names' own numbers when
    they are all numeric); `stars` means the column holds 1-5 stars (the five star labels);
    otherwise the column must be numeric: whole numbers give every label from the lowest to the
    highest value (1-10, 0-4), other numbers one label per distinct value (at most 20).
    """
    raw = [str(r).strip() for r in raw]
    if order:
        names = tuple(o.strip() for o in order if o.strip())
        keys = [n.casefold() for n in names]
        if len(names) < 2 or len(set(keys)) != len(keys):
            raise DataError(f"--label-order needs at least two different labels; got {','.join(order)!r}")
        index = {k: i for i, k in enumerate(keys)}
        unknown = sorted({r for r in raw if r.casefold() not in index})
        if unknown:
            raise DataError(
                f"column {column!r} holds {', '.join(map(repr, unknown[:5]))}, not in --label-order {','.join(names)}"
            )
        values = tuple(float(n) for n in names) if all(map(_is_number, names)) else tuple(range(1, len(names) + 1))
        return LabelSet(names, tuple(map(float, values))), [index[r.casefold()] for r in raw]
    numbers = _parse_numbers(raw, column)
    if stars:
        bad = sorted({v for v in numbers if v not in (1, 2, 3, 4, 5)})
        if bad:
            raise DataError(f"column {column!r} must hold stars 1-5; found {[_number_name(v) for v in bad[:5]]}")
        return LabelSet.stars(), [int(v) - 1 for v in numbers]
    distinct = sorted(set(numbers))
    if all(v.is_integer() for v in distinct) and distinct[-1] - distinct[0] < MAX_LABELS:
        values = tuple(float(v) for v in range(int(distinct[0]), int(distinct[-1]) + 1))
    elif len(distinct) <= MAX_LABELS:
        values = tuple(distinct)
    else:
        raise DataError(
            f"column {column!r} has {len(distinct)} different values; a rating column needs at most {MAX_LABELS}"
        )
    if len(values) < 2:
        raise DataError(f"column {column!r} holds only one rating ({_number_name(values[0])}); nothing to learn")
    position = {v: i for i, v in enumerate(values)}
    return LabelSet(tuple(map(_number_name, values)), values), [position[v] for v in numbers]


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of a fine-tuning run.

    `max_epochs` is the most epochs; with a validation split (`validation_fraction` > 0) the epoch
    with the best validation `select_on` (macro_f1, ties by MAE; or mae) is kept and training stops
    after `patience` epochs without improvement. `max_length=None` takes the 95th percentile of the
    training texts' token lengths (rounded up to a multiple of 8); longer texts are trained on their
    first `max_length` tokens. `class_weighting` weighs the loss by inverse class frequency so that a
    majority class cannot win by default. `max_minutes` stops training (the best epoch so far kept).
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


# The recipe the default model was built with (MODEL_VERSION minilm-l6-vader-stars-v1).
LEGACY_DEFAULT_CONFIG = TrainingConfig(
    max_epochs=2, max_length=128, class_weighting=False, validation_fraction=0.0, patience=0
)


@dataclass
class Example:
    text: str
    label: int  # index into the LabelSet
    group: str = ""

    @property
    def stars(self) -> int:
        """The label on the 5-star scale (label index + 1)."""
        return self.label + 1


def grouped_split(examples: Sequence[Example], test_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """Split by group (review id): no sentence of a test review is in training. Deterministic."""

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
        h.update(json.dumps([ex.text, labels.names[ex.label]]).encode())
        h.update(b"\n")
    return h.hexdigest()


def _length_bucketed_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Batches of similar-length examples (less padding), in random order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def evaluate_labels(predicted: Sequence[int], given: Sequence[int], labels: LabelSet) -> dict:
    """Accuracy, macro-F1 (over labels given or predicted), MAE in label values, per-class recall,
    the confusion matrix (rows: given) and the largest share of predictions in one class."""
    pred, gold = np.asarray(predicted, dtype=int), np.asarray(given, dtype=int)
    k = len(labels)
    confusion = np.zeros((k, k), dtype=int)
    np.add.at(confusion, (gold, pred), 1)
    values = np.asarray(labels.values)
    n_gold, n_pred, hit = confusion.sum(1), confusion.sum(0), np.diag(confusion)
    seen = (n_gold + n_pred) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(n_gold > 0, hit / np.maximum(n_gold, 1), np.nan)
        f1 = np.where(seen, 2 * hit / np.maximum(n_gold + n_pred, 1), np.nan)
    n = len(gold)
    top = int(n_pred.argmax()) if n else 0
    return {
        "n": int(n),
        "accuracy": float(np.mean(pred == gold)) if n else float("nan"),
        "macro_f1": float(np.nanmean(f1)) if n else float("nan"),
        "mae": float(np.mean(np.abs(values[pred] - values[gold]))) if n else float("nan"),
        "per_class_recall": {
            name: (None if np.isnan(r) else float(r)) for name, r in zip(labels.names, recall, strict=True)
        },
        "confusion_matrix": confusion.tolist(),
        "top_predicted": labels.names[top],
        "top_predicted_share": float(n_pred[top] / n) if n else float("nan"),
    }


def evaluate_stars(predicted: Sequence[int], given: Sequence[int]) -> dict:
    """`evaluate_labels` on 1-5 stars (given as stars), with the MAE also as `mae_stars`."""
    m = evaluate_labels(np.asarray(predicted) - 1, np.asarray(given) - 1, LabelSet.stars())
    return m | {"mae_stars": m["mae"]}


def fine_tune(
    base: str | Path,
    train: Sequence[Example],
    out_dir: str | Path,
    config: TrainingConfig = TrainingConfig(),
    progress: bool = True,
    on_saved: Callable[[Path], dict] | None = None,
    overwrite: bool = False,
    owned: bool = False,
    labels: LabelSet | None = None,
) -> Path:
    """Fine-tune `base` into a `...ForSequenceClassification` over `labels` (default: 1-5 stars),
    written atomically to `out_dir`; its config carries `id2label` and `label_values`.

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
    bad = sorted({ex.label for ex in train if ex.label not in range(len(labels))})
    if bad:
        raise DataError(f"label indices must be 0-{len(labels) - 1}; got {bad[:5]}")
    if len({ex.label for ex in train}) < 2:
        raise DataError(f"all {len(train)} training reviews have the same label; nothing to learn")
    base = str(base)
    if not Path(base).exists() and "/" not in base:
        raise ModelNotFoundError(f"base checkpoint {base!r} is not a folder")

    out_dir = Path(out_dir)
    tmp = prepare_output(out_dir, overwrite=overwrite, owned=owned)
    try:
        model, tokenizer, info = _train(base, train, config, labels, progress)
        recipe = asdict(config) | {"base": base, "n_train": len(train), "data_sha256": data_hash(train, labels)}
        _save_model(model, tokenizer, out_dir, tmp, on_saved, recipe | info, overwrite or owned, owned)
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


def _class_weights(labels_of: Sequence[int], k: int, enabled: bool) -> torch.Tensor | None:
    """Inverse class frequency, mean 1 over the classes present (absent classes 0); None if disabled."""
    if not enabled:
        return None
    counts = np.bincount(np.asarray(labels_of), minlength=k).astype(float)
    present = counts > 0
    weights = np.where(present, len(labels_of) / (present.sum() * np.maximum(counts, 1)), 0.0)
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


def _train(base: str, train: Sequence[Example], config: TrainingConfig, labels: LabelSet, progress: bool):
    """Train; returns (model with the best validation epoch's weights, tokenizer, info for the report)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    started, cpu_started = time.monotonic(), time.process_time()
    deadline = started + 60 * config.max_minutes if config.max_minutes else None
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(labels),
        id2label=dict(enumerate(labels.names)),
        label2id={label: i for i, label in enumerate(labels.names)},
        attn_implementation="eager",
        ignore_mismatched_sizes=True,
    )
    model.config.label_values = list(labels.values)
    model.config.problem_type = "single_label_classification"

    fit, val = _validation_split(train, config)
    max_length, length_rule = _choose_max_length(tokenizer, [ex.text for ex in fit], config)
    encoded = tokenizer([ex.text for ex in fit], truncation=True, max_length=max_length)
    y = [ex.label for ex in fit]
    lengths = [len(ids) for ids in encoded["input_ids"]]
    weights = _class_weights(y, len(labels), config.class_weighting)

    steps_per_epoch = math.ceil(len(fit) / config.batch_size)
    total = steps_per_epoch * config.max_epochs
    warmup = max(1, int(total * config.warmup_fraction))
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim == 1 else decay).append(p)
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.learning_rate,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup))
    )
    bar = tqdm(total=total, desc="fine-tuning", unit="step", disable=not progress)
    history: list[dict] = []
    best_state, best_key, since_best, stopped = None, None, 0, "max_epochs"
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        losses = []
        for batch_idx in _length_bucketed_batches(lengths, config.batch_size, rng):
            features = [{k: encoded[k][i] for k in encoded} for i in batch_idx]
            batch = tokenizer.pad(features, return_tensors="pt")
            logits = model(**batch).logits
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor([y[i] for i in batch_idx]), weight=weights)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
            if deadline is not None and time.monotonic() > deadline:
                stopped = "time budget (--max-minutes)"
                break
        record: dict = {"epoch": epoch, "train_loss": float(np.mean(losses)), "steps": len(losses)}
        if val:
            m = evaluate_labels(
                _predict(model, tokenizer, [ex.text for ex in val], max_length).argmax(1),
                [ex.label for ex in val],
                labels,
            )
            record["validation"] = {k: m[k] for k in ("accuracy", "macro_f1", "mae", "top_predicted_share")}
            key = _select_key(m, config.select_on)
            if best_key is None or key > best_key:
                best_key, since_best, record["best"] = key, 0, True
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1
        history.append(record)
        if progress:
            tqdm.write(_epoch_line(record), file=sys.stderr)
        if stopped != "max_epochs":
            break
        if val and since_best >= config.patience > 0:
            stopped = f"early stopping (no better validation {config.select_on} for {config.patience} epochs)"
            break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    best = [r["epoch"] for r in history if r.get("best")]
    n_long = sum(n >= max_length for n in lengths)
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
        "n_fit": len(fit),
        "n_validation": len(val),
        "class_weights": None if weights is None else dict(zip(labels.names, map(float, weights), strict=True)),
        "epochs_run": len(history),
        "best_epoch": best[-1] if best else len(history),
        "stopped": stopped,
        "history": history,
        "train_seconds": round(time.monotonic() - started, 1),
        "train_cpu_seconds": round(time.process_time() - cpu_started, 1),
    }
    return model, tokenizer, info


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


def _save_model(model, tokenizer, out_dir, tmp, on_saved, recipe: dict, replace: bool, owned: bool) -> None:
    """Write weights, tokenizer, metrics and the marker into `tmp`, then rename it to `out_dir`."""
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        metrics = on_saved(tmp) if on_saved else {}
        metrics.setdefault("training", recipe)
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


def tfidf_baseline(train: Sequence[Example], test: Sequence[Example], seed: int = 0) -> list[int]:
    """Predictions of a class-balanced TF-IDF (words and word pairs) + logistic regression on `test`."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    x_train = vectorizer.fit_transform([ex.text for ex in train])
    clf = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    clf.fit(x_train, [ex.label for ex in train])
    return [int(p) for p in clf.predict(vectorizer.transform([ex.text for ex in test]))]


def training_warnings(heldout: dict) -> list[str]:
    """Warnings for a collapsed model and for one that does not beat the TF-IDF baseline on macro-F1."""
    model, tfidf = heldout["model"], heldout.get("tfidf_logreg")
    warnings = []
    if model["n"] and model["top_predicted_share"] >= COLLAPSE_SHARE:
        warnings.append(
            f"the model puts {model['top_predicted_share']:.0%} of the held-out reviews in {model['top_predicted']!r}: "
            "it has (nearly) collapsed into one class; try more data per class, more epochs or a higher --lr"
        )
    if tfidf and model["n"] and not model["macro_f1"] > tfidf["macro_f1"]:
        warnings.append(
            f"the model does not beat TF-IDF + logistic regression on macro-F1 "
            f"({model['macro_f1']:.3f} vs {tfidf['macro_f1']:.3f}): prefer the simpler model or get more data"
        )
    return warnings


def heldout_report(
    folder: Path, train: Sequence[Example], test: Sequence[Example], labels: LabelSet, seed: int = 0
) -> dict:
    """Held-out metrics of the model in `folder`, the majority baseline and TF-IDF + logistic regression,
    all trained on `train` and scored on `test`, with the warnings."""
    from explain.classifier import Classifier

    gold = [ex.label for ex in test]
    probs = Classifier.from_pretrained(folder).predict_proba([ex.text for ex in test])
    majority = int(np.bincount([ex.label for ex in train], minlength=len(labels)).argmax())
    heldout = {
        "model": evaluate_labels(probs.argmax(1).tolist(), gold, labels),
        "majority": evaluate_labels([majority] * len(test), gold, labels),
        "tfidf_logreg": evaluate_labels(tfidf_baseline(train, test, seed), gold, labels),
    }
    return heldout


def train_and_report(
    base: str | Path,
    train: Sequence[Example],
    test: Sequence[Example],
    labels: LabelSet,
    out_dir: str | Path,
    config: TrainingConfig = TrainingConfig(),
    progress: bool = True,
    overwrite: bool = False,
    about: dict | None = None,
) -> dict:
    """Fine-tune on `train`, report on `test` against the baselines; metrics.json in `out_dir` holds
    the same dict (labels, data hash, split, recipe and history, held-out metrics, warnings)."""

    def report(folder: Path) -> dict:
        metrics: dict = dict(about or {})
        metrics |= {
            "labels": list(labels.names),
            "label_values": list(labels.values),
            "split": {"n_train": len(train), "n_test": len(test)},
            "class_counts_train": dict(
                zip(labels.names, np.bincount([e.label for e in train], minlength=len(labels)).tolist(), strict=True)
            ),
        }
        if test:
            metrics["heldout"] = heldout_report(folder, train, test, labels, config.seed)
            metrics["warnings"] = training_warnings(metrics["heldout"])
        else:
            metrics["heldout"] = None
            metrics["warnings"] = ["no held-out split (--test-fraction 0): nothing was measured"]
        return metrics

    fine_tune(base, train, out_dir, config, progress=progress, on_saved=report, overwrite=overwrite, labels=labels)
    return json.loads((Path(out_dir) / "metrics.json").read_text())


def report_lines(metrics: dict) -> list[str]:
    """The training report as text lines (the CLI prints them): recipe, per-system metrics, confusion."""
    t = metrics["training"]
    lines = [
        f"Trained on {t['n_fit']} reviews (validation {t['n_validation']}), labels {', '.join(metrics['labels'])}; "
        f"{t['epochs_run']} epoch(s), best epoch {t['best_epoch']} ({t['stopped']}); max length "
        f"{t['max_length_used']} tokens ({t['max_length_rule']}; {t['long_texts']}); {t['train_seconds']} s",
    ]
    heldout = metrics.get("heldout")
    if heldout:
        lines.append(f"Held-out reviews: {heldout['model']['n']}")
        lines.append(f"  {'':24} {'accuracy':>8} {'macro-F1':>8} {'MAE':>6}  per-class recall")
        names = {"model": "this model", "majority": "majority class", "tfidf_logreg": "TF-IDF + logistic reg."}
        for key, name in names.items():
            m = heldout[key]
            recall = ", ".join(
                f"{label} {'-' if r is None else f'{r:.2f}'}" for label, r in m["per_class_recall"].items()
            )
            lines.append(f"  {name:24} {m['accuracy']:8.3f} {m['macro_f1']:8.3f} {m['mae']:6.3f}  {recall}")
        lines.append("  confusion matrix of this model (rows: given, columns: predicted):")
        width = max(len(x) for x in metrics["labels"])
        for label, row in zip(metrics["labels"], heldout["model"]["confusion_matrix"], strict=True):
            lines.append(f"    {label:>{width}} " + " ".join(f"{c:5d}" for c in row))
    return lines
