"""The evaluation engine: every text an explainer scores goes through `Engine.predict_proba`.

For a list of texts it
1. evaluates each distinct text once (SHAP and LIME generate many identical masked texts);
2. works through the distinct texts `chunk_size` at a time, so tokenized features and activations are
   bounded by the chunk and batch sizes, never by the number of texts;
3. tokenizes each distinct text once (ids only: no offsets, no padding, no tensors);
4. sorts them by token length and cuts batches whose padded size (rows x longest) stays within
   `max_tokens_per_batch` and `max_batch_size` rows (`plan_batches`);
5. pads each batch with numpy on the right (so a text is seen exactly as it is alone) and runs the
   inference model under `torch.inference_mode` (with `threads` torch threads when given);
6. takes the softmax in float32 and returns rows in input order.

The inference model is a *view* of the classifier's model: a copy of its modules that shares every
Parameter and buffer (in-place weight edits are seen, no memory is duplicated) but has its own config,
so it can run PyTorch's fused attention (`sdpa`) while the classifier's own model keeps the eager
attention that returns attention weights, and its last layer computes only the first token, the one
the classification head reads (`explain.first_token`, ~14% fewer FLOPs on the default model). Both
compute the same function as the classifier's model, up to float rounding (~1e-6 in probability), so
default results stay exact within 1e-5. This exact view (`exact_model`) also serves gradient methods
(`Classifier.forward(..., head_only=True)`).

Optional speed-ups, off by default because they change the numbers (measured in benchmarks/README.md):
- `quantize=True`: dynamic int8 quantization of every `nn.Linear` (CPU only; weights are snapshotted
  when the engine is built, so later in-place weight edits are not seen);
- `compile=True`: `torch.compile` of the inference model (the first calls pay the compilation);
- `precision="bfloat16"`: autocast to bfloat16 (meant for GPUs with bf16 support; works on CPUs with
  AVX512-BF16, elsewhere it is slow).
Gradient methods use the exact view; attention methods use the classifier's own eager model.
"""

from __future__ import annotations

import hashlib
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from itertools import chain

import numpy as np
import torch

from explain.batching import PRECISIONS as PRECISIONS  # re-exported for the engine's callers
from explain.batching import EngineOptions as EngineOptions
from explain.batching import deduplicate as deduplicate
from explain.batching import plan_batches as plan_batches
from explain.errors import TruncationWarning as TruncationWarning
from explain.errors import UserError
from explain.errors import quiet_truncation as quiet_truncation
from explain.first_token import first_token_view
from explain.views import PerThreadTokenizer as PerThreadTokenizer
from explain.views import can_use_sdpa, quantize_int8
from explain.views import shared_view as shared_view
from explain.windows import WindowedText, aggregate_windows, plan_windows, token_boundaries


@dataclass
class _CallState:
    """What one `predict_proba` call accumulates: texts cut, and the probabilities of the windows seen so far."""

    n_cut: int = 0
    windows: dict[bytes, np.ndarray] = field(default_factory=dict)


