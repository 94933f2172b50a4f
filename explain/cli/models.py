"""`explain train`, `build-default` and `dashboard`: models and the app that serves them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from explain.cli.common import (
    app,
    err,
    out,
)
from explain.errors import UserError


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
    base: Annotated[
        str | None, typer.Option("--base", help="Base checkpoint folder (a new head); default: see --start.")
    ] = None,
    start: Annotated[
        str, typer.Option(help="auto: the default star model for ordered labels (head re-mapped); default; minilm.")
    ] = "auto",
    freeze_layers: Annotated[int, typer.Option(min=0, help="Keep the lowest N transformer layers fixed.")] = 0,
    epochs: Annotated[
        int | None, typer.Option(min=1, help="Most epochs (default: 4 from the star model, else 10).")
    ] = None,
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
    from explain.training import TrainingConfig, choose_start, csv_examples, report_lines, train_and_report

    if bool(stars_col) == bool(label_col):
        raise UserError("name the rating column with --stars-col (1-5 stars) or --label-col (any rating), not both")
    _check_before_training(base, out_dir, overwrite, learning_rate, validation_fraction, max_minutes)
    order = label_order.split(",") if label_order else None
    labels, train_set, test_set, about = csv_examples(data, text_col, stars_col, label_col, order, test_fraction, seed)
    begin = choose_start(labels, base, start)
    config = TrainingConfig(
        max_epochs=epochs or begin.max_epochs,
        freeze_layers=freeze_layers,
        learning_rate=learning_rate,
        seed=seed,
        validation_fraction=validation_fraction,
        max_minutes=max_minutes,
        max_length=max_length,
        class_weighting=class_weights,
    )
    metrics = train_and_report(begin, train_set, test_set, labels, out_dir, config, overwrite=overwrite, about=about)
    out.print(f"Model written to {out_dir}", highlight=False)
    for line in report_lines(metrics):
        out.print(line, highlight=False)
    for warning in metrics["warnings"]:
        err.print(f"[bold yellow]warning:[/] {warning}", highlight=False)


def _check_before_training(base, out_dir, overwrite, learning_rate, validation_fraction, max_minutes) -> None:
    """`explain train`'s options refused in one line before the data is read or a start model built: the numbers
    (finite, in range), --base (a model folder we can load: not empty, not truncated, no remote code, no pickle
    torch refuses) and --out (writable, not a mount point, nothing of the user's replaced)."""
    from explain.loading import check_checkpoint_files
    from explain.training import TrainingConfig
    from explain.training.output import check_output_folder

    TrainingConfig(learning_rate=learning_rate, validation_fraction=validation_fraction, max_minutes=max_minutes)
    if base is not None:
        check_checkpoint_files(base)
    check_output_folder(out_dir, overwrite)


@app.command("build-default")
def build_default(force: Annotated[bool, typer.Option(help="Rebuild even if it exists.")] = False) -> None:
    """Build the embedded default model now (otherwise it is built on first use)."""
    from explain.default_model import build_default_model, default_model_dir

    path = default_model_dir(build=not force)
    if force:
        build_default_model(path)
    h = json.loads((path / "metrics.json").read_text())["heldout_amazon"]
    out.print(f"Default model: {path}\n  held-out Amazon accuracy {h['accuracy']:.3f}, MAE {h['mae_stars']:.3f} stars")
    _fit_default_head()


def _fit_default_head() -> None:
    """The default model's amortized head (a few minutes, once; `explain why --method amortized` needs it)."""
    from explain.amortize import head_info
    from explain.cli.first_use import ensure_default_head
    from explain.models import load_classifier

    clf = load_classifier()
    ensure_default_head(clf)
    out.print(f"  amortized head: {head_info(clf).description}")


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
    app_file = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
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
                str(app_file.with_name("serve.py")),  # Streamlit's CLI, the default model loading meanwhile
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

    from explain.default_model import default_model_built, default_model_dir

    if importlib.util.find_spec("streamlit") is None:
        raise UserError("the dashboard needs Streamlit: pip install 'review-explainer[dashboard]'")

    if default_model_built():
        return
    out.print("The default model is not built yet: building it once now, before serving (about 5 minutes on 2 cores).")
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
