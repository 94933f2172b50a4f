"""The three stages of sequence classification, exposed: tokenize -> infer -> postprocess.

`Classifier.predict_proba` is the one function every explainer consumes. It delegates to the
evaluation engine (`explain.engine`): distinct texts are tokenized once, sorted by length and padded
per batch under a token budget, run under `torch.inference_mode`, and returned in input order. A
text's probabilities do not depend on what it is batched with (within 1e-5).
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from explain.engine import (
    Engine,
    EngineOptions,
    PerThreadTokenizer,
    TruncationWarning,
    plan_batches,
    quiet_truncation,
)
from explain.errors import (
    UnknownLabelError,
)
from explain.labels import expected_rating, rating_unit, resolve_label_values
from explain.limits import checked_texts, text_list
from explain.stages import Encoding, Inference, Meter, Trace
from explain.target import Target, is_rating_name, no_rating_error
from explain.windows import Window, WindowedText, window_positions
from explain.words import Alignment, align

__all__ = [
    "Classifier",
    "Encoding",
    "Inference",
    "Meter",
    "Trace",
    "TruncationWarning",
    "plan_batches",
    "quiet_truncation",
]

# Model families whose position ids start after the padding index (max positions minus 2 usable).
_PADDING_OFFSET_POSITIONS = {"roberta", "xlm-roberta", "camembert", "longformer", "bart"}


class Classifier:
    """A Hugging Face sequence classifier with its three stages exposed and a batched `predict_proba`.

    Batching and speed options go to the engine (`explain.engine.EngineOptions`). `label_values`: the
    number each label stands for (default: `config.label_values`, else read from the label names, see
    `explain.labels`); a model with values has an expected rating. `long`: what happens to a text longer
    than the model's maximum: "windows" (default; read whole in overlapping windows, `explain.windows`)
    or "truncate" (classify its first part only); `window_stride`: content tokens between window starts
    (default half a window). `threads`: torch threads while predicting (None: leave torch's setting).
    `quantize` (dynamic int8, CPU), `compile` (torch.compile) and `precision="bfloat16"` trade exactness
    for speed; they apply to `predict_proba` only, never to `forward`/`infer` (gradients and attentions).
    """

    untrained_head: tuple[str, ...] = ()  # weights `from_pretrained` had to initialise randomly (allowed by the user)

    def __init__(
        self,
        model,
        tokenizer,
        name: str = "model",
        device: str | torch.device = "cpu",
        max_tokens_per_batch: int = EngineOptions.max_tokens_per_batch,
        max_batch_size: int = EngineOptions.max_batch_size,
        *,
        threads: int | None = None,
        quantize: bool = False,
        compile: bool = False,
        precision: str = "float32",
        label_values: Sequence[float] | str | None = None,
        long: str = "windows",
        window_stride: int | None = None,
    ):
        """See the class docstring for the options."""
        self.model = model.to(device).eval()
        self.tokenizers = PerThreadTokenizer(tokenizer)  # thread-safe: one tokenizer per calling thread
        self.name = name
        self.device = torch.device(device)
        config = model.config
        self.labels: list[str] = [config.id2label[i] for i in range(config.num_labels)]
        self.label_values = resolve_label_values(self.labels, label_values, getattr(config, "label_values", None))
        self.rating_unit = rating_unit(self.labels, self.label_values)
        self.max_length = self._max_length()
        self.has_token_types = (
            "token_type_ids" in tokenizer.model_input_names and getattr(config, "type_vocab_size", 0) > 0
        )
        self.forward_calls = 0  # model forward passes run by this classifier (all threads)
        self.forward_seconds = 0.0  # wall time spent inside them
        self.texts_evaluated = 0
        self._count_lock = threading.Lock()
        self._meters = threading.local()  # per thread: the open `metered()` blocks
        options = EngineOptions(
            max_tokens_per_batch=max_tokens_per_batch,
            max_batch_size=max_batch_size,
            threads=threads,
            quantize=quantize,
            compile=compile,
            precision=precision,
            long=long,
            window_stride=window_stride,
        )
        input_names = ("input_ids", "attention_mask") + (("token_type_ids",) if self.has_token_types else ())
        self.engine = Engine(
            self.model,
            self.tokenizers,
            self.max_length,
            device=self.device,
            input_names=input_names,
            options=options,
            record=self._record,
        )

    @property
    def tokenizer(self):
        """The tokenizer (each thread gets its own copy: fast tokenizers are not thread-safe)."""
        return self.tokenizers.get()

    @property
    def max_tokens_per_batch(self) -> int:
        """Padded tokens (rows x longest) per forward pass in `predict_proba`."""
        return self.engine.options.max_tokens_per_batch

    @property
    def max_batch_size(self) -> int:
        """Rows per forward pass in `predict_proba`."""
        return self.engine.options.max_batch_size

    # ---------------------------------------------------------------- loading
    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path | None = None,
        device: str = "cpu",
        trust_remote_code: bool = False,
        *,
        name: str | None = None,
        allow_untrained_head: bool = False,
        **kwargs,
    ) -> Classifier:
        """Load any HF sequence-classification checkpoint (a folder or hub id; `name` defaults to it).

        The embedded default model loads with `explain.load_classifier()`, which builds it on first use.

        Attention is loaded eagerly (`attn_implementation="eager"`): transformers' default `sdpa`
        returns no attention weights (predictions still run fused attention, see `explain.engine`).
        Remote code runs only with `trust_remote_code=True`. A checkpoint whose weights do not cover the
        whole model (a base or masked-LM checkpoint: no trained classification head) or whose head has
        other shapes is refused with `UntrainedHeadError` naming the missing weights; with
        `allow_untrained_head=True` it loads with a warning, and `untrained_head` lists them.
        `kwargs` go to `Classifier(...)`: `max_tokens_per_batch`, `max_batch_size`, `threads`,
        `quantize`, `compile`, `precision`, `label_values`, `long`, `window_stride`.
        """
        from explain.loading import load_checkpoint

        model, tokenizer, name, device, untrained = load_checkpoint(
            name_or_path, device, trust_remote_code, name=name, allow_untrained_head=allow_untrained_head
        )
        classifier = cls(model, tokenizer, name=name, device=device, **kwargs)
        classifier.untrained_head = untrained
        return classifier

    def _max_length(self) -> int:
        config = self.model.config
        limit = getattr(config, "max_position_embeddings", 512) or 512
        if getattr(config, "model_type", "") in _PADDING_OFFSET_POSITIONS:
            limit -= (config.pad_token_id or 1) + 1
        tok_max = getattr(self.tokenizer, "model_max_length", limit) or limit
        return int(min(limit, tok_max))

    # ---------------------------------------------------------------- labels
    def label_index(self, label: str | int | None, default: int | None = None) -> int:
        """Resolve a label name (`"2 stars"`), a label id, or None (-> `default`) to an index."""
        if label is None:
            if default is None:
                raise UnknownLabelError("no label given")
            return default
        if isinstance(label, (int, np.integer)) and 0 <= int(label) < len(self.labels):
            return int(label)
        if isinstance(label, str):
            if label in self.labels:
                return self.labels.index(label)
            lowered = [name.lower() for name in self.labels]
            if label.strip().lower() in lowered:
                return lowered.index(label.strip().lower())
            if label.strip().isdigit() and 0 <= int(label) < len(self.labels):
                return int(label)
        raise UnknownLabelError(f"unknown label {label!r}; this model's labels are: {', '.join(self.labels)}")

    # ---------------------------------------------------------------- stage 1
    def tokenize(self, texts: Sequence[str]) -> Encoding:
        """Stage 1: ids, mask, segment ids, tokens and offsets, padded to the batch's longest text."""
        texts = text_list(texts)
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        n_tokens = enc["attention_mask"].sum(dim=1).tolist()
        tokens = [
            self.tokenizer.convert_ids_to_tokens(enc["input_ids"][i, :n].tolist()) for i, n in enumerate(n_tokens)
        ]
        offsets = [[tuple(span) for span in enc["offset_mapping"][i, :n].tolist()] for i, n in enumerate(n_tokens)]
        special = [[bool(s) for s in enc["special_tokens_mask"][i, :n].tolist()] for i, n in enumerate(n_tokens)]
        truncated = [bool(e.overflowing) for e in enc.encodings] if enc.encodings else [False] * len(texts)
        if any(truncated):
            warnings.warn(
                f"{sum(truncated)} text(s) longer than {self.name}'s maximum of {self.max_length} tokens "
                "were truncated; only their first part is classified",
                TruncationWarning,
                stacklevel=2,
            )
        token_type_ids = enc.get("token_type_ids") if self.has_token_types else None
        return Encoding(enc["input_ids"], enc["attention_mask"], token_type_ids, tokens, offsets, special, truncated)

    @property
    def long(self) -> str:
        """What happens to a text longer than the model's maximum: "windows" or "truncate"."""
        return self.engine.options.long

    def windows(self, text: str) -> WindowedText | None:
        """The windows the model reads `text` in, or None when it fits (or `long="truncate"`)."""
        if self.long != "windows":
            return None
        windowed = self.engine.split([text])[0]
        return windowed if len(windowed.windows) > 1 else None

    def window_inputs(self, windowed: WindowedText, window: Window) -> tuple[dict[str, torch.Tensor], np.ndarray]:
        """Model inputs (batch of 1, on the device) of one window of a long text, and where its tokens sit in the
        text's whole alignment (`align`)."""
        features = self.engine.window_features(windowed.ids[window.start : window.end])
        inputs = {k: torch.tensor([v], device=self.device) for k, v in features.items() if k in self.engine.input_names}
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        before, after, _ = self.engine.special_layout
        return inputs, window_positions(window, len(before), len(after), len(windowed.ids))

    def align(self, text: str) -> Alignment:
        """Tokens of one text (as the model sees them, specials included) grouped into words.

        Under windows (the default) a long text's alignment covers all its tokens, between one pair
        of special tokens, as if the model had no maximum; with `long="truncate"` only the part it sees.
        """
        if self.windows(text) is not None:
            enc = self.tokenizer(
                [text],
                truncation=False,
                return_offsets_mapping=True,
                return_special_tokens_mask=True,
                return_attention_mask=False,
                verbose=False,
            )
            tokens = self.tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
            offsets = [tuple(o) for o in enc["offset_mapping"][0]]
            return align(text, tokens, offsets, [bool(s) for s in enc["special_tokens_mask"][0]])
        with quiet_truncation():
            enc = self.tokenize([text])
        return align(text, enc.tokens[0], enc.offsets[0], enc.special[0])

    # ---------------------------------------------------------------- stage 2
    def infer(
        self, encoding: Encoding, output_attentions: bool = False, output_hidden_states: bool = False
    ) -> Inference:
        """Stage 2: the model's logits (and optionally attentions and hidden states), no gradients."""
        inputs = {k: v.to(self.device) for k, v in encoding.model_inputs().items()}
        with torch.inference_mode():
            out = self.forward(inputs, output_attentions=output_attentions, output_hidden_states=output_hidden_states)
        return Inference(
            out.logits.float().cpu(),
            tuple(a.cpu() for a in out.attentions) if output_attentions else None,
            tuple(h.cpu() for h in out.hidden_states) if output_hidden_states else None,
        )

    def forward(self, inputs: dict[str, torch.Tensor], *, head_only: bool = False, **kwargs):
        """Run the model on prepared inputs (gradients allowed), counting calls and forward time.

        Explainers that need gradients or attentions call this instead of `self.model(...)` so
        that evaluations and the forward-pass share of wall time are counted in one place.
        `head_only=True` runs the engine's exact view instead (fused attention, last layer for the
        first token only): the same logits, faster, but no attentions or hidden states (gradient methods).
        """
        start = time.perf_counter()
        model = self.engine.exact_model if head_only else self.model
        out = model(**inputs, **kwargs)
        rows = inputs["input_ids"] if "input_ids" in inputs else inputs["inputs_embeds"]  # embeddings: gradient methods
        self._record(time.perf_counter() - start, int(rows.shape[0]))
        return out

    def _record(self, seconds: float, rows: int) -> None:
        """Count one forward pass of `rows` texts that took `seconds` (also called by the engine)."""
        with self._count_lock:
            self.forward_seconds += seconds
            self.forward_calls += 1
            self.texts_evaluated += rows
        for meter in getattr(self._meters, "open", ()):
            meter.forward_passes += 1
            meter.rows += rows
            meter.seconds += seconds

    @contextmanager
    def metered(self) -> Iterator[Meter]:
        """Count the forward passes this thread runs inside the block (other threads' are not counted)."""
        meter = Meter()
        stack = self._meters.__dict__.setdefault("open", [])
        stack.append(meter)
        try:
            yield meter
        finally:
            stack.remove(meter)

    # ---------------------------------------------------------------- stage 3
    @staticmethod
    def postprocess(logits: torch.Tensor | np.ndarray) -> np.ndarray:
        """Stage 3: softmax over labels -> probabilities (n, n_labels), labels in id order."""
        logits = torch.as_tensor(logits, dtype=torch.float32)
        return torch.softmax(logits, dim=-1).numpy()

    # ---------------------------------------------------------------- the rating
    @property
    def has_rating(self) -> bool:
        """Do the labels have values (so an expected rating)?"""
        return self.label_values is not None

    def expected_rating(self, texts: Sequence[str]) -> np.ndarray:
        """Expected rating (n,) of each text: sum over labels of value x probability."""
        if self.label_values is None:
            raise no_rating_error(self.labels)
        return expected_rating(self.predict_proba(texts), self.label_values)

    def target(
        self, target: str | int | None = None, contrast: str | int | None = None, text: str | None = None
    ) -> Target:
        """The question to explain: the rating by default (when the model has one), else a class.

        `target`: None (the rating, or the predicted class of `text` for a model without a rating, or
        when a `contrast` is given), "rating", "predicted" (the predicted class of `text`), or a label
        name / index; `contrast`: a label to compare with.
        """
        if isinstance(target, str) and target.strip().lower() == "predicted":
            target = None
            if contrast is None and text is not None:
                return Target.of_label(int(self.predict_proba([text])[0].argmax()))
        if is_rating_name(target):
            if contrast is not None:
                raise UnknownLabelError("a contrast compares two classes; give --target LABEL with --contrast")
            if self.label_values is None:
                raise no_rating_error(self.labels)
            return Target.rating(self.label_values)
        if target is None and contrast is None and self.label_values is not None:
            return Target.rating(self.label_values)
        predicted = None
        if target is None:
            if text is None:
                raise UnknownLabelError("no label given")
            predicted = int(self.predict_proba([text])[0].argmax())
        label = self.label_index(target, default=predicted)
        contrast_index = None if contrast is None else self.label_index(contrast)
        if contrast_index == label:
            raise UnknownLabelError(f"the contrast label must differ from the target ({self.labels[label]!r})")
        return Target.of_label(label, contrast_index)

    # ---------------------------------------------------------------- batched prediction
    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """Probabilities (n, n_labels) for each text, in input order; the function explainers consume.

        Runs through the engine (`explain.engine`): each distinct text is tokenized and evaluated
        once, in length-sorted batches bounded by `max_tokens_per_batch` padded tokens (and
        `max_batch_size` rows); memory is bounded by the batch, not by the number of texts. `texts` may be
        a generator (perturbation variants of a long review): it is read one engine chunk at a time.
        """
        texts = text_list(texts, allow_empty=True) if isinstance(texts, (str, list, tuple)) else checked_texts(texts)
        return self.engine.predict_proba(texts, len(self.labels))

    # ---------------------------------------------------------------- the whole pipeline, shown
    def trace(self, text: str) -> Trace:
        """Run the three stages on one text and keep every intermediate value (see `explain.tracing`)."""
        from explain.tracing import trace

        return trace(self, text)

    def __repr__(self) -> str:
        return f"Classifier(name={self.name!r}, labels={self.labels}, device={self.device})"
