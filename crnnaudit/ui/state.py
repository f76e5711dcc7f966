"""Cached loaders for the Streamlit pages, and the session's current model and clip.

Models are shared read-only across sessions (``st.cache_resource``); everything a reviewer
picks lives in the session's :class:`~crnnaudit.ui.session.Review`, so two auditors at once
never see each other's clips.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import streamlit as st

from ..card import sidecar_path
from ..config import home, samples_dir
from ..errors import CrnnauditError, VideoError
from ..explainers import explain as run_explain
from ..model import AuditedModel, load_model
from ..video import Clip, open_clip
from ..vocabulary import VIDEO_SUFFIXES
from .session import HeldExplanation, Review

MAX_UPLOAD_MB = float(os.environ.get("CRNNAUDIT_MAX_UPLOAD_MB", "200"))
_CHUNK = 1 << 20


def upload_limit_mb() -> int:
    """The upload limit in force: CRNNAUDIT_MAX_UPLOAD_MB, which the server's own
    ``server.maxUploadSize`` must follow (``make app`` passes it) so that a larger file is
    refused while it streams in, before it is held in memory."""
    return max(1, int(MAX_UPLOAD_MB))


def server_limit_mismatch() -> str | None:
    """A warning when the Streamlit server was started with another upload limit."""
    server = int(st.get_option("server.maxUploadSize"))
    if server != upload_limit_mb():
        return (f"The server accepts uploads up to {server} MB but CRNNAUDIT_MAX_UPLOAD_MB is "
                f"{upload_limit_mb()} MB: start the app with `make app` (or `streamlit run app.py "
                f"--server.maxUploadSize {upload_limit_mb()}`) so that the two agree.")
    return None


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def cached_model(path: str, card: str | None, stamp: tuple) -> AuditedModel:
    del stamp  # part of the cache key: a rewritten model or card is reloaded
    return load_model(path, card=card)


def _mtime(path: Path | None) -> float:
    return path.stat().st_mtime_ns if path is not None and path.exists() else 0.0


def model_for(path: str | Path, card: str | None = None) -> AuditedModel:
    """The model at ``path`` with its card (the given one, else its sidecar in any format);
    reloaded whenever the model file or the card changes."""
    path = Path(path)
    card_file = Path(card) if card else sidecar_path(path)
    stamp = (_mtime(path), str(card_file) if card_file else None, _mtime(card_file))
    return cached_model(str(path), card, stamp)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_clip(path: str, mtime: float) -> Clip:
    del mtime
    return open_clip(path)


def clip_for(path: str | Path) -> Clip:
    path = Path(path)
    return cached_clip(str(path), _mtime(path))


@st.cache_data(show_spinner=False, max_entries=64)
def cached_timeline(model_path: str, model_sha: str, clip_path: str, clip_sha: str, stride: int,
                    card_path: str | None, card_digest: str):
    """The score of every window, cached by content (the model, clip and card hashes)."""
    del model_sha, clip_sha, card_digest
    return model_for(model_path, card_path).score(clip_for(clip_path), stride=stride)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_frame(clip_path: str, clip_sha: str, index: int):
    del clip_sha
    return clip_for(clip_path).frame(index)


def configured_model() -> str:
    """The model the app opens on: ``CRNNAUDIT_MODEL``, else the demo model (built on first use)."""
    return os.environ.get("CRNNAUDIT_MODEL") or ensure_demo_model()


def sample_clips() -> list[Path]:
    """The sample clips offered on the Review page (see :func:`crnnaudit.config.samples_dir`)."""
    folder = samples_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


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
    limit = upload_limit_mb() << 20
    folder = home() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    h, size = hashlib.sha256(), 0
    uploaded.seek(0)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".partial", delete=False) as tmp:
        try:
            while chunk := uploaded.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise VideoError(f"{shown}: over the {upload_limit_mb()} MB upload limit "
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


@st.cache_resource(ttl=24 * 3600, show_spinner=False)
def daily_housekeeping(home_folder: str) -> int:
    """Once a day per server (and data folder): erase uploads past the retention period
    (CRNNAUDIT_RETENTION_DAYS), each erasure a logged row. Returns how many went."""
    del home_folder  # the cache key
    from ..housekeeping import apply_retention
    try:
        return len(apply_retention())
    except CrnnauditError:
        return 0  # a bad setting is reported by `crnnaudit housekeeping`; the app stays up


def model_folders() -> list[Path]:
    """Where the Model page finds models: ``CRNNAUDIT_MODELS_DIR`` (``:``-separated), else the
    demo model's folder. No page opens any other server path; admins may also upload."""
    from ..demo.paths import demo_dir
    configured = os.environ.get("CRNNAUDIT_MODELS_DIR")
    return [Path(p).expanduser() for p in configured.split(":") if p] if configured else [demo_dir()]


