"""Size and console rules for the library (benchmarks/ and tests/ exempt).

- No file in `explain/` over 400 lines, no function over 60 lines.
- No library module imports rich or typer, or prints, or exits: `explain/cli/` does all of that
  (and `explain/render/terminal.py` builds rich tables and text for it, printing nothing itself).
- One jinja2 Environment (`explain/render/templating.py`), every HTML template a `.html.j2` file.

`OVER_LIMIT` lists what is still over a limit, each with the size it may not grow past: a split is
pending there. The test fails when one of them grows, and when one is back under the limit (drop it
from the list then).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "explain"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
CONSOLE_MODULES = {  # may print, exit, use typer and rich: the command line
    f"explain/cli/{name}.py"
    for name in ("__init__", "__main__", "common", "corpus", "models", "review", "amortize", "first_use")
}
RICH_MODULES = CONSOLE_MODULES | {"explain/render/terminal.py"}  # may build rich renderables
OVER_LIMIT: dict[str, int] = {}  # path or path:function -> the most lines it may have until it is split


def sources() -> list[tuple[str, str]]:
    return [(p.relative_to(ROOT).as_posix(), p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))]


def sizes() -> dict[str, int]:
    """Lines of every file of explain/ and of every function in it (path:function, nested ones included)."""
    out = {}
    for path, text in sources():
        out[path] = len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{path}:{node.name}"
                out[name] = max(out.get(name, 0), node.end_lineno - node.lineno + 1)
    return out


def test_files_and_functions_stay_small():
    problems = []
    for name, lines in sizes().items():
        limit = MAX_FUNCTION_LINES if ":" in name else MAX_FILE_LINES
        allowed = OVER_LIMIT.get(name, limit)
        if lines > allowed:
            problems.append(
                f"{name}: {lines} lines (limit {limit}{'' if allowed == limit else f', {allowed} for now'})"
            )
    assert not problems, "split these:\n" + "\n".join(problems)


def test_the_over_limit_list_only_holds_what_is_over():
    found = sizes()
    stale = [
        name for name in OVER_LIMIT if found.get(name, 0) <= (MAX_FUNCTION_LINES if ":" in name else MAX_FILE_LINES)
    ]
    assert not stale, f"back under the limit (or gone): remove from OVER_LIMIT: {stale}"


def console_uses(text: str) -> list[str]:
    """Imports of rich/typer, calls of print / sys.exit / exit / quit, and `raise SystemExit`, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            found += [
                f"{node.lineno}: import {a.name}" for a in node.names if a.name.split(".")[0] in {"rich", "typer"}
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in {"rich", "typer"}:
            found.append(f"{node.lineno}: from {node.module} import")
        elif isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in {"print", "exit", "quit"}:
                found.append(f"{node.lineno}: {f.id}()")
            elif isinstance(f, ast.Attribute) and f.attr == "exit" and getattr(f.value, "id", "") == "sys":
                found.append(f"{node.lineno}: sys.exit()")
        elif isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if getattr(exc, "id", "") == "SystemExit":
                found.append(f"{node.lineno}: raise SystemExit")
    return sorted(found, key=lambda u: int(u.split(":")[0]))


def test_the_library_has_no_console():
    problems = []
    for path, text in sources():
        uses = console_uses(text)
        if path in CONSOLE_MODULES:
            continue
        if path in RICH_MODULES:
            uses = [u for u in uses if "rich" not in u]
        problems += [f"{path}:{u}" for u in uses]
    assert not problems, "the library returns data and raises; only explain/cli/ prints or exits:\n" + "\n".join(
        problems
    )


def test_the_console_check_finds_each_kind():
    text = "import rich\nfrom typer import Typer\nprint(1)\nimport sys\nsys.exit(2)\nraise SystemExit(130)\n"
    assert [u.split(": ")[1] for u in console_uses(text)] == [
        "import rich",
        "from typer import",
        "print()",
        "sys.exit()",
        "raise SystemExit",
    ]


def test_one_jinja_environment_and_templates_in_files():
    makers = [
        path
        for path, text in sources()
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "Environment"
    ]
    assert makers == ["explain/render/templating.py"]
    inline = [path for path, text in sources() if "from_string(" in text or "DictLoader" in text]
    assert not inline, f"templates belong in explain/render/templates/*.html.j2: {inline}"
