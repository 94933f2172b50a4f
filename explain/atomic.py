"""Writing a file so that a failure changes nothing: the one way this package writes an output file.

`write_atomic` writes to a temporary file in the same folder, flushes it to the disk and renames it into
place (`os.replace`, atomic on one file system). A failure at any point (a full disk, a killed process,
an encoding error) leaves the previous file byte for byte and no partial file beside it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def _default_mode() -> int:
    """The permissions a new file gets under the process's umask (read from /proc, so no thread ever sees the
    umask changed; 0o644 where /proc does not say)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            umask = next(int(line.split()[1], 8) for line in fh if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        return 0o644
    return 0o666 & ~umask


def write_atomic(path: str | Path, data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write `data` (text in `encoding`, as it is: no newline translation; or bytes) to `path` atomically.

    The previous file at `path`, if any, keeps its content until the rename, and its permissions after
    it. An OSError (ENOSPC, EACCES) is raised as it comes, after the temporary file is removed.
    Returns `path`.
    """
    path = Path(path).expanduser()
    if isinstance(data, str):
        data = data.encode(encoding)
    try:
        mode = path.stat().st_mode & 0o7777
    except OSError:
        mode = _default_mode()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
