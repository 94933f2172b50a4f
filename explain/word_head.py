"""The amortized method's learned head: a small MLP on the classifier's own hidden states that predicts a
teacher method's per-label token scores in the same forward pass as the prediction.

Yang et al. 2023, "Efficient Shapley Values Estimation by Amortization for Text Classification" (ACL);
Jethani et al. 2022, "FastSHAP" (ICLR). Per token the head reads the input of the classifier's last encoder
layer at that token (contextual, every position), the last layer's first-token state (what the
classification head reads) and the predicted probabilities, and outputs one score per label; the question's
weights (`Target.weights`) turn them into the explained scores, as for the teacher's own per-label scores.
The states are caught with hooks on the engine's exact view (`explain.engine`), so a prediction and its
explanation cost one forward pass; nothing changes for the exact methods.

A head is one file `<fingerprint>.pt` in `heads_dir()` (`$REVIEW_EXPLAINER_HEADS`, else `heads/` in the cache
folder; never the model's own folder), written atomically: a `HeadInfo` (which model, which teacher, how
faithful on held-out reviews) and the weights. A file whose model fingerprint is not the classifier's is
refused (`ForeignHeadError`). Fitting lives in `explain.amortize`.
"""

from __future__ import annotations

import io
import os
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from explain.atomic import write_atomic
from explain.errors import ModelError
from explain.fingerprint import fingerprint
from explain.paths import cache_dir
from explain.windows import aggregate_windows
from explain.words import Alignment, align

if TYPE_CHECKING:
    from explain.classifier import Classifier

HEAD_FORMAT = 1
HEADS_ENV = "REVIEW_EXPLAINER_HEADS"
_LOADED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # Classifier -> {path: (mtime, head, info)}


class NoHeadError(ModelError):
    """The model has no fitted amortized head (fit one with `explain amortize`)."""


class ForeignHeadError(ModelError):
    """A head file fitted for another model (another fingerprint)."""


@dataclass(frozen=True)
class HeadInfo:
    """What a head file says about itself: its model, its teacher and how faithful it was on held-out reviews."""

    model: str  # fingerprint of the classifier it was fitted on
    model_name: str
    labels: tuple[str, ...]
    hidden_size: int
    width: int
    teacher: str  # the method it approximates
    teacher_params: dict = field(default_factory=dict)
    fidelity: float | None = None  # mean per-review Spearman with the teacher's word scores on held-out reviews
    fidelity_reviews: int = 0
    fitted_on: int = 0  # reviews the head was trained on
    seconds: float = 0.0  # fitting time, teacher labels included

    @property
    def teacher_name(self) -> str:
        """The teacher and its parameters, e.g. "shap (max_evals=64)"."""
        params = ", ".join(f"{k}={v}" for k, v in sorted(self.teacher_params.items()))
        return f"{self.teacher} ({params})" if params else self.teacher

    @property
    def description(self) -> str:
        """ "learned approximation of shap (max_evals=64); fidelity 0.81 on held-out reviews" """
        figure = "not measured" if self.fidelity is None else f"{self.fidelity:.2f}"
        return (
            f"learned approximation of {self.teacher_name}; fidelity {figure} on held-out reviews "
            f"(Spearman, {self.fidelity_reviews} reviews)"
        )


