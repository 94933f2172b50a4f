"""Text that cannot drive a terminal: the one filter every printer and exporter uses.

A review (or a model's label names, or a file name) can carry terminal control sequences: OSC titles
and clipboard writes (OSC 52), CSI screen clears and cursor moves, BEL, 8-bit C1 introducers (0x9b),
and bidirectional overrides (U+202A-202E, U+2066-2069) that reorder what is shown. `printable` removes
them from text on its way to a terminal or into a text export (HTML, CSV); `json_dumps` keeps them, escaped.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["json_dumps", "printable"]

# Terminal control sequences: ESC and 8-bit C1 introducers with their parameters.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL/ST: title, clipboard, hyperlinks
    r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"  # DCS, SOS, PM, APC strings
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: colours, cursor, erase
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x9c]*(?:\x07|\x9c)?"  # 8-bit OSC/DCS/SOS/PM/APC strings
    r"|\x1b[ -/]*[0-~]?"  # any other ESC sequence
)
# Left-over C0/C1 controls (newline and tab kept) and bidirectional overrides that reorder what is shown.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# What json.dumps leaves raw (it escapes C0 itself): DEL, C1 controls and bidirectional overrides.
_RAW_IN_JSON = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` without terminal escape sequences, C0/C1 controls and bidi overrides (newline and tab kept).

    The one filter for user-supplied text (reviews, file names, label names, error messages) on its
    way to a terminal, an HTML page or a CSV file.
    """
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text))


def json_dumps(value: Any, **kwargs: Any) -> str:
    """JSON of `value` (`ensure_ascii=False`, `**kwargs` to json.dumps) that is valid and inert: a NaN or
    infinite number is written as null (never the invalid tokens `NaN`/`Infinity`), and every control
    character and bidi override is escaped (\\u001b, \\u009b, \\u202e), so the text is kept and the file
    cannot drive a terminal."""
    text = json.dumps(_finite(value), ensure_ascii=False, allow_nan=False, **kwargs)
    return _RAW_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _finite(value: Any) -> Any:
    """`value` with every non-finite float (NaN, +-inf) replaced by None, in nested dicts, lists and tuples."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
