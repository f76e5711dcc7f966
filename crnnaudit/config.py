"""Where crnnaudit keeps its data and finds its sample clips, and the process set-up that the
entry points (the command line, the app) do once.

    CRNNAUDIT_HOME     data folder: demo model, uploads, explanation cache, audit log, reports
    CRNNAUDIT_SAMPLES  folder of sample clips the app offers (default: ./sample_videos)
"""

from __future__ import annotations

import logging
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


def runs_dir() -> Path:
    """Where the Dataset and Queue pages find dataset-audit runs (``crnnaudit batch --out``):
    ``CRNNAUDIT_RUNS_DIR``, else ``runs`` in the data folder. No page opens a run elsewhere."""
    configured = os.environ.get("CRNNAUDIT_RUNS_DIR")
    return Path(configured).expanduser() if configured else home() / "runs"


def samples_dir() -> Path:
    """The folder of sample clips: ``CRNNAUDIT_SAMPLES``, else ``sample_videos`` in the
    working folder (where ``make app`` and ``streamlit run app.py`` start). An installed
    package does not guess where a checkout lies."""
    return Path(os.environ.get("CRNNAUDIT_SAMPLES") or Path.cwd() / "sample_videos").expanduser()


def read_at_most(path: Path, limit: int, error: type, what: str) -> bytes:
    """The bytes of ``path``, never more than ``limit`` of them read: ``error`` (a crnnaudit
    error class) names the file and says ``what`` it is when it cannot be read or is larger."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except (OSError, ValueError) as e:  # ValueError: a name holding NUL
        raise error(f"{str(path)[:200]}: cannot read the {what} ({getattr(e, 'strerror', None) or e})") from e
    if len(data) > limit:
        raise error(f"{path}: refused: a {what} is at most {limit >> 10} kB")
    return data


def quiet_tensorflow() -> None:
    """Only errors from TensorFlow's C++ core and Python logger (retracing notices are
    expected: one trace per shape). Call before TensorFlow is imported."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
