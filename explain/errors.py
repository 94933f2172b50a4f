"""Errors a user can cause. The CLI prints their message on one line and exits with code 2.

One class per kind of fault, so a caller can tell them apart: the input file (`DataError`), a value
(`InvalidValueError`, `EmptyTextError`, `InputTooLargeError`), the model (`ModelError` and its
subclasses), the explanation cache (`StoreError`), an output path (`OutputError`) and the machine's
resources (`ResourceError`: disk full, out of memory).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager


class UserError(Exception):
    """A mistake in what the user asked for; the message says what to do instead."""


class InvalidValueError(UserError, ValueError):
    """An option, setting or data value is out of its range (e.g. `--top -1`, a stars value `inf`)."""


class EmptyTextError(InvalidValueError):
    """A text to classify or explain has no words: empty, whitespace, or only invisible/control characters."""


class InputTooLargeError(InvalidValueError):
    """A text, file or upload is larger than the configured limit (`explain.limits`)."""


class ModelError(UserError):
    """A model that cannot be used as asked: missing, unsafe, untrained or not a classifier."""


class ModelNotFoundError(ModelError, FileNotFoundError):
    """A model folder does not exist or is not a sequence-classification checkpoint."""


class HubUnreachableError(UserError, ConnectionError):
    """A hub id was given but no model hub can be reached from here."""


class UntrainedHeadError(ModelError):
    """The checkpoint lacks (or has mismatched) classification-head weights; its predictions would be random."""


class UnsafeModelError(ModelError):
    """A model needs remote code, which is off unless the user asks for it explicitly."""


class DataError(UserError, ValueError):
    """A data file is missing, unreadable or lacks the named columns."""


class StoreError(UserError):
    """The explanation cache cannot be used: not ours, damaged beyond setting aside, read-only or unwritable."""


class OutputError(UserError, OSError):
    """A file or folder the user asked us to write cannot be written (missing folder, no permission), or
    writing it would destroy the user's files."""


class ResourceError(UserError, OSError):
    """The machine ran out of something (disk space, memory); what was committed before is kept."""


class DataUnavailableError(UserError, ConnectionError):
    """Training data could not be downloaded from the package registry."""


class MissingDependencyError(UserError, ImportError):
    """An optional package a feature needs is not installed (pandas for DataFrames)."""


class UnknownLabelError(UserError, KeyError):
    """A target label that the model does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class UnknownMethodError(UserError, KeyError):
    """An explanation method that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InputWarning(UserWarning):
    """Rows of an input file that were skipped or read without a value (blank text, stars that are not a number)."""


class TruncationWarning(UserWarning):
    """A text was longer than the model's maximum length and was cut."""


@contextmanager
def quiet_truncation() -> Iterator[None]:
    """Silence `TruncationWarning` inside the block (for callers that record truncation themselves)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TruncationWarning)
        yield
