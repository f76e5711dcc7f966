"""Cached loaders and per-session state for the Streamlit pages.

Models are shared read-only across sessions (``st.cache_resource``); everything a reviewer
picks (model, clip, window, frame, explanations) lives in ``st.session_state``, so two
auditors at once never see each other's clips.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import streamlit as st

from ..explainers import explain as run_explain
from ..config import home
from ..errors import CrnnauditError, VideoError
from ..model import AuditedModel, load_model
from ..video import Clip, VIDEO_SUFFIXES, open_clip

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_videos"
MAX_UPLOAD_MB = float(os.environ.get("CRNNAUDIT_MAX_UPLOAD_MB", "200"))


@st.cache_resource(show_spinner="Loading the model…", max_entries=4)
def cached_model(path: str, card: str | None, mtime: float) -> AuditedModel:
    del mtime  # part of the cache key: a rewritten file is reloaded
    return load_model(path, card=card)


def model_for(path: str | Path, card: str | None = None) -> AuditedModel:
    path = Path(path)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    side = Path(str(path.with_suffix("")) + ".card.json")
    if side.exists():
        mtime += side.stat().st_mtime
    return cached_model(str(path), card, mtime)


@st.cache_resource(show_spinner=False, max_entries=32)
def cached_clip(path: str, mtime: float) -> Clip:
    del mtime
    return open_clip(path)


def clip_for(path: str | Path) -> Clip:
    path = Path(path)
    return cached_clip(str(path), path.stat().st_mtime if path.exists() else 0.0)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_timeline(model_path: str, model_sha: str, clip_path: str, clip_sha: str, stride: int):
    """The score of every window, cached by content (the model and clip hashes)."""
    del model_sha, clip_sha
    model = model_for(model_path)
    clip = clip_for(clip_path)
    return model.score(clip, stride=stride)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_frame(clip_path: str, clip_sha: str, index: int):
    del clip_sha
    return clip_for(clip_path).frame(index)


def configured_model() -> str:
    """The model the app opens on: ``CRNNAUDIT_MODEL``, else the demo model (built on first use)."""
    return os.environ.get("CRNNAUDIT_MODEL") or ensure_demo_model()


def sample_clips() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*") if p.suffix.lower() in VIDEO_SUFFIXES)


def save_upload(uploaded, kind: str, allowed: tuple[str, ...]) -> Path:
    """Store an upload under the data folder, named by its content hash.

    Raises:
        CrnnauditError: wrong type or too large; the message names the file.
    """
    name = uploaded.name
    suffix = Path(name).suffix.lower()
    if suffix not in allowed:
        raise VideoError(f"{name}: a {kind} must be one of {', '.join(allowed)}, not '{suffix or 'no suffix'}'")
    data = uploaded.getvalue()
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        raise VideoError(f"{name}: {len(data) / 1e6:.1f} MB is over the {MAX_UPLOAD_MB:.0f} MB upload "
                         "limit (CRNNAUDIT_MAX_UPLOAD_MB)")
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = home() / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{Path(name).stem}-{digest}{suffix}"
    if not path.exists():
        path.write_bytes(data)
    return path


def current_model() -> AuditedModel | None:
    """The session's model, or the configured default; errors shown, never raised."""
    path = st.session_state.get("model_path") or configured_model()
    try:
        return model_for(path, st.session_state.get("card_path"))
    except CrnnauditError as e:
        st.error(str(e))
        return None


def current_clip() -> Clip | None:
    path = st.session_state.get("clip_path")
    if path is None:
        samples = sample_clips()
        if not samples:
            return None
        path = str(samples[0])
        st.session_state["clip_path"] = path
    try:
        return clip_for(path)
    except CrnnauditError as e:
        st.error(str(e))
        return None


def explanation_key(model: AuditedModel, clip: Clip, window: int, methods, target) -> str:
    return f"{model.sha256}:{clip.sha256}:{window}:{','.join(methods)}:{target}"


def explain_window(model: AuditedModel, clip: Clip, k: int, methods, target=None, params=None):
    """Explain window ``k`` with a progress bar; results come from the engine's disk cache
    when they were computed before (by this or any session)."""
    window = clip.window(k, model.window_length, model.card.stride, model.frame_size)
    bar = st.progress(0.0, text="explaining…")

    def progress(done, total):
        bar.progress(min(1.0, done / max(total, 1)), text=f"explaining… {done}/{total}")
    try:
        es = run_explain(model, window, methods, target=target, params=params, progress=progress)
    finally:
        bar.empty()
    return window, es


@st.cache_resource(show_spinner=False)
def _build_demo_once(_progress) -> str:
    """One build per server process: a second session waits for the first's build."""
    from ..demo.model import build_demo
    return str(build_demo(progress=_progress))


def ensure_demo_model() -> str:
    """The demo model's path, building it on first start with a progress bar (minutes, once)."""
    from ..demo.model import demo_is_current, demo_model_path
    if demo_is_current():
        return str(demo_model_path())
    st.info("No model is configured, so crnnaudit builds its demo model once: a VGG19 + GRU "
            "trained on synthetic clips (a few minutes on a laptop CPU). Set CRNNAUDIT_MODEL "
            "or load your own model on the Model page to skip this.")
    bar = st.progress(0.0, text="building the demo model…")

    def progress(what, done, total):
        bar.progress(min(1.0, done / max(total, 1)), text=f"{what}: {done}/{total}")
    path = _build_demo_once(progress)
    bar.empty()
    return path
