"""The manual (docs/, mkdocs.yml) builds strictly, and the README stays a short front door whose links all resolve."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
README_MAX_BYTES = 12 * 1024  # issue 26: the README is a front door; the manual lives in docs/


def _mkdocs(*args: str, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", *args, "--config-file", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_manual_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    done = _mkdocs("build", "--strict", "--site-dir", str(tmp_path / "site"), config=ROOT / "mkdocs.yml")
    assert done.returncode == 0, done.stderr[-3000:]
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    built = {
        p.parent.name if p.parent != tmp_path / "site" else "index" for p in (tmp_path / "site").rglob("index.html")
    }
    missing = [p for p in pages if p not in built]
    assert not missing, f"pages not built: {missing}"


def test_a_broken_link_fails_the_strict_build(tmp_path):
    """The check is real: the same configuration over a copy of the manual with one broken link fails."""
    pytest.importorskip("mkdocs")
    docs = tmp_path / "docs"
    docs.mkdir()
    for page in (ROOT / "docs").glob("*.md"):
        (docs / page.name).write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    (docs / "images").mkdir()
    for image in (ROOT / "docs" / "images").glob("*.png"):
        (docs / "images" / image.name).write_bytes(image.read_bytes())
    (docs / "index.md").write_text((docs / "index.md").read_text() + "\n[gone](no-such-page.md)\n")
    config = tmp_path / "mkdocs.yml"
    config.write_text((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), encoding="utf-8")
    done = _mkdocs("build", "--strict", "--site-dir", str(tmp_path / "site"), config=config)
    assert done.returncode != 0
    assert "no-such-page.md" in done.stderr


def test_readme_is_a_short_front_door():
    size = README.stat().st_size
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move detail into a docs/ page (<= {README_MAX_BYTES})"


def test_readme_links_and_images_resolve():
    text = README.read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    assert targets, "the README links into the manual"
    missing = [t for t in targets if "://" not in t and not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"
    assert any(t.startswith("docs/") for t in targets)
