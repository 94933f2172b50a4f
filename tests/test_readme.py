"""Every shell command in the code blocks of the README and of the manual (docs/*.md) runs, and so do their Python
blocks that use the library.

Commands are extracted from the ```bash blocks (continuation lines joined, comments dropped, `a && b` split,
an optional `[--flag value]` part run both without and with it; a command shown on several pages runs once), then
made small by one explicit table below: a tiny model instead of the default one, a 3-row CSV for `reviews.csv`,
small method budgets and `--n`, a cache file in the test's folder. Each runs with the venv's `explain` (this
checkout first on the path) and must exit 0 and write the output file it promises (`--html`, `-o/--output`, `--out`).
A command this table does not know fails the test: add it to the table.
"""

from __future__ import annotations

import csv
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import typer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"


def documentation() -> str:
    """The README and every page of the manual, one after the other."""
    pages = [README, *sorted(DOCS.glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


# ------------------------------------------------------------------ the substitution table
PROGRAM = ".venv/bin/explain"
SKIP = {  # commands the test does not run, and why
    ("bash", "setup.sh"): "installs the environment; CI runs it before the tests",
    ("bash", ".ci/run"): "is CI itself (it runs this test)",
}
FILES = {"reviews.csv"}  # README input files the test writes (a 3-row CSV with columns text, review, stars)
OPTION_VALUES = {"--n": "2", "--epochs": "1", "--random": "1"}  # an option's value replaced by a smaller one
BUDGETS = {"shap": "max_evals=16", "lime": "num_samples=16", "ig": "n_steps=4"}  # replace README budgets
OUTPUT_OPTIONS = ("--html", "-o", "--output", "--out")  # the file (or folder) a command promises to write
TIMEOUT = 240  # seconds per command
PY_SUBSTITUTIONS = (  # the Python API block, on the tiny model with a small budget
    ("load_classifier()", "load_classifier(TINY_MODEL)"),
    ("max_evals=500", "max_evals=16"),
)
ROWS = [
    ("Battery died in a week.", 1),
    ("Great sound, terrible price", 3),
    ("I really loved that movie", 5),
]


# ------------------------------------------------------------------ extraction
def code_blocks(language: str, text: str | None = None) -> list[str]:
    text = documentation() if text is None else text
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def shell_commands(text: str | None = None) -> list[list[str]]:
    """Each command of the README's bash blocks as argv, optional `[...]` parts expanded into two commands."""
    commands = []
    for block in code_blocks("bash", text):
        for line in block.replace("\\\n", " ").splitlines():
            tokens = shlex.split(line, comments=True)
            while tokens:
                cut = tokens.index("&&") if "&&" in tokens else len(tokens)
                commands.extend(_expand_optional(tokens[:cut]))
                tokens = tokens[cut + 1 :]
    return commands


def _expand_optional(tokens: list[str]) -> list[list[str]]:
    start = next((i for i, t in enumerate(tokens) if t.startswith("[")), None)
    if start is None:
        return [tokens] if tokens else []
    end = next(i for i in range(start, len(tokens)) if tokens[i].endswith("]"))
    inner = [t.strip("[]") for t in tokens[start : end + 1]]
    before, after = tokens[:start], tokens[end + 1 :]
    return _expand_optional(before + after) + _expand_optional(before + inner + after)


def test_extraction_reads_continuations_comments_and_optional_parts():
    text = (
        "```bash\nbash setup.sh && .venv/bin/explain dashboard\n"
        ".venv/bin/explain evaluate --n 100 \\\n    --out r.json   # a comment\n"
        ".venv/bin/explain batch r.csv --methods a,b [--engine ray]\n```\n```python\nx = 1\n```\n"
    )
    assert shell_commands(text) == [
        ["bash", "setup.sh"],
        [".venv/bin/explain", "dashboard"],
        [".venv/bin/explain", "evaluate", "--n", "100", "--out", "r.json"],
        [".venv/bin/explain", "batch", "r.csv", "--methods", "a,b"],
        [".venv/bin/explain", "batch", "r.csv", "--methods", "a,b", "--engine", "ray"],
    ]
    assert code_blocks("python", text) == ["x = 1\n"]


# ------------------------------------------------------------------ substitution
def _options(subcommand: str) -> set[str]:
    from explain.cli import app

    group = typer.main.get_command(app)
    command = group.commands.get(subcommand)  # type: ignore[attr-defined]
    if command is None:
        raise AssertionError(f"the README runs `explain {subcommand}`, which the CLI does not have")
    return {name for param in command.params for name in getattr(param, "opts", [])}


def _value(argv: list[str], *names: str) -> str | None:
    for i, token in enumerate(argv[:-1]):
        if token in names:
            return argv[i + 1]
    return None


def _without_budgets(argv: list[str]) -> list[str]:
    out, i = [], 0
    budget_names = {b.split("=")[0] for b in BUDGETS.values()}
    while i < len(argv):
        is_param = argv[i] in ("-p", "--param") and i + 1 < len(argv)
        if is_param and argv[i + 1].split("=")[0].rpartition(".")[2] in budget_names:
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def small_command(argv: list[str], tiny_model: Path, base: Path, workdir: Path) -> list[str]:
    """The README's `explain ...` argv made small (see the table above); program not included."""
    sub, args = argv[1], _without_budgets(argv[2:])
    options = _options(sub)
    args = [OPTION_VALUES.get(args[i - 1], a) if i and args[i - 1] in OPTION_VALUES else a for i, a in enumerate(args)]
    if "--model" in options and not {"--model", "-m"} & set(args) and sub != "dashboard":
        args += ["--model", str(tiny_model)]
    if "--cache" in options and "--cache" not in args:
        args += ["--cache", str(workdir / "explanations.sqlite")]
    if "--base" in options and "--base" not in args:
        args += ["--base", str(base)]
    if "--epochs" in options and "--epochs" not in args:
        args += ["--epochs", "1"]
    if _value(args, "--engine") == "ray" and "--actors" not in args:
        args += ["--actors", "1"]  # one model replica, not one per core
    if "--param" in options:
        methods_value = _value(args, "--method", "--methods")
        chosen = methods_value.split(",") if methods_value else list(BUDGETS)
        if sub == "why" and methods_value is None:
            chosen = ["shap"]
        for method in chosen:
            if method.strip() in BUDGETS:
                args += ["-p", f"{method.strip()}.{BUDGETS[method.strip()]}"]
    return [sub, *args]


def _write_files(workdir: Path) -> None:
    with open(workdir / "reviews.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "review", "stars"])
        writer.writerows((text, text, stars) for text, stars in ROWS)


def _program() -> list[str]:
    script = Path(sys.executable).parent / "explain"
    return [str(script)] if script.exists() else [sys.executable, "-m", "explain.cli"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env |= {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_USAGE_STATS_ENABLED": "0"}
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serves_dashboard(args: list[str], workdir: Path) -> None:
    port = _free_port()
    argv = [*_program(), *args, "--port", str(port), "--address", "127.0.0.1"]
    proc = subprocess.Popen(
        argv, cwd=workdir, env=_env(), start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"`explain dashboard` exited early: {proc.stdout.read().decode()[-2000:]}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200 and r.read().strip() == b"ok":
                        return
            except OSError:
                time.sleep(1)
        raise AssertionError("`explain dashboard` did not answer on its port within 90 s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


COMMANDS = [list(c) for c in dict.fromkeys(tuple(c) for c in shell_commands())]  # each distinct command once


def _id(argv: list[str]) -> str:
    return " ".join(a for a in argv[1:4] if not a.startswith(".venv")) or argv[0]


@pytest.mark.parametrize(
    "argv",
    [pytest.param(c, marks=pytest.mark.default_model) if c[1:2] == ["build-default"] else c for c in COMMANDS],
    ids=[_id(c) for c in COMMANDS],
)
def test_readme_command(argv, tmp_path, tiny_bert_dir, tiny_bert):  # tiny_bert: its amortized head is fitted
    if tuple(argv) in SKIP:
        pytest.skip(f"`{' '.join(argv)}` {SKIP[tuple(argv)]}")
    assert argv[0] == PROGRAM, f"README command `{' '.join(argv)}` is not in tests/test_readme.py's table"
    if argv[1] == "build-default":
        from explain.default_model import default_model_dir

        if not (default_model_dir(build=False) / "config.json").exists():
            pytest.skip("the default model is not built yet (.ci/run builds it before the tests)")
    _write_files(tmp_path)
    from explain.default_model import base_model_dir

    args = small_command(argv, tiny_bert_dir, base_model_dir(), tmp_path)
    if args[0] == "dashboard":
        _serves_dashboard(args, tmp_path)
        return
    env = _env()
    if argv[1] == "build-default":  # as a user runs it: the user's own cache and heads (CI built both just before)
        from explain.word_head import HEADS_ENV

        env.pop(HEADS_ENV, None)
    done = subprocess.run(
        [*_program(), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"`explain {' '.join(args)}` exited {done.returncode}:\n{done.stderr[-3000:]}"
    for option in OUTPUT_OPTIONS:
        promised = _value(args, option)
        if promised is not None:
            path = tmp_path / promised
            assert path.exists(), f"`explain {' '.join(args)}` did not write {promised}"
            assert path.is_dir() or path.stat().st_size > 0, f"{promised} is empty"


def test_readme_python_api_block(tiny_bert_dir):
    blocks = [b for b in code_blocks("python") if "from explain" in b]
    assert blocks, "neither the README nor the manual has a Python block"
    for block in blocks:
        code = block
        for old, new in PY_SUBSTITUTIONS:
            code = code.replace(old, new)
        namespace = {"TINY_MODEL": str(tiny_bert_dir)}
        exec(compile(code, "README.md / docs (Python block)", "exec"), namespace)  # noqa: S102 - the README's own code
        if "exp" in namespace:
            from explain.explanation import Explanation

            assert isinstance(namespace["exp"], Explanation)
            assert len(namespace["exp"].word_scores) == len(namespace["exp"].words) > 0
