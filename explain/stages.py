"""What the three stages of sequence classification produce: encodings, inference outputs, traces.

Plain values, built by `explain.classifier.Classifier` (`tokenize`, `infer`, `trace`) and read by
methods, renderers and reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from explain.labels import format_rating


@dataclass(frozen=True)
class Encoding:
    """Stage 1 output for a batch of texts (padded to the longest in the batch)."""

    input_ids: torch.Tensor  # (batch, seq)
    attention_mask: torch.Tensor  # (batch, seq)
    token_type_ids: torch.Tensor | None  # (batch, seq) or None for models without segments
    tokens: list[list[str]]  # per text, without padding
    offsets: list[list[tuple[int, int]]]  # character spans in the text; (0, 0) for special tokens
    special: list[list[bool]]  # per token: is it [CLS]/[SEP]/<s>/...
    truncated: list[bool]

    def model_inputs(self) -> dict[str, torch.Tensor]:
        inputs = {"input_ids": self.input_ids, "attention_mask": self.attention_mask}
        if self.token_type_ids is not None:
            inputs["token_type_ids"] = self.token_type_ids
        return inputs

    def id_to_token(self, row: int = 0) -> dict[int, str]:
        """The token id -> token mapping of one text, in order of first appearance."""
        ids = self.input_ids[row][self.attention_mask[row].bool()].tolist()
        return dict(zip(ids, self.tokens[row], strict=True))


@dataclass(frozen=True)
class Inference:
    """Stage 2 output: logits, and attentions / hidden states when asked for."""

    logits: torch.Tensor  # (batch, n_labels)
    attentions: tuple[torch.Tensor, ...] | None = None  # per layer (batch, heads, seq, seq)
    hidden_states: tuple[torch.Tensor, ...] | None = None  # per layer (batch, seq, hidden)


@dataclass(frozen=True)
class WindowTrace:
    """One window of a long text in a trace: its content tokens [start, end), its weight, its three stages."""

    start: int
    end: int
    weight: float
    trace: Trace


@dataclass(frozen=True)
class Trace:
    """Everything the three stages produce for one text, as plain Python values."""

    text: str
    model: str
    input_ids: list[int]
    token_type_ids: list[int] | None
    attention_mask: list[int]
    tokens: list[str]
    id_to_token: dict[int, str]
    truncated: bool
    max_length: int
    logits: list[float]
    probabilities: list[float]
    id2label: dict[int, str]
    predictions: dict[str, float] = field(default_factory=dict)  # label -> probability, 3 places
    label_values: list[float] | None = None  # the number each label stands for (None: no rating)
    expected_rating: float | None = None  # sum of value x probability
    rating_unit: str = ""
    # A long text read in windows: each window's trace (stages 1-2 above are the first window's; `logits` are
    # then the log of the aggregated probabilities, whose softmax they are).
    windows: tuple[WindowTrace, ...] = ()

    @property
    def predicted_label(self) -> str:
        return self.id2label[int(np.argmax(self.probabilities))]

    @property
    def answer(self) -> str:
        """One line: "1.6 stars expected (most likely 2 stars, 0.49)", or the predicted label and its probability."""
        top = int(np.argmax(self.probabilities))
        likely = f"{self.id2label[top]}, {self.probabilities[top]:.2f}"
        if self.expected_rating is None:
            return likely
        return f"{format_rating(self.expected_rating, self.rating_unit)} expected (most likely {likely})"

    def __repr__(self) -> str:  # short however long the text (the token lists can run to thousands)
        windows = f", {len(self.windows)} windows" if self.windows else ""
        return f"Trace({len(self.tokens)} tokens{windows}, {self.answer})"


@dataclass
class Meter:
    """Forward passes, rows and seconds counted while a `Classifier.metered()` block runs in one thread."""

    forward_passes: int = 0
    rows: int = 0
    seconds: float = 0.0
