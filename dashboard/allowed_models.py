"""The models the dashboard may load: the embedded default plus what the operator lists.

A dashboard shared with colleagues must not load arbitrary paths typed into a text box, so the
model picker offers only these. The operator lists extra models in

- `REVIEW_EXPLAINER_MODELS`: entries separated by commas or newlines, and/or
- `REVIEW_EXPLAINER_MODELS_FILE`: a text file with one entry per line (lines starting with `#` are comments).

Each entry is a local model folder or a hub id, optionally named: `Product reviews=/models/prod-v2`.
`REVIEW_EXPLAINER_DEFAULT_MODEL` (read by `explain.default_model`) swaps the default's folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from explain.errors import UserError

MODELS_ENV = "REVIEW_EXPLAINER_MODELS"
MODELS_FILE_ENV = "REVIEW_EXPLAINER_MODELS_FILE"
DEFAULT_KEY = "default"
DEFAULT_CHOICE_LABEL = "default (MiniLM-L6, 1-5 stars)"


@dataclass(frozen=True)
class ModelChoice:
    """One model the picker offers: `source` is a folder or hub id, None for the embedded default."""

    key: str
    label: str
    source: str | None


def _entries(raw: str) -> list[str]:
    lines = [line for line in raw.splitlines() if not line.lstrip().startswith("#")]
    return [part.strip() for line in lines for part in line.split(",") if part.strip()]


def _choice(entry: str) -> ModelChoice:
    label, sep, source = entry.partition("=")
    if not sep:
        label, source = entry, entry
    label, source = label.strip(), source.strip()
    if not source:
        raise UserError(f"{MODELS_ENV}: entry {entry!r} names no folder or hub id")
    if source.startswith("~"):
        source = str(Path(source).expanduser())
    return ModelChoice(key=source, label=label or source, source=source)


def allowed_models(environ: Mapping[str, str] | None = None) -> list[ModelChoice]:
    """The default model first, then the operator's entries (duplicates dropped, order kept)."""
    environ = os.environ if environ is None else environ
    raw = environ.get(MODELS_ENV, "")
    file = environ.get(MODELS_FILE_ENV)
    if file:
        path = Path(file).expanduser()
        if not path.is_file():
            raise UserError(f"{MODELS_FILE_ENV} points to {str(path)!r}, which is not a file")
        raw += "\n" + path.read_text(encoding="utf-8")
    choices = [ModelChoice(DEFAULT_KEY, DEFAULT_CHOICE_LABEL, None)]
    for entry in _entries(raw):
        choice = _choice(entry)
        if choice.key not in {c.key for c in choices}:
            choices.append(choice)
    return choices


def resolve(key: str, environ: Mapping[str, str] | None = None) -> ModelChoice:
    """The allowed model with this key; anything else is refused."""
    for choice in allowed_models(environ):
        if choice.key == key:
            return choice
    raise UserError(f"model {key!r} is not on this dashboard's list; the operator adds models with {MODELS_ENV}")
