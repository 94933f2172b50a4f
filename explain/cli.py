"""The `explain` command. User mistakes print one line and exit with code 2, never a traceback."""

from __future__ import annotations

import json
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape

from explain.errors import DataError, EmptyTextError, OutputError, ResourceError, UserError
from explain.render.terminal import printable

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Why did this review get 2 stars? Predict, trace and explain review classifiers.",
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Local model folder or hub id; default: the embedded default model."),
]
FileOpt = Annotated[
    Path | None, typer.Option("--file", "-f", help="Read texts from a file: one per line, or a CSV with --text-col.")
]
TextColOpt = Annotated[str | None, typer.Option("--text-col", help="CSV column holding the review text.")]
RemoteOpt = Annotated[
    bool,
    typer.Option("--trust-remote-code", help="Allow a model's own Python code to run (only for models you trust)."),
]
UntrainedOpt = Annotated[
    bool,
    typer.Option(
        "--allow-untrained-head", help="Load a checkpoint without a trained classification head (random predictions)."
    ),
]
LabelValuesOpt = Annotated[
    str | None,
    typer.Option(
        "--label-values",
        help="The number each label stands for, in label order, e.g. 1,2,3,4,5 (default: read from the labels).",
    ),
]
TargetOpt = Annotated[
    str | None,
    typer.Option(
        help="What to explain: 'rating' (the default for rated models: what moved the expected rating), "
        "'predicted', or a label such as '2 stars'."
    ),
]
TextsArg = Annotated[
    list[str] | None, typer.Argument(help="Review texts; '-' or none reads standard input.", show_default=False)
]


def read_texts(texts: list[str] | None, file: Path | None, text_col: str | None) -> list[str]:
    """Texts from arguments, a file (lines or CSV column) or standard input; empty ones are errors."""
    from explain.limits import check_text

    if file is not None:
        found = file_texts(file, text_col)
    elif texts and texts != ["-"]:
        found = list(texts)
    elif not sys.stdin.isatty():
        found = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
    else:
        raise EmptyTextError("give a review text as an argument, with --file, or on standard input")
    if not found:
        raise EmptyTextError("no review text found in the input")
    for i, t in enumerate(found):
        check_text(t, i if len(found) > 1 else None)  # size limit; no words is an EmptyTextError
    return found


@contextmanager
def progress_bar(desc: str, unit: str) -> Iterator[Callable[[int, int, str], None]]:
    """A progress callback `(done, total, what)` drawing a bar on standard error."""
    from tqdm.auto import tqdm

    bar = None

    def update(done: int, total: int, what: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit=unit, desc=desc, dynamic_ncols=True)
        bar.set_postfix_str(what, refresh=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def file_texts(file: Path, text_col: str | None) -> list[str]:
    """The texts of a file: one per non-blank line, or a CSV column named by --text-col."""
    if text_col or file.suffix.lower() == ".csv":
        from explain.data import read_reviews_csv

        if not text_col:
            raise DataError(f"{file} is a CSV file; name its text column with --text-col")
        return [r.text for r in read_reviews_csv(file, text_col)]
    from explain.data import read_text_lines

    return read_text_lines(file)


def load_classifier(
    model: str | None,
    trust_remote_code: bool = False,
    label_values: str | None = None,
    allow_untrained_head: bool = False,
    long: str = "windows",
):
    from explain.models import load_classifier as load

    return load(
        model,
        trust_remote_code=trust_remote_code,
        label_values=label_values,
        allow_untrained_head=allow_untrained_head,
        long=long,
    )


def head_warning(clf) -> str | None:
    """The warning every output of a model with an untrained head carries (None for a trained one)."""
    if not clf.untrained_head:
        return None
    return f"{clf.name} has an untrained classification head: these numbers are random"


def print_head_warning(clf) -> None:
    """After a command's output: the untrained-head warning on standard error, when it applies."""
    warning = head_warning(clf)
    if warning:
        err.print(f"[bold yellow]warning:[/] {escape(printable(warning))}", highlight=False)


def writable_output(path: Path | None) -> Path | None:
    """`path` when a file can be written there; checked before any work so a bad -o/--html fails fast."""
    if path is None:
        return None
    folder = path.expanduser().parent
    if path.is_dir():
        raise OutputError(f"cannot write {path}: it is a folder; give a file name")
    if not folder.is_dir():
        raise OutputError(f"cannot write {path}: folder {folder} does not exist")
    import os

    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"cannot write {path}: permission denied")
    return path


