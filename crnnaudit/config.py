"""Where crnnaudit keeps its data: ``CRNNAUDIT_HOME`` or the user's cache folder."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The data folder (demo model, clips, explanation cache, audit log); created on use."""
    base = os.environ.get("CRNNAUDIT_HOME")
    if base:
        path = Path(base).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
        path = Path(cache) / "crnnaudit"
    path.mkdir(parents=True, exist_ok=True)
    return path
