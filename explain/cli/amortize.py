"""`explain amortize`: fit a model's amortized head on your own reviews (see docs/amortized.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from explain.cli.common import (
    CacheOpt,
    LabelValuesOpt,
    ModelOpt,
    RemoteOpt,
    TargetOpt,
    UntrainedOpt,
    app,
    err,
    load_classifier,
    out,
    progress_bar,
)
from explain.render.terminal import printable


@app.command()
def amortize(
    data: Annotated[Path, typer.Option("--data", help="CSV of reviews with a header row.")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the review text.")],
    model: ModelOpt = None,
    max_minutes: Annotated[
        float | None, typer.Option(min=0.1, help="Stop after this long (labels so far are cached; rerun resumes).")
    ] = None,
    teacher_name: Annotated[
        str, typer.Option("--teacher", help="The method the head learns: shap (default), occlusion or lime.")
    ] = "shap",
    param: Annotated[
        list[str] | None,
        typer.Option("--teacher-param", help="Teacher parameter NAME=VALUE, e.g. max_evals=64 (repeatable)."),
    ] = None,
    target: TargetOpt = None,
    max_reviews: Annotated[int, typer.Option(min=2, help="Fit on at most this many reviews (a seeded sample).")] = 2000,
    cache: CacheOpt = None,
    head_file: Annotated[
        Path | None,
        typer.Option("--out", help="Head file to write; default: the cache folder, by the model's fingerprint."),
    ] = None,
    trust_remote_code: RemoteOpt = False,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
) -> None:
    """Fit an amortized head: a fast learned approximation of SHAP (or another teacher) for this model."""
    from explain.amortize import choose_teacher, fit_head
    from explain.data import read_reviews_csv
    from explain.methods import parse_params
    from explain.store import ExplanationStore

    reviews = [r.text for r in read_reviews_csv(data, text_col)]
    chosen_params = parse_params(param, [teacher_name]) if param else {}
    chosen = choose_teacher(teacher_name, next(iter(chosen_params.values()), None) if chosen_params else None)
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head)
    with ExplanationStore(cache) as store, progress_bar(phases=True) as progress:
        result = fit_head(
            clf,
            reviews,
            chosen=chosen,
            store=store,
            question=target,
            max_minutes=max_minutes,
            max_reviews=max_reviews,
            path=head_file,
            progress=progress,
        )
    info = result.info
    out.print(f"Amortized head for {escape(printable(clf.name))} written to {result.path}", highlight=False)
    out.print(f"  {escape(info.description)}", highlight=False)
    out.print(
        f"  fitted on {info.fitted_on} reviews in {info.seconds:.0f} s; teacher labels: {result.labels_computed} "
        f"computed, {result.labels_cached} from the cache",
        highlight=False,
    )
    if result.left_out_long:
        out.print(f"  {result.left_out_long} reviews longer than the model reads at once were left out of fitting")
    if result.stopped_by_time:
        err.print("[yellow]note:[/] stopped by --max-minutes; run the same command again to label more (resumes)")