_UNSAFE_IN_JSON = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # json.dumps escapes C0 itself


def json_text(value: object) -> str:
    """Compact JSON with every control character escaped, safe to print to a terminal."""
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def write_json_array(rows) -> None:
    """Write an iterable of JSON values as one JSON array, a row per line, as they come (bounded memory)."""
    sys.stdout.write("[")
    for i, row in enumerate(rows):
        sys.stdout.write(("\n  " if i == 0 else ",\n  ") + json_text(row))
    sys.stdout.write("\n]\n")
    sys.stdout.flush()


LongOpt = Annotated[
    str,
    typer.Option(
        "--long", help="A review longer than the model's maximum: windows (read it whole) or truncate (its first part)."
    ),
]


@app.command()
def predict(
    texts: TextsArg = None,
    model: ModelOpt = None,
    file: FileOpt = None,
    text_col: TextColOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of tables (a row per line, written as computed).")
    ] = False,
    trust_remote_code: RemoteOpt = False,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
    long: LongOpt = "windows",
) -> None:
    """Probability of each label for each text, and the expected rating; the top label is marked."""
    from explain.render.plain import answer_line
    from explain.render.terminal import prediction_table

    items = read_texts(texts, file, text_col)
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head, long)
    warning = head_warning(clf)
    values = None if clf.label_values is None else np.asarray(clf.label_values)

    def predicted(chunk_size: int = 256):
        for start in range(0, len(items), chunk_size):
            chunk = items[start : start + chunk_size]
            yield from zip(chunk, clf.predict_proba(chunk), strict=True)

    if as_json:
        write_json_array(
            {
                "text": t,
                "predicted": clf.labels[int(p.argmax())],
                "probabilities": dict(zip(clf.labels, map(float, p), strict=True)),
                "expected_rating": None if values is None else float(p.astype(np.float64) @ values),
            }
            | ({"warning": warning} if warning else {})
            for t, p in predicted()
        )
    else:
        for text, p in predicted():
            out.print(prediction_table(text, clf.labels, p))
            line = answer_line(clf.labels, p, clf.label_values, clf.rating_unit)
            out.print("  " + escape(printable(line)), highlight=False)
    print_head_warning(clf)


@app.command()
def trace(
    texts: TextsArg = None,
    model: ModelOpt = None,
    file: FileOpt = None,
    text_col: TextColOpt = None,
    trust_remote_code: RemoteOpt = False,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
    long: LongOpt = "windows",
) -> None:
    """Show the three stages (preprocessing, model inference, post-processing) for each text."""
    from explain.render.terminal import format_trace

    items = read_texts(texts, file, text_col)
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head, long)
    for i, text in enumerate(items):
        if i:
            print("\n" + "=" * 72 + "\n")
        print(format_trace(clf.trace(text)))
    print_head_warning(clf)


@app.command()
def why(
    texts: TextsArg = None,
    method: Annotated[str, typer.Option("--method", help="Comma-separated methods (see `explain methods`).")] = "shap",
    target: TargetOpt = None,
    contrast: Annotated[str | None, typer.Option(help="Explain target *rather than* this label.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", "-p", help="Method parameter NAME=VALUE or METHOD.NAME=VALUE, e.g. max_evals=300 (repeatable)."
        ),
    ] = None,
    model: ModelOpt = None,
    file: FileOpt = None,
    text_col: TextColOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanations as JSON.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Also write a self-contained HTML page.")] = None,
    top: Annotated[int, typer.Option(min=0, help="How many top words to list per method.")] = 5,
    trust_remote_code: RemoteOpt = False,
    label_values: LabelValuesOpt = None,
    allow_untrained_head: UntrainedOpt = False,
    long: LongOpt = "windows",
) -> None:
    """Why did the model give this review its stars? Coloured words per method, prediction on top."""
    from explain.methods import explain as run_method
    from explain.methods import method_names, parse_params
    from explain.metrics.consensus import consensus
    from explain.render.plain import answer_line, score_text
    from explain.render.terminal import colored_words, explanation_notes, prediction_table, sentence_lines

    items = read_texts(texts, file, text_col)
    names = method_names(method, option="--method")
    params = parse_params(param, names)
    writable_output(html)
    clf = load_classifier(model, trust_remote_code, label_values, allow_untrained_head, long)
    explanations = []
    for text in items:
        probs = clf.predict_proba([text])[0]
        if not as_json:
            out.print(prediction_table(text, clf.labels, probs))
            out.print("  " + answer_line(clf.labels, probs, clf.label_values, clf.rating_unit), highlight=False)
        question = clf.target(target, contrast, text)  # one question for every method
        ours = []
        for name in names:
            exp = run_method(clf, text, method=name, target=question, **params.get(name, {}))
            ours.append(exp)
            if as_json:
                continue
            d = exp.diagnostics
            out.print(
                f"\n[bold]{exp.method}[/] — {escape(printable(exp.question))}  "
                f"[dim]({d['seconds']:.2f} s, {d['model_evaluations']} model evaluations)[/]",
                highlight=False,
            )
            out.print(colored_words(exp))
            for note in explanation_notes(exp):
                out.print(f"  [yellow]note:[/] {note}", highlight=False)
            top_words = ", ".join(f"{w} {score_text(s, exp.unit)}" for w, s in exp.top_words(top))
            out.print("  top words: " + escape(printable(top_words)), highlight=False)
            for line in sentence_lines(exp):
                out.print(f"  {escape(printable(line))}", highlight=False)
        explanations += ours
        if not as_json:
            if len(ours) > 1:
                answer = consensus(ours).sentence.replace("*", "")
                out.print("\n[bold]Answer:[/] " + escape(printable(answer)), highlight=False)
            out.print()
    if as_json:
        write_json_array(e.to_dict() for e in explanations)
    print_head_warning(clf)
    if html is not None:
        from explain.render.html import explanations_page

        html.write_text(explanations_page(explanations), encoding="utf-8")  # checked writable before the work
        err.print(f"wrote {html}")


