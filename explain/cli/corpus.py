"""`explain evaluate`, `report`, `batch` and `drivers`: many reviews, cached and resumable."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from explain.cli.common import (
    CacheOpt,
    FileOpt,
    LabelValuesOpt,
    MethodsOpt,
    ModelOpt,
    ParamOpt,
    RemoteOpt,
    TargetOpt,
    TextColOpt,
    TextsArg,
    UntrainedOpt,
    app,
    batch_texts,
    err,
    json_text,
    load_classifier,
    out,
    progress_bar,
    read_texts,
    writable_output,
)
from explain.errors import UserError

# The per-review part of `batch` and `drivers` runs locally or on a Ray cluster, with the same options.
EngineOpt = Annotated[str, typer.Option("--engine", help="local, or ray (Ray Data actors, one model each).")]
AddressOpt = Annotated[
    str | None,
    typer.Option(
        "--address", help="Ray cluster address (e.g. auto, ray://head:10001); default: RAY_ADDRESS or a local Ray."
    ),
]
ActorsOpt = Annotated[
    int | None, typer.Option("--actors", min=1, help="Ray actors (model replicas); default: one per cluster CPU.")
]
BatchSizeOpt = Annotated[int, typer.Option("--batch-size", min=1, help="Reviews per Ray batch.")]


@app.command()
def evaluate(
    data: Annotated[
        str, typer.Option("--data", help="CSV file of reviews (with --text-col), or 'default-heldout'.")
    ] = "default-heldout",
    methods: Annotated[
        str | None, typer.Option("--methods", help="Comma-separated methods; default: every registered one.")
    ] = None,
    n: Annotated[int | None, typer.Option("--n", min=1, help="Evaluate the first N texts.")] = 200,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Summary JSON; per-text results go to <stem>.items.jsonl beside it, and a re-run skips them."
        ),
    ] = Path("evaluation.json"),
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML leaderboard.")] = None,
    text_col: TextColOpt = None,
    model: ModelOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Method parameter METHOD.NAME=VALUE (repeatable), e.g. shap.max_evals=200."),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="Remove words by deleting them or replacing them with the mask token: delete|mask.")
    ] = "delete",
    random_rankings: Annotated[
        int, typer.Option("--random", min=1, help="Random rankings averaged for the chance baseline.")
    ] = 3,
    metrics: Annotated[
        str | None,
        typer.Option(
            "--metrics",
            help="Comma-separated subset of comprehensiveness,sufficiency,deletion_auc,insertion_auc,tau_loo,"
            "plausibility.",
        ),
    ] = None,
    trust_remote_code: RemoteOpt = False,
    target: TargetOpt = None,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
) -> None:
    """Score explanation methods for faithfulness, plausibility and agreement; print a leaderboard (resumable)."""
    from explain.evaluation import EvaluateOptions
    from explain.evaluation import evaluate as run_evaluation

    writable_output(out_path)
    writable_output(html)
    params = tuple(param or ())
    options = EvaluateOptions(
        data, methods, n, out_path, html, text_col, params, mode, random_rankings, metrics, target=target
    )
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head)
    with progress_bar("evaluate", "expl") as progress:
        _print_evaluation(run_evaluation(clf, options, progress=progress))


def _print_evaluation(result) -> None:
    from explain.render.terminal import leaderboard_tables

    for note in result.notes:
        out.print(f"note: {note}", highlight=False)
    for renderable in leaderboard_tables(result.summary, width=out.width):
        out.print(renderable)
    if result.written:
        records = f" (per-text results: {result.records_path})" if result.records_path else ""
        out.print(f"written: {', '.join(map(str, result.written))}{records}", highlight=False)


@app.command()
def report(
    texts: TextsArg = None,
    file: FileOpt = None,
    text_col: TextColOpt = None,
    stars_col: Annotated[
        str | None,
        typer.Option(
            "--stars-col",
            help="CSV column with the given stars: adds a confusion matrix and the most confidently wrong reviews.",
        ),
    ] = None,
    methods: MethodsOpt = "occlusion",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Report file; default report.<format>.")] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="html, json or csv (one row per review, method and word); default from -o."),
    ] = None,
    cache: CacheOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Keep nothing: explain everything in memory.")] = False,
    param: ParamOpt = None,
    attention_views: Annotated[
        int, typer.Option("--attention-views", min=0, help="BertViz head views for the first N reviews.")
    ] = 1,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Words listed per label in the corpus section.")] = 10,
    model: ModelOpt = None,
    trust_remote_code: RemoteOpt = False,
    allow_untrained_head: UntrainedOpt = False,
) -> None:
    """Write a self-contained report (HTML, JSON or CSV) on one review or a corpus; cached results are reused."""
    from explain.data import Review, read_reviews_csv
    from explain.report import ReportOptions, write_report

    if stars_col and not (file and text_col):
        raise UserError("--stars-col needs --file reviews.csv and --text-col")
    writable_output(output)
    options = ReportOptions(methods, output, fmt, cache, no_cache, tuple(param or ()), attention_views, top_k)
    options.resolved_format()  # an unknown -o suffix or --format, before any work
    reviews = (
        read_reviews_csv(file, text_col, stars_col)
        if stars_col
        else [Review(t) for t in read_texts(texts, file, text_col)]
    )
    with progress_bar("explain [local]", "expl") as progress:
        built, path, fmt = write_report(
            load_classifier(model, trust_remote_code, allow_untrained_head=allow_untrained_head),
            reviews,
            options,
            progress,
        )
    run = built.run
    out.print(
        f"{fmt.upper()} report on {len(reviews)} review(s) written to {path} "
        f"({run.computed} explanation(s) computed, {run.cached} cached"
        + (f", {len(run.failed)} failed" if run.failed else "")
        + ")"
    )


@app.command()
def batch(
    file: Annotated[Path, typer.Argument(help="Reviews: a CSV (with --text-col) or a text file, one review per line.")],
    text_col: TextColOpt = None,
    methods: MethodsOpt = "occlusion",
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    actors: ActorsOpt = None,
    batch_size: BatchSizeOpt = 4,
    cache: CacheOpt = None,
    param: ParamOpt = None,
    model: ModelOpt = None,
    trust_remote_code: RemoteOpt = False,
    allow_untrained_head: UntrainedOpt = False,
) -> None:
    """Explain a corpus into the cache (resumable; skips what is cached), locally or on a Ray cluster."""
    from explain.corpus import BatchInterrupted, BatchOptions, run_batch

    options = BatchOptions(methods, engine, address, cache, tuple(param or ()), actors, batch_size)
    items = batch_texts(file, text_col)
    clf = load_classifier(model, trust_remote_code, allow_untrained_head=allow_untrained_head)
    try:
        with progress_bar(f"explain [{engine}]", "expl") as progress:
            stats, where = run_batch(clf, items, options, progress=progress)
    except BatchInterrupted as exc:
        err.print(str(exc), highlight=False)
        raise typer.Exit(130) from None
    out.print(
        f"{stats.computed} explanation(s) computed"
        + (f" ({stats.raced} stored first by another run sharing the cache)" if stats.raced else "")
        + f", {stats.cached} already cached, "
        f"{len(stats.failed)} failed, in {stats.seconds:.1f} s ({stats.rate:.2f}/s, engine {engine}); "
        f"cache: {where}"
    )
    for method, text, error in stats.failed[:5]:
        out.print(f"  failed: {method} on {text[:60]!r}: {error}", highlight=False)


@app.command()
def drivers(
    file: Annotated[Path, typer.Argument(help="Reviews: a CSV (with --text-col) or a text file, one review per line.")],
    text_col: TextColOpt = None,
    stars_col: Annotated[
        str | None,
        typer.Option(
            "--stars-col",
            help="CSV column with the given stars: adds drivers per given star level, "
            "given vs predicted stars and the most surprising reviews.",
        ),
    ] = None,
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            help="Method for the per-review explanations; default: amortized when its head exists, else occlusion.",
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="text, json, csv or html; default from -o's suffix, else text.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (atomically) instead of printing.")
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Drivers listed per direction.")] = 20,
    engine: EngineOpt = "local",
    address: AddressOpt = None,
    actors: ActorsOpt = None,
    batch_size: BatchSizeOpt = 4,
    cache: CacheOpt = None,
    param: ParamOpt = None,
    model: ModelOpt = None,
    trust_remote_code: RemoteOpt = False,
    allow_untrained_head: UntrainedOpt = False,
) -> None:
    """What lowers and raises the rating across a corpus: phrases with effects in stars, intervals and examples."""
    from explain.corpus.drivers import check_method
    from explain.drivers_report import DriversOptions, resolve_format, run_drivers

    fmt = resolve_format(fmt, output)
    writable_output(output)
    if method is not None:
        check_method(method)  # a class-agnostic method fails before any work
    reviews = _drivers_reviews(file, text_col, stars_col)
    options = DriversOptions(method, tuple(param or ()), engine, address, actors, batch_size, cache, top_k)
    clf = load_classifier(model, trust_remote_code, allow_untrained_head=allow_untrained_head)
    with progress_bar(f"explain [{engine}]", "review") as progress:
        run = run_drivers(clf, reviews, options, progress=progress)
    _show_drivers(run, fmt, output)


def _drivers_reviews(file: Path, text_col: str | None, stars_col: str | None) -> list:
    """The reviews of `explain drivers`: a CSV's text (and stars) column, or a text file's lines."""
    from explain.data import Review, read_reviews_csv

    if stars_col and not text_col:
        raise UserError("--stars-col needs a CSV file and --text-col")
    if stars_col:
        return read_reviews_csv(file, text_col, stars_col)
    return [Review(t) for t in batch_texts(file, text_col)]


def _show_drivers(run, fmt: str, output: Path | None) -> None:
    """Print the drivers (or write them atomically to `output`), then one line on what was computed."""
    from explain.drivers_report import render_drivers, write_atomic
    from explain.render.terminal import printable

    text = render_drivers(run.drivers, fmt)
    if output is not None:
        write_atomic(output, text)
    elif fmt == "text":
        out.print(printable(text.rstrip("\n")), markup=False, highlight=False)
    elif fmt == "json":  # control characters in reviews escaped, so the terminal stays safe
        sys.stdout.write(json_text(run.drivers.to_dict()) + "\n")
    else:
        sys.stdout.write(printable(text))
    d = run.drivers
    failed = f", {len(run.failures)} failed" if run.failures else ""
    written = f"; written to {output}" if output is not None else ""
    err.print(
        f"drivers of {d.n_reviews} review(s) by {d.method}: {run.computed} explanation(s) computed, "
        f"{run.cached} cached{failed}{written}",
        highlight=False,
        markup=False,
    )