class Engine:
    """Batched, deduplicated, length-bucketed evaluation of a sequence classifier's probabilities."""

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer,
        max_length: int,
        *,
        device: str | torch.device = "cpu",
        input_names: Sequence[str] = ("input_ids", "attention_mask"),
        options: EngineOptions | None = None,
        record: Callable[[float, int], None] | None = None,
    ):
        """`record(seconds, rows)` is called after every forward pass (the classifier counts them).

        `tokenizer` may be a `PerThreadTokenizer` (shared with the classifier) or a plain tokenizer.
        """
        self.model = model
        self.tokenizers = tokenizer if isinstance(tokenizer, PerThreadTokenizer) else PerThreadTokenizer(tokenizer)
        tokenizer = self.tokenizers.original
        self.max_length = max_length
        self.device = torch.device(device)
        self.input_names = tuple(input_names)
        self.record = record
        self.options = options or EngineOptions()
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.pad_type_id = getattr(tokenizer, "pad_token_type_id", 0) or 0
        self._check_device()
        self._views: dict[str, tuple[tuple[int, ...], torch.nn.Module]] = {}  # name -> (params key, view)
        self._views_lock = threading.RLock()  # one thread builds a view; the others wait for it
        self._layout: tuple | None = None  # special tokens around one text (`special_layout`)

    @property
    def tokenizer(self):
        """The calling thread's tokenizer (see `PerThreadTokenizer`)."""
        return self.tokenizers.get()

    def _check_device(self) -> None:
        if self.options.quantize and self.device.type != "cpu":
            raise UserError(
                "quantize=True is dynamic int8 quantization, which runs on CPU only; use precision='bfloat16' on a GPU"
            )
        if (
            self.options.precision == "bfloat16"
            and self.device.type == "cuda"
            and torch.cuda.is_available()
            and not torch.cuda.is_bf16_supported()
        ):
            raise UserError("this GPU has no bfloat16 support; leave precision='float32'")

    def configure(self, **changes: object) -> None:
        """Change options (e.g. `threads=1`, `max_tokens_per_batch=2048`); the model view is rebuilt when needed."""
        options = replace(self.options, **changes)
        exact = any(getattr(options, k) != getattr(self.options, k) for k in ("fused_attention", "first_token"))
        rebuild = exact or any(getattr(options, k) != getattr(self.options, k) for k in ("quantize", "compile"))
        self.options = options
        self._check_device()
        if exact:
            self._views.pop("exact", None)
        if rebuild:
            self._views.pop("inference", None)

    # ---------------------------------------------------------------- the inference model
    @property
    def exact_model(self) -> torch.nn.Module:
        """A view of the model computing its exact function faster (fused attention, first-token last layer)."""
        return self._cached("exact", self._build_exact)

    @property
    def inference_model(self) -> torch.nn.Module:
        """The module predictions run on: the exact view, with the speed flags' changes (built on first use)."""
        return self._cached("inference", self._build_view)

    def _cached(self, name: str, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
        """The view `name`, built on first use and again when the model's Parameters are replaced (not edited)."""
        key = tuple(id(p) for p in self.model.parameters())
        with self._views_lock:
            cached = self._views.get(name)
            if cached is None or cached[0] != key:
                cached = self._views[name] = (key, build())
            return cached[1]

    def _build_exact(self) -> torch.nn.Module:
        view = shared_view(self.model).eval()
        if self.options.fused_attention and can_use_sdpa(view):
            view.set_attn_implementation("sdpa")
        if self.options.first_token:
            first_token_view(view, self.input_names)
        return view

    def _build_view(self) -> torch.nn.Module:
        view = self.exact_model
        if self.options.quantize:
            view = quantize_int8(view)  # a quantized copy; the exact view is left as it is
        if self.options.compile:
            view = torch.compile(view, dynamic=True)
        return view

    # ---------------------------------------------------------------- long texts
    @property
    def special_layout(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...] | None]:
        """The special token ids the tokenizer puts before and after one text's tokens, and the segment ids of
        [before, one content token, after] (None for models without segments); e.g. ([CLS],), ([SEP],)."""
        if self._layout is None:
            want_types = "token_type_ids" in self.input_names
            probe = self.tokenizer("a", return_token_type_ids=want_types, return_attention_mask=False)
            bare = self.tokenizer("a", add_special_tokens=False, return_attention_mask=False)["input_ids"]
            ids = list(probe["input_ids"])
            at = next(i for i in range(len(ids)) if ids[i : i + len(bare)] == list(bare))
            before, after = tuple(ids[:at]), tuple(ids[at + len(bare) :])
            types = (
                tuple(probe["token_type_ids"][: at + 1] + probe["token_type_ids"][at + len(bare) :])
                if want_types
                else None
            )
            self._layout = (before, after, types)
        return self._layout

    @property
    def window_size(self) -> int:
        """Content tokens per window: the model's maximum minus its special tokens."""
        before, after, _ = self.special_layout
        return self.max_length - len(before) - len(after)

    def split(self, texts: Sequence[str]) -> list[WindowedText]:
        """Each text's content tokens (no specials, no truncation) and the windows that cover them."""
        if not texts:
            return []
        enc = self.tokenizer(
            list(texts),
            add_special_tokens=False,
            truncation=False,
            return_offsets_mapping=True,
            return_attention_mask=False,
            return_token_type_ids=False,
            verbose=False,
        )
        out = []
        for text, ids, offsets in zip(texts, enc["input_ids"], enc["offset_mapping"], strict=True):
            word, sentence = token_boundaries(text, offsets)
            windows = plan_windows(word, sentence, self.window_size, self.options.window_stride)
            out.append(WindowedText(list(ids), [tuple(o) for o in offsets], tuple(windows)))
        return out

    def window_features(self, ids: Sequence[int]) -> dict[str, list[int]]:
        """Model features of one window's content ids: the tokenizer's special tokens around them."""
        before, after, types = self.special_layout
        features = {"input_ids": [*before, *ids, *after]}
        if types is not None:
            n_before = len(before)
            features["token_type_ids"] = [*types[:n_before], *([types[n_before]] * len(ids)), *types[n_before + 1 :]]
        return features

    # ---------------------------------------------------------------- evaluation
    def predict_proba(self, texts: Iterable[str], n_labels: int) -> np.ndarray:
        """Probabilities (n, n_labels) for each text, in input order, float32.

        `texts` may be any iterable (e.g. a generator of variants): it is read `chunk_size` distinct
        texts (and about `chunk_chars` characters) at a time, and distinct texts are remembered by a
        16-byte digest, so memory does not grow with the texts' length. A text longer than the model's
        maximum is read in windows (`long="windows"`, `explain.windows`) or cut (`long="truncate"`).
        """
        seen: dict[object, int] = {}
        rows: list[int] = []
        parts: list[np.ndarray] = []
        chunk: list[str] = []
        chars = 0
        state = _CallState()
        with self._threads(), torch.inference_mode(), self._autocast():
            for text in texts:
                key = (
                    text
                    if len(text) <= 64
                    else hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
                )
                row = seen.get(key)
                if row is None:
                    row = seen[key] = len(seen)
                    chunk.append(text)
                    chars += len(text)
                    if len(chunk) >= self.options.chunk_size or chars >= self.options.chunk_chars:
                        parts.append(self._evaluate(chunk, n_labels, state))
                        chunk, chars = [], 0
                rows.append(row)
            if chunk:
                parts.append(self._evaluate(chunk, n_labels, state))
        if state.n_cut:
            warnings.warn(
                f"{state.n_cut} text(s) longer than {self.max_length} tokens were truncated; only their first "
                "part is classified",
                TruncationWarning,
                stacklevel=3,
            )
        if not rows:
            return np.zeros((0, n_labels), dtype=np.float32)
        return np.concatenate(parts)[np.asarray(rows, dtype=np.intp)]

    def _evaluate(self, chunk: list[str], n_labels: int, state: _CallState) -> np.ndarray:
        """Probabilities of distinct texts: texts that fit as they are, long ones by their windows (or cut)."""
        features, lengths, cut = self.tokenize(chunk)
        probs = np.empty((len(chunk), n_labels), dtype=np.float32)
        long = [i for i, c in enumerate(cut) if c] if self.options.long == "windows" else []
        if not long:
            state.n_cut += sum(cut)
        read_whole = set(long)
        self._run(features, lengths, [i for i in range(len(chunk)) if i not in read_whole], probs)
        for i, windowed in zip(long, self.split([chunk[i] for i in long]), strict=True):
            probs[i] = self._window_probs(windowed, n_labels, state)
        return probs

    def _window_probs(self, windowed: WindowedText, n_labels: int, state: _CallState) -> np.ndarray:
        """One long text's probabilities: its windows' (each distinct window evaluated once per call), aggregated."""
        todo: dict[bytes, dict[str, list[int]]] = {}
        keys = []
        for window in windowed.windows:
            ids = windowed.ids[window.start : window.end]
            key = hashlib.blake2b(np.asarray(ids, dtype=np.int64).tobytes(), digest_size=16).digest()
            keys.append(key)
            if key not in state.windows and key not in todo:
                todo[key] = self.window_features(ids)
        if todo:
            names = list(next(iter(todo.values())))
            features = {name: [f[name] for f in todo.values()] for name in names}
            lengths = [len(ids) for ids in features["input_ids"]]
            out = np.empty((len(todo), n_labels), dtype=np.float32)
            self._run(features, lengths, range(len(todo)), out)
            state.windows.update(zip(todo, out, strict=True))
        return aggregate_windows(np.stack([state.windows[k] for k in keys]), windowed.windows)

    def _run(
        self, features: dict[str, list[list[int]]], lengths: Sequence[int], rows: Iterable[int], out: np.ndarray
    ) -> None:
        """Evaluate the texts `rows` of tokenized `features` in length-planned batches, writing `out[row]`."""
        rows = list(rows)
        model = self.inference_model
        for batch in plan_batches(
            [lengths[i] for i in rows],
            self.options.max_tokens_per_batch,
            self.options.max_batch_size,
            self.options.max_padding,
        ):
            chosen = [rows[j] for j in batch]
            logits = self._forward(model, self.pad(features, lengths, chosen))
            out[chosen] = torch.softmax(logits.float(), dim=-1).cpu().numpy()

    def tokenize(self, texts: list[str]) -> tuple[dict[str, list[list[int]]], list[int], list[bool]]:
        """Token ids (and segment ids where the model takes them) per text, their lengths, and which were cut."""
        want_types = "token_type_ids" in self.input_names
        enc = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=False,
            return_token_type_ids=want_types,
        )
        features = {"input_ids": enc["input_ids"]}
        if want_types:
            features["token_type_ids"] = enc["token_type_ids"]
        encodings = getattr(enc, "encodings", None) or []
        cut = [bool(e.overflowing) for e in encodings] if encodings else [False] * len(texts)
        return features, [len(ids) for ids in enc["input_ids"]], cut

    def pad(
        self, features: dict[str, list[list[int]]], lengths: Sequence[int], batch: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        """Model inputs for the texts `batch`, right-padded to the longest of them."""
        sizes = np.fromiter((lengths[i] for i in batch), dtype=np.int64, count=len(batch))
        mask = np.arange(int(sizes.max()))[None, :] < sizes[:, None]
        inputs = {"attention_mask": torch.from_numpy(mask.astype(np.int64))}
        for name, pad_value in (("input_ids", self.pad_id), ("token_type_ids", self.pad_type_id)):
            if name in features:
                values = np.full(mask.shape, pad_value, dtype=np.int64)
                column = features[name]
                values[mask] = np.fromiter(
                    chain.from_iterable(column[i] for i in batch), dtype=np.int64, count=int(sizes.sum())
                )
                inputs[name] = torch.from_numpy(values)
        return {k: v.to(self.device) for k, v in inputs.items() if k in self.input_names}

    def _forward(self, model: torch.nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        start = time.perf_counter()
        logits = model(**inputs).logits
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        if self.record is not None:
            self.record(time.perf_counter() - start, int(inputs["input_ids"].shape[0]))
        return logits

    @contextmanager
    def _threads(self):
        wanted, previous = self.options.threads, torch.get_num_threads()
        if wanted is None or wanted == previous:
            yield
            return
        torch.set_num_threads(wanted)
        try:
            yield
        finally:
            torch.set_num_threads(previous)

    def _autocast(self):
        if self.options.precision == "bfloat16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()
