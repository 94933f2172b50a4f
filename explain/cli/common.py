"""What every `explain` command shares: the app, consoles, options, reading texts, loading a model,
checking outputs and reporting faults in one line."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from explain.errors import DataError, EmptyTextError, OutputError, ResourceError, UserError
from explain.inert import json_dumps, printable

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
        found = [line.strip() for line in stdin_text().splitlines() if line.strip()]
    else:
        raise EmptyTextError("give a review text as an argument, with --file, or on standard input")
    if not found:
        raise EmptyTextError("no review text found in the input")
    for i, t in enumerate(found):
        check_text(t, i if len(found) > 1 else None)  # size limit; no words is an EmptyTextError
    return found


def stdin_text() -> str:
    """Standard input as UTF-8 text; bytes that are not UTF-8 are a DataError naming the line (never text with
    lone surrogates that fails later inside the tokenizer or the report writer)."""
    raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read()
    if isinstance(raw, str):  # a text stream without bytes underneath (tests): check it encodes
        raw = raw.encode("utf-8", "surrogateescape")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"standard input line {line} is not UTF-8 text ({exc.reason} at byte {exc.start}); send UTF-8"
        ) from None


ProgressCallback = Callable[[int, int, str], None]


@contextmanager
def progress_bar(desc: str = "", unit: str = "step", *, phases: bool = False) -> Iterator[ProgressCallback]:
    """A progress callback `(done, total, what)` drawing a bar (with time left) on standard error. With
    `phases`, one bar per phase of the work, named by the text of `what` before " (": a new bar starts when the
    phase or its total changes."""
    from tqdm.auto import tqdm

    bar, phase = None, None

    def update(done: int, total: int, what: str) -> None:
        nonlocal bar, phase
        name = what.split(" (")[0] if phases else desc
        if bar is None or (phases and (name, total) != phase):
            if bar is not None:
                bar.close()
            bar, phase = tqdm(total=total, unit=unit, desc=name, dynamic_ncols=True), (name, total)
        bar.set_postfix_str(what[len(name) :].strip(" ()") if phases else what, refresh=False)
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()


def file_texts(file: Path, text_col: str | None) -> list[str]:
    """The texts of a file: one per non-blank line, or a CSV column named by --text-col."""
    from explain.data import check_input_file

    check_input_file(file)  # no such file, or a folder, said before anything else
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


def json_text(value: object) -> str:
    """Compact JSON with every control character escaped, safe to print to a terminal; NaN is written as null."""
    return json_dumps(value)


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


CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache", help="SQLite explanation cache; default: explanations.sqlite in the user cache dir."),
]
MethodsOpt = Annotated[str, typer.Option("--methods", help="Comma-separated methods (see `explain methods`).")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="Method parameter METHOD.NAME=VALUE (repeatable), e.g. occlusion.mode=mask."),
]


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
