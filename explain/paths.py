"""Where review-explainer keeps what it builds or downloads (models, data, caches)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "REVIEW_EXPLAINER_CACHE"


def cache_dir() -> Path:
    """The root cache folder: `$REVIEW_EXPLAINER_CACHE`, else the user cache dir."""
    root = os.environ.get(CACHE_ENV) or platformdirs.user_cache_dir("review-explainer")
    path = Path(root).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
