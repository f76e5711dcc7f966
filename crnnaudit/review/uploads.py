"""Uploads: a file a user hands in, stored under a name of our making, checked against the size
limit as it streams to disk, and refusals said in the user's terms (their file's name, no server
path). No Streamlit here: the app, the command line and the tests store uploads the same way."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from ..config import home
from ..errors import VideoError
from ..limits import max_upload_mb

_CHUNK = 1 << 20


def safe_stem(name: str, limit: int = 60) -> str:
    """The part of an uploaded file's name kept in the stored name: letters (any script),
    digits, '-', '_' and '.', at most ``limit`` characters; never a path, never NUL."""
    stem = Path(str(name).replace("\x00", "").replace("\\", "/")).stem
    kept = re.sub(r"[^\w.-]+", "_", stem, flags=re.UNICODE).strip("._")
    return kept[:limit] or "upload"


def save_upload(uploaded, kind: str, allowed: tuple[str, ...]) -> Path:
    """Store an upload under the data folder as ``<name>-<content hash><suffix>``, copied in
    chunks (the hash and the size limit are checked as it goes; nothing is held twice).

    Raises:
        CrnnauditError: wrong type or too large; the message names the file.
    """
    name = str(uploaded.name)
    shown = name[:120] + ("…" if len(name) > 120 else "")
    suffix = Path(name.replace("\x00", "")).suffix.lower()
    if suffix not in allowed:
        raise VideoError(f"{shown}: a {kind} must be one of {', '.join(allowed)}, not '{suffix or 'no suffix'}'")
    limit = max_upload_mb() << 20
    folder = home() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    h, size = hashlib.sha256(), 0
    uploaded.seek(0)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".partial", delete=False) as tmp:
        try:
            while chunk := uploaded.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise VideoError(f"{shown}: over the {max_upload_mb()} MB upload limit "
                                     "(CRNNAUDIT_MAX_UPLOAD_MB)")
                h.update(chunk)
                tmp.write(chunk)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    path = folder / f"{safe_stem(name)}-{h.hexdigest()[:16]}{suffix}"
    if path.exists():
        os.unlink(tmp.name)
    else:
        os.replace(tmp.name, path)
    return path


def as_the_user_sees(message: str, stored: Path | None, name: str) -> str:
    """A refusal in the user's terms: their file's name (no server path), no error numbers,
    and what to do."""
    shown = name[:120] + ("…" if len(name) > 120 else "")
    if stored is not None:
        message = message.replace(str(stored), shown)
    message = re.sub(r"/\S*/uploads/\S+", shown, message)  # any other server path
    message = re.sub(r"\s*\[Errno -?\d+\]\s*", " ", message)
    message = re.sub(r"FFmpeg says\s*", "", message).strip()
    if not message.startswith(shown):
        message = f"{shown}: {message}"
    return (message.rstrip(".") + ". Nothing was kept: upload a video file (MP4, MOV, MKV, WebM or AVI) "
            "that plays in a video player, or pick a sample clip.")