def model_choices() -> list[Path]:
    from ..vocabulary import MODEL_SUFFIXES
    out = []
    for folder in model_folders():
        if folder.is_dir():
            out += sorted(p for p in folder.iterdir() if p.suffix.lower() in MODEL_SUFFIXES
                          and ".partial" not in p.name)
    return out


def log_card_edit(model: AuditedModel, card, target: Path, who) -> dict:
    """A card edit is a chained audit-log row: who, which model, the card's version and hash."""
    from ..audit import AuditLog
    from ..card import card_sha256
    return AuditLog().append({"action": "card edited", "by": who.username, "model_sha256": model.sha256,
                              "card_file": target.name, "card_version": card.version,
                              "card_sha256": card_sha256(card)}, kind="card")


def current_model() -> AuditedModel | None:
    """The session's model, or the configured default; errors shown, never raised."""
    review = Review.current()
    try:
        return model_for(review.model_path or configured_model(), review.card_path)
    except CrnnauditError as e:
        st.error(str(e))
        return None


def current_clip() -> Clip | None:
    review = Review.current()
    if review.clip_path is None:
        samples = sample_clips()
        if not samples:
            return None
        review.use_clip(str(samples[0]))
    try:
        return clip_for(review.clip_path)
    except CrnnauditError as e:
        st.error(str(e))
        return None


def explain_window(model: AuditedModel, clip: Clip, k: int, methods, target=None) -> HeldExplanation:
    """Explain window ``k`` with a progress bar; results come from the engine's disk cache
    when they were computed before (by this or any session)."""
    window = clip.window(k, model.window_length, model.card.stride, model.frame_size)
    bar = st.progress(0.0, text="explaining…")

    def progress(done, total):
        bar.progress(min(1.0, done / max(total, 1)), text=f"explaining… {done}/{total}")
    try:
        es = run_explain(model, window, methods, target=target, progress=progress)
    finally:
        bar.empty()
    return HeldExplanation(model.sha256, clip.sha256, window, es, tuple(methods), target)


@st.cache_resource(show_spinner=False)
def _demo_once(_progress) -> str:
    """Once per server process: a second session waits for the first."""
    from ..demo.model import ensure_demo
    return str(ensure_demo(progress=_progress))


def ensure_demo_model() -> str:
    """The demo model's path: the shipped weights assembled on first start (seconds), or, if
    they do not check out on this machine, rebuilt from the recipe with a progress bar."""
    from ..demo.model import demo_is_current, demo_model_path
    if demo_is_current():
        return str(demo_model_path())
    st.info("No model is configured, so crnnaudit prepares its demo model once: a VGG19 + GRU "
            "trained on synthetic clips by the project's own recipe. Set CRNNAUDIT_MODEL or load "
            "your own model on the Model page to skip this.")
    bar = st.progress(0.0, text="preparing the demo model…")

    def progress(what, done, total):
        bar.progress(min(1.0, done / max(total, 1)), text=f"{what}: {done}/{total}")
    path = _demo_once(progress)
    bar.empty()
    return path
