"""Errors a user can cause. The CLI prints their message on one line and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in what the user asked for; the message says what to do instead."""


class EmptyTextError(UserError, ValueError):
    """A text to classify or explain is empty or only whitespace."""


class ModelNotFoundError(UserError, FileNotFoundError):
    """A model folder does not exist or is not a sequence-classification checkpoint."""


class HubUnreachableError(UserError, ConnectionError):
    """A hub id was given but no model hub can be reached from here."""


class UnsafeModelError(UserError):
    """A model needs remote code, which is off unless the user asks for it explicitly."""


class DataError(UserError, ValueError):
    """A data file is missing, unreadable or lacks the named columns."""


class DataUnavailableError(UserError, ConnectionError):
    """Training data could not be downloaded from the package registry."""


class UnknownLabelError(UserError, KeyError):
    """A target label that the model does not have."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class UnknownMethodError(UserError, KeyError):
    """An explanation method that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class OutputError(UserError, OSError):
    """An output folder or file cannot be written, or writing it would destroy the user's files."""