@app.command("methods")
def list_methods() -> None:
    """List the explanation methods, what they can do and their parameters."""
    from explain.methods import methods as registered

    for m in registered():
        flags = [
            flag
            for flag, on in (("additive", m.additive), ("all labels", m.per_label), ("gradients", m.needs_gradients))
            if on
        ]
        aliases = f" (also: {', '.join(m.aliases)})" if m.aliases else ""
        out.print(f"[bold]{m.name}[/]{aliases}" + (f"  [dim]{', '.join(flags)}[/]" if flags else ""))
        out.print(f"    {m.summary}", highlight=False)
        if m.parameters:
            out.print("    parameters: " + ", ".join(f"{k}={v!r}" for k, v in m.parameters.items()), highlight=False)
        if m.reference:
            out.print(f"    [dim]{m.reference}[/]", highlight=False)


@app.command()
def train(
    data: Annotated[Path, typer.Option("--data", help="CSV of reviews with a header row.")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column with the review text.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the fine-tuned model to.")],
    stars_col: Annotated[str | None, typer.Option("--stars-col", help="Column with 1-5 stars.")] = None,
    label_col: Annotated[
        str | None, typer.Option("--label-col", help="Column with any rating (1-10, 0-4, ...) or named labels.")
    ] = None,
    label_order: Annotated[str | None, typer.Option(help="Named labels, lowest first: bad,ok,good.")] = None,
    base: Annotated[str | None, typer.Option("--base", help="Base checkpoint folder; default: MiniLM-L6.")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="Most epochs; the best on the validation split is kept.")] = 10,
    learning_rate: Annotated[float, typer.Option("--lr")] = 1e-4,
    test_fraction: Annotated[float, typer.Option(min=0.0, max=0.9)] = 0.2,
    validation_fraction: Annotated[float, typer.Option(min=0.0, max=0.5)] = 0.15,
    max_minutes: Annotated[float | None, typer.Option(min=0.1, help="Stop training after this long.")] = None,
    max_length: Annotated[int | None, typer.Option(min=8, help="Tokens per review; default: from the data.")] = None,
    class_weights: Annotated[bool, typer.Option(help="Weigh the loss by inverse class frequency.")] = True,
    seed: int = 13,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace --out if it holds a model written by this tool.")
    ] = False,
) -> None:
    """Fine-tune a checkpoint on your own rated reviews and compare it with simple baselines."""
    from explain.default_model import base_model_dir
    from explain.training import TrainingConfig, csv_examples, report_lines, train_and_report

    if bool(stars_col) == bool(label_col):
        raise UserError("name the rating column with --stars-col (1-5 stars) or --label-col (any rating), not both")
    order = label_order.split(",") if label_order else None
    labels, train_set, test_set, about = csv_examples(data, text_col, stars_col, label_col, order, test_fraction, seed)
    config = TrainingConfig(
        max_epochs=epochs,
        learning_rate=learning_rate,
        seed=seed,
        validation_fraction=validation_fraction,
        max_minutes=max_minutes,
        max_length=max_length,
        class_weighting=class_weights,
    )
    metrics = train_and_report(
        base or base_model_dir(), train_set, test_set, labels, out_dir, config, overwrite=overwrite, about=about
    )
    out.print(f"Model written to {out_dir}", highlight=False)
    for line in report_lines(metrics):
        out.print(line, highlight=False)
    for warning in metrics["warnings"]:
        err.print(f"[bold yellow]warning:[/] {warning}", highlight=False)


