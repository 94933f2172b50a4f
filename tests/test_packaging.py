"""Packaging: one version source, a license file, optional parts behind extras, lint config and hooks in place."""

from __future__ import annotations

import tomllib
from pathlib import Path

import explain

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_one_version_source():
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "explain.__version__"}
    parts = explain.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_license_file_matches_pyproject():
    assert PYPROJECT["project"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "WITHOUT WARRANTY OF ANY KIND" in text


def test_optional_parts_are_extras_and_setup_installs_them():
    project = PYPROJECT["project"]
    core = " ".join(project["dependencies"])
    extras = project["optional-dependencies"]
    assert "streamlit" not in core and "ray" not in core
    assert any(d.startswith("streamlit") for d in extras["dashboard"])
    assert any(d.startswith("ray[data]") for d in extras["ray"])
    assert any(d.startswith("ruff") for d in extras["test"])
    setup = (ROOT / "setup.sh").read_text(encoding="utf-8")
    assert '-e ".[dashboard,ray,test]"' in setup  # the README's two commands need all three


def test_ci_lints_before_the_tests_and_precommit_runs_ruff():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    check, fmt, tests = (ci.index(s) for s in ("ruff check .", "ruff format --check .", "pytest"))
    assert check < tests and fmt < tests
    hooks = (ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    assert "id: ruff-check" in hooks and "id: ruff-format" in hooks
    pinned = next(d for d in PYPROJECT["project"]["optional-dependencies"]["test"] if d.startswith("ruff"))
    assert pinned.split("==")[1] in hooks  # the hook runs the same ruff as CI


def test_templates_ship_with_the_package():
    data = PYPROJECT["tool"]["setuptools"]["package-data"]["explain.render"]
    assert data == ["templates/*.html.j2"]
    assert list((ROOT / "explain" / "render" / "templates").glob("*.html.j2"))
