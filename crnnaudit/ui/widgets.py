"""Widgets shared by the pages: clip picker, window picker, the explanation in hand."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..errors import CrnnauditError
from ..explainers import DEFAULT_METHODS, REGISTRY
from . import state


def clip_picker() -> None:
    """Pick a sample clip or upload one; errors are shown, the previous clip stays."""
    samples = state.sample_clips()
    names = [p.name for p in samples]
    source = st.radio("Clip", ["Sample clip", "Upload"], horizontal=True, key="clip_source")
    if source == "Sample clip" and samples:
        current = Path(st.session_state.get("clip_path", samples[0])).name
        choice = st.selectbox("Sample clip", names, index=names.index(current) if current in names else 0,
                              key="sample_choice")
        path = str(samples[names.index(choice)])
        if path != st.session_state.get("clip_path"):
            _set_clip(path)
    elif source == "Upload":
        up = st.file_uploader(f"Video (MP4, AVI, MKV, WebM; at most {state.MAX_UPLOAD_MB:.0f} MB)",
                              type=["mp4", "avi", "mkv", "webm", "mov", "m4v"], key="clip_upload")
        if up is not None:
            try:
                path = state.save_upload(up, "video", (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v"))
                state.clip_for(path)  # probe now: a bad file fails here with its message
                if str(path) != st.session_state.get("clip_path"):
                    _set_clip(str(path))
            except CrnnauditError as e:
                st.error(str(e))


def reset_review() -> None:
    """Forget the window, the explanation and the scrubber: the model or the clip changed."""
    for key in ("expset", "window_index", "window_input", "last_pick", "frame_pos"):
        st.session_state.pop(key, None)


def _set_clip(path: str) -> None:
    st.session_state["clip_path"] = path
    reset_review()


def timeline_for(model, clip):
    try:
        return state.cached_timeline(str(model.source), model.sha256, str(clip.path), clip.sha256,
                                     int(model.card.stride))
    except CrnnauditError as e:
        st.error(str(e))
        return None


def available_methods(model) -> list[str]:
    return [m for m, meta in REGISTRY.items() if not (meta.needs_conv and model.conv is None)
            and not m.startswith("_")]


def default_methods(model) -> list[str]:
    return [m for m in DEFAULT_METHODS if m in available_methods(model)]


def current_explanation(model, clip):
    """The explanation of the selected window, if the reviewer asked for one."""
    held = st.session_state.get("expset")
    if not held:
        return None
    key, window, es = held
    if not key.startswith(f"{model.sha256}:{clip.sha256}:"):
        return None
    return window, es


def require_explanation(hint: str = "Explain a window on the Review page first."):
    """The session's model, clip, window and explanations, or a hint and a stopped page."""
    model = state.current_model()
    clip = state.current_clip() if model else None
    held = current_explanation(model, clip) if clip else None
    if held is None:
        st.info(hint)
        st.stop()
    return model, clip, held[0], held[1]


def run_explanation(model, clip, k: int, methods, target=None) -> None:
    try:
        window, es = state.explain_window(model, clip, k, methods, target=target)
    except CrnnauditError as e:
        st.error(str(e))
        return
    st.session_state["expset"] = (state.explanation_key(model, clip, k, methods, target), window, es)
    st.session_state["window_index"] = k
    st.session_state["frame_pos"] = 0
