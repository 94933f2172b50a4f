"""Test doubles shared by several test files: a model where exactly one word matters, and a CLI runner."""

from __future__ import annotations

import io
import re
import sys

import numpy as np

from explain.classifier import Classifier
from explain.cli import main


class KeywordClassifier(Classifier):
    """P("5 stars") = 0.6 when the word 'terrible' is present, else every label 0.2: one word matters."""

    def predict_proba(self, texts):
        texts = list(texts)
        self.texts_evaluated += len(texts)
        out = np.full((len(texts), len(self.labels)), 0.2, dtype=np.float32)
        hit = np.array([re.search(r"\bterrible\b", t) is not None for t in texts], dtype=bool)
        out[hit] = [0.1, 0.1, 0.1, 0.1, 0.6]
        return out


def run_cli(monkeypatch, capsys, *args, stdin: str | None = None) -> tuple[int, str, str]:
    """Run `explain ARGS...` in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["explain", *map(str, args)])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    captured = capsys.readouterr()
    return code, captured.out, captured.err
