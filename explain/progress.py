"""Progress reporting without a console: long runs call `progress(done, total, what)`; the caller draws."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None]  # (steps done, steps in all, what is being done)


class Ticker:
    """Counts steps of a run and reports each to an optional `Progress` callback (nothing when None)."""

    def __init__(self, total: int, progress: Progress | None = None):
        self.total, self.done, self.note = total, 0, ""
        self._progress = progress or None

    def set_postfix(self, **counts: object) -> None:
        """What the next report says beside the count, e.g. cached=3, failed=0."""
        self.note = ", ".join(f"{k} {v}" for k, v in counts.items())

    def update(self, steps: int = 1) -> None:
        self.done += steps
        if self._progress is not None:
            self._progress(self.done, self.total, self.note)

    def close(self) -> None:
        """Nothing to release; kept so a Ticker stands where a progress bar stood."""
