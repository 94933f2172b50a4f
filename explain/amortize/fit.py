"""Fitting an amortized head: teacher labels (cached), the classifier's states, a short regression.

1. The reviews are deduplicated, sampled down to `max_reviews` (seeded) and split into a part to fit on and
   a held-out part (`validation_fraction`, at least one review) that is never trained on. Reviews longer
   than the model reads at once are left out of fitting (the method still windows them when explaining).
2. Teacher labels come through the explanation cache (`explain.amortize.teacher`), resumable.
3. One batched forward pass per chunk of reviews gives the states the head reads (`explain.word_head`).
4. The head regresses the teacher's per-label *word* scores (token outputs summed over each word, the
   `sum` aggregation every additive method uses), in the teacher's own scale, plus the explained question's
   scores (the rating, when the model has one); the epoch with the lowest held-out loss is kept.
5. Fidelity: mean per-review Spearman between the head's and the teacher's word scores on the held-out
   reviews; written into the head file (every explanation's diagnostics show it).
The head is written atomically under the model's fingerprint. `max_minutes` bounds the whole fit: labelling
stops early to leave time for the regression, which stops at the deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from explain.amortize.fidelity import fidelity, mean_fidelity
from explain.amortize.teacher import LabelCounts, Teacher, choose_teacher, teacher_labels
from explain.classifier import Classifier
from explain.errors import DataError, UserError, quiet_truncation
from explain.explanation import Explanation, aggregate
from explain.fingerprint import fingerprint
from explain.progress import Progress
from explain.store import ExplanationStore
from explain.target import Target
from explain.word_head import HeadInfo, WordHead, check_owner, head_path, read_head, save_head, states
from explain.words import align

MAX_REVIEWS = 2000
FEATURE_CHUNK = 32
BATCH = 32
MAX_EPOCHS = 150
PATIENCE = 15
LABELLING_SHARE = 0.85  # of max_minutes; the rest is left for the regression


@dataclass(frozen=True)
class FitResult:
    """What a fit did: where the head went, what it says about itself, and where its labels came from."""

    path: Path
    info: HeadInfo
    labels_computed: int
    labels_cached: int
    left_out_long: int
    stopped_by_time: bool
    epochs: int


@dataclass
class _Example:
    tokens: torch.Tensor  # (n_tokens, hidden), float16
    first: torch.Tensor  # (hidden,)
    probs: torch.Tensor  # (n_labels,)
    token_to_word: torch.Tensor  # (n_tokens,), -1 for special tokens
    target: torch.Tensor  # (n_words, n_labels): the teacher's per-label word scores


def fit_head(
    classifier: Classifier,
    texts: Sequence[str],
    *,
    chosen: Teacher | None = None,
    store: ExplanationStore | None = None,
    question: str | None = None,
    max_minutes: float | None = None,
    max_reviews: int = MAX_REVIEWS,
    validation_fraction: float = 0.2,
    seed: int = 0,
    path: Path | None = None,
    progress: Progress | None = None,
    width: int = 128,
) -> FitResult:
    """Fit `classifier`'s amortized head on `texts` (see the module doc); returns a `FitResult`.

    `question`: what the teacher explains and the loss stresses (None: the rating when the model has one,
    else each review's predicted class; "rating" on a model without label values is a user error).
    """
    started = time.perf_counter()
    deadline = None if max_minutes is None else started + 60.0 * max_minutes
    chosen = chosen or choose_teacher()
    target = classifier.target(question) if question is not None else None  # an unrated "rating": one line
    path = Path(path) if path is not None else head_path(classifier)
    if path.exists():
        _, existing = read_head(path)
        check_owner(classifier, existing, path)  # never overwrite another model's head
    held, train, long_ones = _split(classifier, texts, max_reviews, validation_fraction, seed)
    counts = LabelCounts()
    label_until = None if deadline is None else started + LABELLING_SHARE * (deadline - started)
    labels = _labels(classifier, held + train, chosen, store, question, counts, label_until, progress)
    held_examples = _examples(classifier, *_labelled(held, labels))
    train_examples = _examples(classifier, *_labelled(train, labels))
    if not held_examples or not train_examples:
        raise UserError(
            f"the time budget ran out after {len(labels)} teacher labels; give more --max-minutes "
            "(labels computed so far are cached: nothing is recomputed)"
        )
    weights = _question_weights(classifier, target)
    head, epochs, out_of_time = _regress(train_examples, held_examples, weights, width, seed, deadline, progress)
    measured = _held_out_spearman(classifier, target, head, held_examples)
    info = HeadInfo(
        model=fingerprint(classifier),
        model_name=classifier.name,
        labels=tuple(classifier.labels),
        hidden_size=head.hidden_size,
        width=width,
        teacher=chosen.method,
        teacher_params=chosen.given_params,
        fidelity=measured,
        fidelity_reviews=len(held_examples),
        fitted_on=len(train_examples),
        seconds=round(time.perf_counter() - started, 1),
    )
    save_head(path, head, info)
    stopped = len(labels) < len(held) + len(train) or out_of_time
    return FitResult(path, info, counts.computed, counts.cached, long_ones, stopped, epochs)


def _held_out_spearman(classifier: Classifier, target, head: WordHead, held: list[_Example]) -> float | None:
    """Mean per-review Spearman of the head's and the teacher's word scores on the question, held-out reviews."""
    measured = mean_fidelity(
        fidelity(_words(head, ex) @ w, ex.target.double().numpy() @ w)
        for ex in held
        for w in [_explained_weights(classifier, target, ex)]
    )
    return round(measured.spearman, 3) if np.isfinite(measured.spearman) else None


def _split(
    classifier: Classifier, texts: Sequence[str], max_reviews: int, validation_fraction: float, seed: int
) -> tuple[list[str], list[str], int]:
    """(held-out, to fit on, how many were left out as longer than the model reads at once)."""
    fitting, long_ones = [], 0
    for text in _reviews(texts, max_reviews, seed):
        if classifier.windows(text) is None:
            fitting.append(text)
        else:
            long_ones += 1
    if len(fitting) < 2:
        raise DataError(
            f"amortize needs at least 2 reviews that fit the model ({len(fitting)} given"
            + (f", {long_ones} longer than it reads at once" if long_ones else "")
            + "): one to fit on and one to measure the fit on"
        )
    n_held = max(1, round(validation_fraction * len(fitting)))
    return fitting[:n_held], fitting[n_held:], long_ones


def _labels(classifier, order, chosen, store, question, counts, until, progress) -> dict[str, Explanation]:
    """Teacher labels by text, held-out ones first (a fit cut short still measures itself), until `until`."""
    own_store = store is None
    store = ExplanationStore() if own_store else store  # (an empty store is falsy: `or` would skip it)
    stop = (lambda: False) if until is None else (lambda: time.perf_counter() > until)
    labels: dict[str, Explanation] = {}
    try:
        for i, exp in teacher_labels(classifier, order, chosen, store, question, counts, stop):
            labels[order[i]] = exp
            if progress is not None:
                progress(len(labels), len(order), f"teacher labels ({counts.cached} from the cache)")
    finally:
        if own_store:
            store.close()
    return labels


def _labelled(texts: list[str], labels: dict[str, Explanation]) -> tuple[list[str], list[Explanation]]:
    kept = [t for t in texts if t in labels]
    return kept, [labels[t] for t in kept]


def _reviews(texts: Sequence[str], max_reviews: int, seed: int) -> list[str]:
    """Distinct non-blank reviews, shuffled (seeded), at most `max_reviews`."""
    unique = list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))
    random.Random(seed).shuffle(unique)
    return unique[:max_reviews]


def _examples(classifier: Classifier, texts: list[str], labels: list[Explanation]) -> list[_Example]:
    """The head's inputs (one batched forward pass per chunk) and the teacher's per-label word scores."""
    out = []
    for start in range(0, len(texts), FEATURE_CHUNK):
        chunk = texts[start : start + FEATURE_CHUNK]
        with quiet_truncation():
            enc = classifier.tokenize(chunk)
        found = states(classifier, {k: v.to(classifier.device) for k, v in enc.model_inputs().items()})
        for row, text in enumerate(chunk):
            label = labels[start + row]
            alignment = align(text, enc.tokens[row], enc.offsets[row], enc.special[row])
            if alignment.tokens != label.alignment.tokens or label.label_token_scores is None:
                continue  # the teacher saw other tokens (cannot happen for texts that fit; kept safe)
            n = len(alignment.tokens)
            words = aggregate(label.label_token_scores, alignment.token_to_word, len(alignment.words), "sum")
            out.append(
                _Example(
                    found.tokens[row, :n].to(torch.float16).cpu(),
                    found.first[row].cpu(),
                    found.probs[row].cpu(),
                    torch.tensor(alignment.token_to_word, dtype=torch.long),
                    torch.tensor(words, dtype=torch.float32),
                )
            )
    return out


def _question_weights(classifier: Classifier, target: Target | None) -> torch.Tensor | None:
    """Label weights of the question the loss stresses: the rating's values (None: per-label loss only)."""
    if target is not None and not target.is_rating:
        return None
    if classifier.label_values is None:
        return None
    return torch.tensor(classifier.label_values, dtype=torch.float32)


def _explained_weights(classifier: Classifier, target: Target | None, example: _Example) -> np.ndarray:
    """The weights of the question fidelity is measured on: the rating, else the review's predicted class."""
    if (target is None or target.is_rating) and classifier.label_values is not None:
        return np.asarray(classifier.label_values, dtype=np.float64)
    if target is not None:
        return target.weights(len(classifier.labels))
    return Target.of_label(int(example.probs.argmax())).weights(len(classifier.labels))


def _batch(examples: list[_Example]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded inputs, and per word of the batch: its token indices into the flat output, and the targets."""
    longest = max(len(ex.token_to_word) for ex in examples)
    hidden = examples[0].tokens.shape[1]
    tokens = torch.zeros(len(examples), longest, hidden)
    word_of = torch.full((len(examples), longest), -1, dtype=torch.long)
    offset = 0
    for b, ex in enumerate(examples):
        n = len(ex.token_to_word)
        tokens[b, :n] = ex.tokens.float()
        owned = ex.token_to_word >= 0
        word_of[b, :n][owned] = ex.token_to_word[owned] + offset
        offset += len(ex.target)
    first = torch.stack([ex.first for ex in examples])
    probs = torch.stack([ex.probs for ex in examples])
    return tokens, first, probs, word_of, torch.cat([ex.target for ex in examples])


def _word_outputs(head: WordHead, tokens, first, probs, word_of, n_words: int) -> torch.Tensor:
    out = head(tokens, first, probs)  # (batch, seq, n_labels)
    keep = word_of >= 0
    return torch.zeros(n_words, out.shape[-1]).index_add_(0, word_of[keep], out[keep])


def _loss(predicted: torch.Tensor, target: torch.Tensor, scale: torch.Tensor, weights, rating_scale) -> torch.Tensor:
    loss = (((predicted - target) / scale) ** 2).mean()
    if weights is not None:
        loss = loss + ((((predicted - target) @ weights) / rating_scale) ** 2).mean()
    return loss


def _regress(train, held, weights, width, seed, deadline, progress) -> tuple[WordHead, int, bool]:
    """Fit the head to the teacher's word scores; the epoch with the lowest held-out loss is kept."""
    torch.manual_seed(seed)
    n_labels = train[0].target.shape[1]
    head = WordHead(train[0].tokens.shape[1], n_labels, width)
    targets = torch.cat([ex.target for ex in train])
    scale = targets.std().clamp_min(1e-12)
    rating_scale = (targets @ weights).std().clamp_min(1e-12) if weights is not None else None
    head.scale.fill_(float(scale))
    optimizer = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=1e-2)
    held_batch = _batch(held)
    rng = random.Random(seed)
    best, best_state, since, epoch, out_of_time = float("inf"), None, 0, 0, False
    for epoch in range(1, MAX_EPOCHS + 1):
        head.train()
        order = list(range(len(train)))
        rng.shuffle(order)
        for start in range(0, len(order), BATCH):
            tokens, first, probs, word_of, target = _batch([train[i] for i in order[start : start + BATCH]])
            loss = _loss(
                _word_outputs(head, tokens, first, probs, word_of, len(target)), target, scale, weights, rating_scale
            )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        head.eval()
        with torch.no_grad():
            tokens, first, probs, word_of, target = held_batch
            held_loss = float(
                _loss(
                    _word_outputs(head, tokens, first, probs, word_of, len(target)),
                    target,
                    scale,
                    weights,
                    rating_scale,
                )
            )
        if held_loss < best - 1e-6:
            best, since = held_loss, 0
            best_state = {k: v.clone() for k, v in head.state_dict().items()}
        else:
            since += 1
        if progress is not None:
            progress(epoch, MAX_EPOCHS, f"fitting the head (held-out loss {best:.3f})")
        if since >= PATIENCE:
            break
        if deadline is not None and time.perf_counter() > deadline:
            out_of_time = True
            break
    if best_state is not None:
        head.load_state_dict(best_state)
    return head.eval(), epoch, out_of_time


def _words(head: WordHead, example: _Example) -> np.ndarray:
    """The head's per-label word scores of one prepared review."""
    with torch.no_grad():
        tokens, first, probs, word_of, target = _batch([example])
        return _word_outputs(head, tokens, first, probs, word_of, len(target)).double().numpy()
