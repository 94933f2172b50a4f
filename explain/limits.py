"""Size limits applied at every entry (CLI, Python API, dashboard, batch rows), read from one place.

Each limit has a default and an environment variable; a bad value in the environment is a user error
(one line), never a traceback. `check_text` is the one test of a text's size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from explain.errors import UserError


class InputTooLargeError(UserError, ValueError):
    """A text, file or upload is larger than the configured limit."""


@dataclass(frozen=True)
class Limit:
    """A positive integer setting with a default, overridable by an environment variable."""

    env: str
    default: int
    what: str

    def value(self) -> int:
        raw = os.environ.get(self.env, "").strip()
        if not raw:
            return self.default
        try:
            value = int(raw)
        except ValueError:
            raise UserError(f"{self.env}={raw!r} is not a whole number ({self.what}; default {self.default})") from None
        if value < 1:
            raise UserError(f"{self.env} must be at least 1 (got {value}; {self.what})")
        return value


MAX_TEXT_CHARS = Limit("REVIEW_EXPLAINER_MAX_CHARS", 100_000, "characters per review")
MAX_ROWS = Limit("REVIEW_EXPLAINER_MAX_ROWS", 500, "reviews per dashboard upload")
MAX_UPLOAD_MB = Limit("REVIEW_EXPLAINER_MAX_UPLOAD_MB", 5, "megabytes per dashboard upload")


def check_text(text: str, index: int | None = None) -> str:
    """`text` itself when it is within `MAX_TEXT_CHARS`; otherwise an `InputTooLargeError` saying by how much."""
    limit = MAX_TEXT_CHARS.value()
    if len(text) > limit:
        which = "the review" if index is None else f"review {index + 1}"
        raise InputTooLargeError(
            f"{which} has {len(text):,} characters; the limit is {limit:,} "
            f"(set {MAX_TEXT_CHARS.env} to raise it, or split the text)"
        )
    return text


MAX_WINDOW_EVALUATIONS = Limit(
    "REVIEW_EXPLAINER_MAX_WINDOW_EVALS", 2_000, "model windows (up to the model's maximum length) per explanation"
)


def check_window_evaluations(method: str, cost: int, how_to_lower: str) -> None:
    """Refuse, before any work, an explanation of a long review estimated to evaluate more than
    `MAX_WINDOW_EVALUATIONS` model windows; the one-line error says what to lower."""
    limit = MAX_WINDOW_EVALUATIONS.value()
    if cost > limit:
        raise InputTooLargeError(
            f"{method} on this review would evaluate about {cost:,} model windows; the limit is {limit:,} "
            f"(about a minute on 2 CPU cores): {how_to_lower}, or set {MAX_WINDOW_EVALUATIONS.env}"
        )
