"""Size limits applied at every entry (CLI, Python API, dashboard, batch rows), read from one place.

Each limit has a default and an environment variable; a bad value in the environment is a user error
(one line), never a traceback. `check_text` is the one test of a text at an entry: not too long,
and not empty (whitespace, zero-width characters, NULs or other controls give a model no words).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from explain.errors import EmptyTextError, InputTooLargeError, InvalidValueError

__all__ = [
    "MAX_ROWS",
    "MAX_TEXT_CHARS",
    "MAX_UPLOAD_MB",
    "InputTooLargeError",
    "Limit",
    "check_environment",
    "check_text",
    "has_words",
]


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
            raise InvalidValueError(
                f"{self.env}={raw!r} is not a whole number ({self.what}; default {self.default})"
            ) from None
        if value < 1:
            raise InvalidValueError(f"{self.env} must be at least 1 (got {value}; {self.what})")
        return value


MAX_TEXT_CHARS = Limit("REVIEW_EXPLAINER_MAX_CHARS", 100_000, "characters per review")
MAX_ROWS = Limit("REVIEW_EXPLAINER_MAX_ROWS", 500, "reviews per dashboard upload")
MAX_UPLOAD_MB = Limit("REVIEW_EXPLAINER_MAX_UPLOAD_MB", 5, "megabytes per dashboard upload")


def check_environment() -> None:
    """Read every limit once, so a bad value in the environment is reported before any work starts."""
    for limit in (MAX_TEXT_CHARS, MAX_ROWS, MAX_UPLOAD_MB, MAX_WINDOW_EVALUATIONS):
        limit.value()


# Unicode categories that put nothing on the page for a model to read: controls, format characters
# (zero-width space/joiner, bidi marks, BOM), unassigned/private/surrogates, separators, lone combining marks.
_INVISIBLE = {"Cc", "Cf", "Cn", "Co", "Cs", "Zs", "Zl", "Zp", "Mn", "Me"}


def has_words(text: str) -> bool:
    """Does `text` hold at least one visible character (not only whitespace, zero-width or control characters)?"""
    return any(not ch.isspace() and unicodedata.category(ch) not in _INVISIBLE for ch in text)


def check_text(text: str, index: int | None = None) -> str:
    """`text` itself when it has words and is within `MAX_TEXT_CHARS`; otherwise a one-line `UserError`.

    Too long: `InputTooLargeError` saying by how much. No visible character (empty, whitespace,
    zero-width characters, NULs, controls): `EmptyTextError`.
    """
    which = "the review" if index is None else f"review {index + 1}"
    if not isinstance(text, str):
        raise InvalidValueError(f"{which} is {type(text).__name__}, not text")
    limit = MAX_TEXT_CHARS.value()
    if len(text) > limit:
        raise InputTooLargeError(
            f"{which} has {len(text):,} characters; the limit is {limit:,} "
            f"(set {MAX_TEXT_CHARS.env} to raise it, or split the text)"
        )
    if not has_words(text):
        raise EmptyTextError(
            f"{which} has no words (it is empty or only whitespace, zero-width or control characters); "
            "give a text with at least one word"
        )
    return text


# The one budget of an explanation, whatever the method and the entry: model windows read, where a window is up
# to the model's maximum length in tokens; a long review reads all its windows per evaluation, a short one its
# share of one (so 1,000 LIME samples of a 16-token review on a 512-token model read about 31 windows).
MAX_WINDOW_EVALUATIONS = Limit(
    "REVIEW_EXPLAINER_MAX_WINDOW_EVALS",
    2_000,
    "model windows (up to the model's maximum length; a short review counts its share of one) per explanation",
)


def window_evaluations_allowed(cost: int) -> bool:
    """Is an explanation estimated to evaluate `cost` model windows within `MAX_WINDOW_EVALUATIONS`?"""
    return cost <= MAX_WINDOW_EVALUATIONS.value()


def check_window_evaluations(method: str, cost: int, how_to_lower: str, which: str = "this review") -> None:
    """Refuse, before any work, an explanation estimated to evaluate more than `MAX_WINDOW_EVALUATIONS` model
    windows (`explain.methods.check_budget` counts them for every method); the one-line error says what to lower."""
    limit = MAX_WINDOW_EVALUATIONS.value()
    if not window_evaluations_allowed(cost):
        raise InputTooLargeError(
            f"{method} on {which} would evaluate about {cost:,} model windows; the limit is {limit:,} "
            f"(at the limit, 0.5-5 minutes on 2 CPU cores): {how_to_lower}, or set {MAX_WINDOW_EVALUATIONS.env}"
        )


def checked_texts(texts: Iterable[str]) -> Iterator[str]:
    """The texts of an iterable, one at a time, each checked to be a str."""
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, not str")
        yield t


def text_list(texts: Sequence[str] | str, allow_empty: bool = False) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("pass a list of texts, e.g. predict_proba([text])")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"text {i} is {type(t).__name__}, not str")
        if not allow_empty and not has_words(t):
            raise EmptyTextError(
                "the text is empty; give a review with at least one word"
                if len(texts) == 1
                else f"text {i + 1} is empty; every review needs at least one word"
            )
    return texts
