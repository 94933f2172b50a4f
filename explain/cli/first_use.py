"""The default model's amortized head, fitted on first use (`explain why --method amortized`, `build-default`),
with a progress bar per phase of the fit."""

from __future__ import annotations

from collections.abc import Sequence

from explain.cli.common import err, progress_bar


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
    with progress_bar(phases=True) as progress:
        result = fit_default_head(clf, progress=progress)
    if result is not None:
        err.print(f"  {result.info.description}")
