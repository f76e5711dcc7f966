"""Widgets shared by the pages: clip picker, timeline, the explanation in hand."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import streamlit as st

from ..errors import CrnnauditError
from .. import explainers
from ..explainers import DEFAULT_METHODS
from ..vocabulary import VIDEO_SUFFIXES
from . import loaders, uploads
from .session import HeldExplanation, Review


def clip_picker() -> None:
    """Pick a sample clip or upload one; errors are shown, the previous clip stays."""
    review = Review.current()
    samples = loaders.sample_clips()
    names = [p.name for p in samples]
    source = st.radio("Clip", ["Sample clip", "Upload"], horizontal=True, key="clip_source")
    if source == "Sample clip" and samples:
        current = Path(review.clip_path or samples[0]).name
        choice = st.selectbox("Sample clip", names, index=names.index(current) if current in names else 0,
                              key="sample_choice")
        review.use_clip(str(samples[names.index(choice)]))
    elif source == "Upload":
        kinds = ", ".join(s[1:].upper() for s in VIDEO_SUFFIXES)
        up = st.file_uploader(f"Video ({kinds}; at most {uploads.upload_limit_mb()} MB)",
                              type=[s[1:] for s in VIDEO_SUFFIXES], key="clip_upload",
                              max_upload_size=uploads.upload_limit_mb())
        if up is not None:
            try:
                path = uploads.save_upload(up, "video", VIDEO_SUFFIXES)
                loaders.clip_for(path)  # probe now: a bad file fails here with its message
                review.use_clip(str(path))
            except CrnnauditError as e:
                st.error(str(e))


def timeline_for(model, clip):
    """The clip's timeline under the session's model and card; errors shown, not raised."""
    review = Review.current()
    digest = hashlib.sha256(json.dumps(model.card.to_dict(), sort_keys=True, default=str).encode()).hexdigest()
    try:
        return loaders.cached_timeline(str(model.source), model.sha256, str(clip.path), clip.sha256,
                                     int(model.card.stride), review.card_path, digest)
    except CrnnauditError as e:
        st.error(str(e))
        return None


def available_methods(model) -> list[str]:
    return explainers.available_methods(model)


def default_methods(model) -> list[str]:
    return [m for m in DEFAULT_METHODS if m in available_methods(model)]


def require_explanation(hint: str = "Explain a window on the Review page first.") -> tuple:
    """The session's model, clip, window and explanations, or a hint and a stopped page."""
    model = loaders.current_model()
    clip = loaders.current_clip() if model else None
    held = Review.current().explanation_for(model, clip)
    if held is None:
        st.info(hint)
        st.stop()
    return model, clip, held.window, held.expset


def run_explanation(model, clip, k: int, methods, target=None) -> HeldExplanation | None:
    """Explain window ``k`` and hold the result in the session's review."""
    try:
        held = loaders.explain_window(model, clip, k, methods, target=target)
    except CrnnauditError as e:
        st.error(str(e))
        return None
    Review.current().hold(held)
    return held