class WordHead(nn.Module):
    """Per token: [last layer's input at the token, first-token output, probabilities] -> one score per label."""

    def __init__(self, hidden_size: int, n_labels: int, width: int = 128):
        super().__init__()
        self.hidden_size, self.n_labels, self.width = hidden_size, n_labels, width
        self.net = nn.Sequential(
            nn.Linear(2 * hidden_size + n_labels, width), nn.GELU(), nn.Linear(width, width), nn.GELU()
        )
        self.out = nn.Linear(width, n_labels)
        self.register_buffer("scale", torch.ones(()))  # the teacher's score scale: the layers work in its units

    def forward(self, tokens: torch.Tensor, first: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
        """tokens (batch, seq, hidden), first (batch, hidden), probs (batch, n_labels) -> (batch, seq, n_labels)."""
        seq = tokens.shape[1]
        context = torch.cat([first, probs], dim=-1)[:, None, :].expand(-1, seq, -1)
        return self.out(self.net(torch.cat([tokens, context], dim=-1))) * self.scale


# ---------------------------------------------------------------------------- the states the head reads
@dataclass(frozen=True)
class States:
    """One forward pass: probabilities (batch, n_labels), every token's last-layer input (batch, seq, hidden)
    and the last layer's first-token output (batch, hidden)."""

    probs: torch.Tensor
    tokens: torch.Tensor
    first: torch.Tensor


def _encoder_layers(model: nn.Module) -> nn.ModuleList | None:
    base = getattr(model, getattr(model, "base_model_prefix", ""), None) or getattr(model, "base_model", None)
    for owner in (getattr(base, "encoder", None), getattr(base, "transformer", None)):
        layers = getattr(owner, "layer", None)
        if isinstance(layers, nn.ModuleList) and len(layers) > 0:
            return layers
    return None


@contextmanager
def _caught(layer: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Catch the input and first-token output of `layer` in this thread's forward passes (others are ignored)."""
    owner, caught = threading.get_ident(), {}

    def before(module, args, kwargs):
        if threading.get_ident() == owner:
            caught["tokens"] = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]

    def after(module, args, kwargs, output):
        if threading.get_ident() == owner:
            out = output[0] if isinstance(output, tuple) else output
            caught["first"] = out[:, 0]

    hooks = [
        layer.register_forward_pre_hook(before, with_kwargs=True),
        layer.register_forward_hook(after, with_kwargs=True),
    ]
    try:
        yield caught
    finally:
        for hook in hooks:
            hook.remove()


def states(classifier: Classifier, inputs: dict[str, torch.Tensor]) -> States:
    """The states the head reads, from one counted forward pass of the engine's exact view (no gradients)."""
    layers = _encoder_layers(classifier.engine.exact_model)
    with torch.inference_mode():
        if layers is None:  # not a BERT-style encoder: the classifier's own model, all hidden states
            out = classifier.forward(inputs, output_hidden_states=True)
            hidden = out.hidden_states
            return States(torch.softmax(out.logits.float(), -1), hidden[-2].float(), hidden[-1][:, 0].float())
        with _caught(layers[-1]) as caught:
            logits = classifier.forward(inputs, head_only=True).logits
    return States(torch.softmax(logits.float(), -1), caught["tokens"].float(), caught["first"].float())


@dataclass(frozen=True)
class HeadScores:
    """The head's answer for one text: per-label token scores over `alignment`'s tokens, the probabilities
    (as `predict_proba` gives them) and the windows read."""

    label_token_scores: np.ndarray  # (n_tokens, n_labels)
    probabilities: np.ndarray  # (n_labels,)
    alignment: Alignment
    windows: int


def score_text(classifier: Classifier, head: WordHead, text: str) -> HeadScores:
    """Run the model once (once per window for a long text) and the head on its states.

    A long text (under windows) gets each window's token scores weighted by the window's weight in the
    prediction (`explain.windows`), as the windows' outputs are; so every token is scored.
    """
    windowed = classifier.windows(text)
    if windowed is None:
        from explain.errors import quiet_truncation

        with quiet_truncation():
            enc = classifier.tokenize([text])
        alignment = align(text, enc.tokens[0], enc.offsets[0], enc.special[0])
        inputs = {k: v.to(classifier.device) for k, v in enc.model_inputs().items()}
        found = states(classifier, inputs)
        with torch.inference_mode():
            scores = head(found.tokens, found.first, found.probs)[0].double().cpu().numpy()
        probs = found.probs[0].cpu().numpy()
        windows = 1
    else:
        alignment = classifier.align(text)
        scores = np.zeros((len(alignment.tokens), len(classifier.labels)))
        window_probs = []
        for window in windowed.windows:
            inputs, positions = classifier.window_inputs(windowed, window)
            found = states(classifier, inputs)
            with torch.inference_mode():
                part = head(found.tokens, found.first, found.probs)[0].double().cpu().numpy()
            np.add.at(scores, positions, window.weight * part)
            window_probs.append(found.probs[0].cpu().numpy())
        probs = aggregate_windows(np.stack(window_probs), windowed.windows)
        windows = len(windowed.windows)
    scores[np.asarray(alignment.special, dtype=bool)] = 0.0  # as the teachers: special tokens score nothing
    if classifier.engine.inference_model is not classifier.engine.exact_model:  # quantized/compiled predictions
        probs = classifier.predict_proba([text])[0]
    return HeadScores(scores, np.asarray(probs, dtype=np.float32), alignment, windows)


# ---------------------------------------------------------------------------- files
def heads_dir() -> Path:
    """Where fitted heads are kept: `$REVIEW_EXPLAINER_HEADS`, else `heads/` in the cache folder."""
    override = os.environ.get(HEADS_ENV)
    return Path(override).expanduser() if override else cache_dir() / "heads"


def head_path(classifier: Classifier) -> Path:
    """The file of `classifier`'s head: named by its fingerprint."""
    return heads_dir() / f"{fingerprint(classifier)}.pt"


def save_head(path: Path, head: WordHead, info: HeadInfo) -> Path:
    """Write a head file atomically (a temporary file in the same folder, then renamed over `path`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in head.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"format": HEAD_FORMAT, "info": asdict(info), "state": state}, buffer)
    return write_atomic(path, buffer.getvalue())


def read_head(path: Path) -> tuple[WordHead, HeadInfo]:
    """A head file's weights and info; a file that is not a head is a `ModelError`."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        info = HeadInfo(**{**data["info"], "labels": tuple(data["info"]["labels"])})
        head = WordHead(info.hidden_size, len(info.labels), info.width)
        head.load_state_dict(data["state"])
    except FileNotFoundError as exc:
        raise NoHeadError(f"no amortized head at {path}") from exc
    except Exception as exc:  # unpickling, missing keys, wrong shapes: not a head of this version
        raise ModelError(
            f"{path} is not an amortized head file of this version ({type(exc).__name__}); fit it again"
        ) from exc
    if data.get("format") != HEAD_FORMAT:
        raise ModelError(f"{path} is an amortized head of another format; fit it again with `explain amortize`")
    return head.eval(), info


def check_owner(classifier: Classifier, info: HeadInfo, path: Path) -> None:
    """Refuse a head fitted for another model (its fingerprint is not this classifier's)."""
    if info.model != fingerprint(classifier):
        raise ForeignHeadError(
            f"the amortized head {path} was fitted for another model ({info.model_name}, {info.model[:12]}), not "
            f"{classifier.name}; fit one for this model with `explain amortize --model ... --data reviews.csv`"
        )


def load_head(classifier: Classifier, path: str | Path | None = None) -> tuple[WordHead, HeadInfo]:
    """`classifier`'s head (or the head file `path`), read once per classifier and again when the file changes.

    No head is a `NoHeadError` that says how to fit one; another model's head a `ForeignHeadError`.
    """
    path = Path(path).expanduser() if path else head_path(classifier)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise NoHeadError(_no_head_message(classifier, path)) from None
    loaded = _LOADED.setdefault(classifier, {})
    cached = loaded.get(str(path))
    if cached is None or cached[0] != mtime:
        head, info = read_head(path)
        check_owner(classifier, info, path)
        loaded[str(path)] = cached = (mtime, head, info)
    return cached[1], cached[2]


def has_head_file(classifier: Classifier) -> bool:
    """Is there a head file for this model (by its fingerprint)? Reads no weights."""
    return head_path(classifier).is_file()


def _no_head_message(classifier: Classifier, path: Path) -> str:
    from explain.models import DEFAULT_MODEL_NAME

    if classifier.name == DEFAULT_MODEL_NAME:
        return (
            "the default model has no amortized head yet: run `explain build-default` (fits it in a few minutes), "
            "or `explain why --method amortized ...`, which fits it on first use"
        )
    return (
        f"{classifier.name} has no amortized head ({path.name} in {path.parent}); fit one on your reviews: "
        "explain amortize --model MODEL --data reviews.csv --text-col TEXT"
    )
