"""How the engine batches and runs the model (`EngineOptions`), and its batch planning: distinct texts
once, then length-sorted batches under a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from explain.errors import UserError
from explain.windows import LONG_MODES

PRECISIONS = ("float32", "bfloat16")


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