@app.command("build-default")
def build_default(force: Annotated[bool, typer.Option(help="Rebuild even if it exists.")] = False) -> None:
    """Build the embedded default model now (otherwise it is built on first use)."""
    from explain.default_model import build_default_model, default_model_dir

    path = default_model_dir(build=not force)
    if force:
        build_default_model(path)
    h = json.loads((path / "metrics.json").read_text())["heldout_amazon"]
    out.print(f"Default model: {path}\n  held-out Amazon accuracy {h['accuracy']:.3f}, MAE {h['mae_stars']:.3f} stars")


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
def dashboard(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to serve on.")] = 8501,
    address: Annotated[
        str, typer.Option("--address", help="Interface to listen on (0.0.0.0: your network).")
    ] = "localhost",
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Also offer this model folder or hub id (repeatable); see REVIEW_EXPLAINER_MODELS."
        ),
    ] = None,
) -> None:
    """Open the Streamlit dashboard (default model; extra models only those the operator allows)."""
    import os
    import socket

    from explain.limits import MAX_UPLOAD_MB

    upload_mb = MAX_UPLOAD_MB.value()  # Streamlit's server refuses bigger uploads before reading them
    app_file = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    if not app_file.is_file():
        raise UserError(f"the dashboard ships with the source checkout ({app_file} is missing); run ./setup.sh there")
    _ready_to_serve()
    env = dict(os.environ)
    if model:
        env["REVIEW_EXPLAINER_MODELS"] = ",".join(filter(None, [env.get("REVIEW_EXPLAINER_MODELS", ""), *model]))
    # Nothing leaves this machine: no usage statistics, and on 0.0.0.0 no banner (Streamlit would ask an
    # outside service for this machine's public IP to print it).
    wildcard = address in {"0.0.0.0", "::"}
    out.print(
        f"review-explainer dashboard on http://{socket.gethostname() if wildcard else address}:{port} (Ctrl+C stops it)"
    )
    raise typer.Exit(
        run_until_signalled(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(app_file),
                "--server.port",
                str(port),
                "--server.address",
                address,
                "--server.headless",
                "true",
                "--logger.hideWelcomeMessage",
                str(wildcard).lower(),
                "--browser.gatherUsageStats",
                "false",
                "--client.toolbarMode",
                "viewer",
                "--server.maxUploadSize",
                str(upload_mb),
            ],
            env=env,
        )
    )


def _ready_to_serve() -> None:
    """Streamlit is installed, and on a fresh machine the default model is built here (with its progress bar)
    before the page is served."""
    import importlib.util

    from explain.default_model import default_model_dir

    if importlib.util.find_spec("streamlit") is None:
        raise UserError("the dashboard needs Streamlit: pip install 'review-explainer[dashboard]'")

    if (default_model_dir(build=False) / "config.json").exists():
        return
    out.print(
        "The default model is not built yet: building it once now, before serving (about 4-5 minutes on 2 cores)."
    )
    default_model_dir(build=True, progress=True)


def run_until_signalled(command: list[str], env: dict[str, str], grace: float = 10.0) -> int:
    """Run `command` as a child; SIGTERM, SIGINT or SIGHUP to us stop the child too (killed after `grace` s).

    On Linux the child also gets SIGTERM if this process dies without a chance to forward (kill -9).
    Returns the child's exit code, or 128 + the signal that stopped us.
    """
    import signal
    import subprocess
    import time

    def die_with_parent() -> None:  # runs in the child between fork and exec
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    child = subprocess.Popen(command, env=env, preexec_fn=die_with_parent)  # no threads run yet
    received: list[tuple[int, float]] = []

    def forward(signum, frame) -> None:
        received.append((signum, time.monotonic()))
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)

    stops = [signal.SIGTERM, signal.SIGINT] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {sig: signal.signal(sig, forward) for sig in stops}
    try:
        while child.poll() is None:
            if received and time.monotonic() - received[0][1] > grace:
                child.kill()
            time.sleep(0.1)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if child.poll() is None:
            child.kill()
            child.wait()
    return 128 + received[0][0] if received else child.returncode


CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache", help="SQLite explanation cache; default: explanations.sqlite in the user cache dir."),
]
MethodsOpt = Annotated[str, typer.Option("--methods", help="Comma-separated methods (see `explain methods`).")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Method parameter METHOD.NAME=VALUE (repeatable), e.g. occlusion.mode=mask."),
]


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
    reviews = (
        read_reviews_csv(file, text_col, stars_col)
        if stars_col
        else [Review(t) for t in read_texts(texts, file, text_col)]
    )
    options = ReportOptions(methods, output, fmt, cache, no_cache, tuple(param or ()), attention_views, top_k)
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
    engine: Annotated[str, typer.Option("--engine", help="local, or ray (Ray Data actors, one model each).")] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            "--address", help="Ray cluster address (e.g. auto, ray://head:10001); default: RAY_ADDRESS or a local Ray."
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option("--actors", min=1, help="Ray actors (model replicas); default: one per cluster CPU."),
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Reviews per Ray batch.")] = 4,
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
        f"{stats.computed} explanation(s) computed, {stats.cached} already cached, "
        f"{len(stats.failed)} failed, in {stats.seconds:.1f} s ({stats.rate:.2f}/s, engine {engine}); "
        f"cache: {where}"
    )
    for method, text, error in stats.failed[:5]:
        out.print(f"  failed: {method} on {text[:60]!r}: {error}", highlight=False)


def _show_library_log() -> None:
    """The library logs (never prints); the command shows its INFO and above on standard error."""
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    library = logging.getLogger("explain")
    if not library.handlers:
        library.addHandler(handler)
        library.setLevel(logging.INFO)


def batch_texts(file: Path, text_col: str | None) -> list[str]:
    """The reviews of a batch file; a review over the size limit or without words is reported and skipped."""
    from explain.limits import check_text

    texts = file_texts(file, text_col)
    kept = []
    for i, text in enumerate(texts):
        try:
            kept.append(check_text(text, i))
        except UserError as exc:
            err.print(f"[yellow]skipped:[/] {escape(printable(str(exc)))}", highlight=False)
    if not kept:
        raise EmptyTextError(f"{file}: no review to explain (all {len(texts)} were skipped)")
    return kept


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (truncation, skipped rows, an untrained head) as one line each on standard error."""
    err.print(f"[yellow]warning:[/] {escape(printable(' '.join(str(message).split())))}", highlight=False)


def fail(message: str, code: int = 2) -> None:
    """Print one line `error: MESSAGE` on standard error (control characters removed) and exit."""
    err.print(f"[bold red]error:[/] {escape(printable(' '.join(message.split())))}", highlight=False, soft_wrap=True)
    sys.exit(code)


def os_error_message(exc: OSError) -> str:
    """One line for an operating-system error: what failed, on which path."""
    import errno

    where = f": {exc.filename}" if exc.filename else ""
    if exc.errno == errno.ENOSPC:
        return str(ResourceError(f"no space left on the device{where}; free some space and run the command again"))
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return str(OutputError(f"permission denied{where}"))
    return f"{exc.strerror or exc}{where}"


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit code 2."""
    _show_library_log()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.showwarning = show_warning
        try:
            from explain.limits import check_environment

            check_environment()  # a bad REVIEW_EXPLAINER_* setting is reported before any work
            code = app(standalone_mode=False)  # click returns (not raises) a command's typer.Exit code here
            if isinstance(code, int) and code:
                sys.exit(code)
        except UserError as exc:
            fail(str(exc))
        except OSError as exc:  # --file pointing nowhere, a full disk, a folder we may not write
            fail(os_error_message(exc))
        except MemoryError:
            fail("out of memory; try shorter texts, fewer at a time, or smaller method budgets (--param)")
        except typer.Exit as exc:
            sys.exit(exc.exit_code)
        except typer.Abort:
            err.print("aborted")
            sys.exit(130)
        except Exception as exc:  # usage errors (unknown option, bad value) carry an exit code
            show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
            if not (callable(show) and isinstance(code, int)):  # not click's (or typer's copy of click's)
                raise
            if type(exc).__name__ == "NoArgsIsHelpError" or not hasattr(exc, "format_message"):
                show()  # `explain` alone: the help text
                sys.exit(code)
            ctx = getattr(exc, "ctx", None)
            usage = f" (usage: {ctx.command_path} [OPTIONS]; see --help)" if ctx is not None else ""
            fail(exc.format_message() + usage, code)


if __name__ == "__main__":
    main()
