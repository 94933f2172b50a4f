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

import copy
import hashlib
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from itertools import chain

import numpy as np
import torch

from explain.errors import UserError
from explain.first_token import first_token_view
from explain.windows import LONG_MODES, WindowedText, aggregate_windows, plan_windows, token_boundaries

PRECISIONS = ("float32", "bfloat16")


class TruncationWarning(UserWarning):
    """A text was longer than the model's maximum length and was cut."""


@contextmanager
def quiet_truncation() -> Iterator[None]:
    """Silence `TruncationWarning` inside the block (for callers that record truncation themselves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        yield


@dataclass(frozen=True)
class EngineOptions:
    """How the engine batches and runs the model. Defaults keep results exact (within 1e-5)."""

    max_tokens_per_batch: int = 2048  # padded tokens (rows x longest) per forward pass
    max_batch_size: int = 64  # rows per forward pass
    max_padding: float = 0.1  # close a batch early rather than let padding exceed this share of it
    chunk_size: int = 4096  # distinct texts tokenized and planned at a time
    chunk_chars: int = 1_000_000  # ... and at most about this many characters of them (long texts)
    long: str = "windows"  # a text longer than the model's maximum: "windows" (read whole) or "truncate"
    window_stride: int | None = None  # content tokens between window starts; None: half a window
    threads: int | None = None  # torch intra-op threads during evaluation; None leaves torch's setting
    fused_attention: bool = True  # run inference with `sdpa` attention where the model supports it
    first_token: bool = True  # last layer computes only the position the classification head reads
    quantize: bool = False  # dynamic int8 quantization of nn.Linear (CPU)
    compile: bool = False  # torch.compile the inference model
    precision: str = "float32"  # or "bfloat16" (autocast)

    def __post_init__(self) -> None:
        for name in ("max_tokens_per_batch", "max_batch_size", "chunk_size", "chunk_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserError(f"{name} must be a positive integer (got {value!r})")
        if not 0.0 <= self.max_padding <= 1.0:
            raise UserError(f"max_padding must be between 0 and 1 (got {self.max_padding!r})")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise UserError(f"threads must be a positive integer or None (got {self.threads!r})")
        if self.long not in LONG_MODES:
            raise UserError(f"long must be one of {', '.join(LONG_MODES)} (got {self.long!r})")
        if self.window_stride is not None and (not isinstance(self.window_stride, int) or self.window_stride < 1):
            raise UserError(f"window_stride must be a positive integer or None (got {self.window_stride!r})")
        if self.precision not in PRECISIONS:
            raise UserError(f"precision must be one of {', '.join(PRECISIONS)} (got {self.precision!r})")

    @property
    def exact(self) -> bool:
        """Do these options keep probabilities equal to the float32 model's (within 1e-5)?"""
        return not self.quantize and self.precision == "float32"


@dataclass
class _CallState:
    """What one `predict_proba` call accumulates: texts cut, and the probabilities of the windows seen so far."""

    n_cut: int = 0
    windows: dict[bytes, np.ndarray] = field(default_factory=dict)


def plan_batches(lengths: Sequence[int], max_tokens: int, max_rows: int, max_padding: float = 1.0) -> list[list[int]]:
    """Group indices into batches of similar length whose padded size stays within `max_tokens`.

    Indices are taken in ascending length; a batch closes when one more row would make
    rows x longest exceed `max_tokens`, at `max_rows` rows, or, once it holds at least
    `max_tokens // 8` padded tokens, when more than `max_padding` of its padded tokens would be
    padding. A single text longer than the budget gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0  # tokens of the texts in `current`
    min_padded = max_tokens // 8
    for i in order:
        longest = lengths[i]  # ascending order: the newest is the longest
        n = len(current)
        if current and (
            n >= max_rows
            or (n + 1) * longest > max_tokens
            or (n * lengths[current[-1]] >= min_padded and real + longest < (1 - max_padding) * (n + 1) * longest)
        ):
            batches.append(current)
            current, real = [], 0
        current.append(i)
        real += longest
    if current:
        batches.append(current)
    return batches


def deduplicate(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The distinct texts in first-seen order, and for each input its row among them."""
    index: dict[str, int] = {}
    rows = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.intp, count=len(texts))
    return list(index), rows


def shared_view(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model`'s modules and config that shares its Parameters and buffers (no weights copied)."""
    memo = {id(t): t for t in chain(model.parameters(), model.buffers())}
    return copy.deepcopy(model, memo)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of `model` with every nn.Linear dynamically quantized to int8 (weights per output channel).

    Per-channel weight scales: on the default model they halve the worst probability error of
    per-tensor scales (0.26 vs 0.65 on 300 review sentences) at the same speed.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch marks its eager-mode quantization API as deprecated
        warnings.simplefilter("ignore")
        return quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=False)


class PerThreadTokenizer:
    """A tokenizer for each thread that uses it.

    A fast tokenizer keeps its padding and truncation settings in state that every call resets before
    encoding (outside the GIL), so two threads sharing one tokenizer can encode with each other's settings
    and get wrong ids, hence wrong probabilities. The thread that made this object uses the tokenizer it
    was given; every other thread gets its own copy, made on its first call and dropped with the thread.
    """

    def __init__(self, tokenizer):
        self.original = tokenizer
        self._owner = threading.get_ident()
        self._local = threading.local()

    def get(self):
        """The tokenizer of the calling thread."""
        if threading.get_ident() == self._owner:
            return self.original
        tokenizer = getattr(self._local, "tokenizer", None)
        if tokenizer is None:
            tokenizer = self._local.tokenizer = copy.deepcopy(self.original)
        return tokenizer


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
        if self.options.fused_attention and _can_use_sdpa(view):
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


def _can_use_sdpa(model: torch.nn.Module) -> bool:
    config = getattr(model, "config", None)
    return (
        config is not None
        and getattr(config, "_attn_implementation", None) == "eager"
        and bool(getattr(model, "_supports_sdpa", False))
        and hasattr(model, "set_attn_implementation")
        and getattr(model, "_can_set_attn_implementation", lambda: True)()
    )
