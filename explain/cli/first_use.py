"""The default model's amortized head, fitted on first use (`explain why --method amortized`, `build-default`),
and the progress bars of a fit: one per phase, with the time left."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from explain.cli.common import err


@contextmanager
def phase_bars() -> Iterator[Callable[[int, int, str], None]]:
    """A progress callback `(done, total, what)` drawing one bar (with time left) per phase of the work:
    a new bar starts when the phase (the text of `what` before " (") or its total changes."""
    from tqdm.auto import tqdm

    bar, phase = None, None

    def update(done: int, total: int, what: str) -> None:
        nonlocal bar, phase
        name = what.split(" (")[0]
        if bar is None or (name, total) != phase:
            if bar is not None:
                bar.close()
            bar, phase = tqdm(total=total, desc=name, unit="step", dynamic_ncols=True), (name, total)
        bar.set_postfix_str(what[len(name) :].strip(" ()"), refresh=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def ensure_default_head(clf, methods: Sequence[str] = ("amortized",)) -> None:
    """When `methods` include `amortized` and the model is the default one without a head: fit it now (once),
    with a progress bar."""
    from explain.amortize import (
        DEFAULT_HEAD_REVIEWS,
        DEFAULT_HEAD_SENTENCES,
        fit_default_head,
        has_head,
        is_default_model,
    )

    if "amortized" not in methods or not is_default_model(clf) or has_head(clf):
        return
    err.print(
        f"The default model has no amortized head yet: fitting it once now on {DEFAULT_HEAD_SENTENCES} training "
        f"sentences and {DEFAULT_HEAD_REVIEWS} reviews (a few minutes on 2 cores; `explain build-default` does it "
        "ahead of time)."
    )
    with phase_bars() as progress:
        result = fit_default_head(clf, progress=progress)
    if result is not None:
        err.print(f"  {result.info.description}")
