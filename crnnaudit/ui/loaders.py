"""Cached loaders for the Streamlit pages, and the session's current model and clip.

Models are shared read-only across sessions (``st.cache_resource``); everything a reviewer
picks lives in the session's :class:`~crnnaudit.ui.session.Review`, so two auditors at once
never see each other's clips.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from ..card import sidecar_path
from ..config import samples_dir
from ..errors import CrnnauditError
from ..explainers import explain as run_explain
from ..model import AuditedModel, load_model
from ..footage.video import Clip, open_clip
from ..vocabulary import VIDEO_SUFFIXES
from .model_choice import configured_model
from .session import HeldExplanation, Review


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


@st.cache_resource(show_spinner=False)
def _timelines() -> OrderedDict:
    """Timelines computed by this server, by content: shared by every session."""
    return OrderedDict()


def timeline(model: AuditedModel, clip: Clip, card_digest: str, shown_name: str):
    """The score of every window, by content (model, clip and card hashes), with a progress
    bar (windows done of all, time left) the first time; served at once after that."""
    key = (model.sha256, clip.sha256, int(model.card.stride), card_digest)
    store = _timelines()
    if key in store:
        store.move_to_end(key)
        return store[key]
    bar, t0 = st.progress(0.0, text=f"scoring {shown_name}…"), time.monotonic()

    def progress(done: int, total: int) -> None:
        left = (time.monotonic() - t0) / max(done, 1) * (total - done)
        bar.progress(done / max(total, 1), text=f"scoring {shown_name}: window {done} of {total}, about {left:.0f} s left")
    try:
        result = model.score(clip, progress=progress)
    finally:
        bar.empty()
    store[key] = result
    while len(store) > 64:
        store.popitem(last=False)
    return result


@st.cache_data(show_spinner=False, max_entries=256)
def cached_frame(clip_path: str, clip_sha: str, index: int):
    del clip_sha
    return clip_for(clip_path).frame(index)


def sample_clips() -> list[Path]:
    """The sample clips offered on the Review page (see :func:`crnnaudit.config.samples_dir`)."""
    folder = samples_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)


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
    if review.clip_path is None and review.refused_upload:
        return None  # the picker said why; no other clip takes its place
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


