"""The Review page's parts: the clip picker, the timeline with its window, the explain controls,
the scrubber. Each draws the review's screen and sends transitions; none keeps a value of its own."""

from __future__ import annotations

import time

import streamlit as st

from .. import render
from ..vocabulary import VIDEO_SUFFIXES
from . import session, widgets
from .session import bound, from_widget, send

SAMPLE, UPLOAD = "Sample clip", "Upload"


def clip_picker(review) -> None:
    """A sample clip or an upload. Which tab is open is the user's; the clip is the review's."""
    s = review.state
    names = session.sample_names()
    on_sample = s.clip_path is not None and s.clip_name in names and not s.refused
    if "clip_source" not in st.session_state:
        st.session_state["clip_source"] = SAMPLE if on_sample or s.clip_path is None else UPLOAD
    st.radio("Clip", [SAMPLE, UPLOAD], horizontal=True, key="clip_source")
    if st.session_state["clip_source"] == SAMPLE and names:
        current = s.clip_name if on_sample and s.clip_path and s.clip_path.endswith(s.clip_name) else None
        st.selectbox("Sample clip", names, placeholder="(the clip under review is an upload)",
                     **bound("sample_choice", current, names),
                     on_change=from_widget("sample_choice", review.select_sample))
    elif st.session_state["clip_source"] == UPLOAD:
        from ..limits import max_upload_mb
        kinds = ", ".join(s[1:].upper() for s in VIDEO_SUFFIXES)
        st.file_uploader(f"Video ({kinds}; at most {max_upload_mb()} MB)", type=[s[1:] for s in VIDEO_SUFFIXES],
                         key="clip_upload", max_upload_size=max_upload_mb(), on_change=_take_upload, args=(review,))
        if review.state.refused:
            st.error(review.state.refused)


def _take_upload(review) -> None:
    """A new file in the uploader (its ``on_change``): each upload is taken once, by the review."""
    up = st.session_state.get("clip_upload")
    if up is not None:
        send(review.upload_clip, up, str(up.name))


def _scoring_wanted(s) -> bool:
    """Whether to score the clip now: not after its scoring was cancelled, until the auditor asks
    to resume (the windows already scored are kept in the server's checkpoint, and scoring goes on
    from the first one missing)."""
    paused = st.session_state.setdefault("scoring_paused", set())
    if st.session_state.pop("score_work_cancelled", False):
        paused.add(s.clip_path)
    if s.clip_path not in paused:
        return True
    st.info(f"Scoring {s.clip_name} was cancelled. The windows already scored are kept: resuming goes on from the "
            "first window missing.", icon=":material/pause_circle:")
    if not st.button("Resume scoring", key="score_resume"):
        return False
    paused.discard(s.clip_path)
    return True


def settle(review) -> bool:
    """The clip's window, chosen as the review's opening rule says (scoring the clip first, with
    a progress bar and the time left). False when there is no clip or it cannot be scored."""
    s = review.state
    if s.clip_path is None:
        return False
    if s.window is None:
        if not _scoring_wanted(s):
            return False
        try:
            widgets.run_with_progress(f"scoring {s.clip_name}", lambda progress, cancel: review.settle(progress),
                                      key="score_work", unit="window", cancellable=True)
        except Exception as e:  # noqa: BLE001 - the page says why and stays up
            from ..errors import CrnnauditError
            if not isinstance(e, CrnnauditError):
                raise
            st.error(str(e))
            return False
    return review.state.window is not None


def clip_facts(review) -> None:
    clip, screen = review.clip(), review.screen()
    facts = clip.facts()
    for col, key in zip(st.columns(6), ("duration_s", "fps", "frames", "width", "height", "codec")):
        col.metric(key.replace("_s", " (s)"), facts[key])
    st.caption(f"{screen.clip_name} · SHA-256 `{clip.sha256}`"
               + (f" · turned {clip.rotation}° as the file asks" if clip.rotation else "")
               + (" · variable frame rate" if clip.variable_frame_rate else "")
               + (f" · the model sees {clip.frame_count} frames, sampled at its {clip.model_rate:g} fps; window "
                  "and frame numbers count those, times are the file's" if facts.get("sampled") else ""))
    for warning in clip.warnings():
        st.warning(warning)


def timeline_panel(review) -> None:
    """The timeline (its shading), the Window box and the announced window: one value."""
    screen, timeline = review.screen(), review.timeline()
    n = len(timeline.table)
    event = st.session_state.get("timeline_chart")  # a click, read before anything is drawn
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    picked = None
    if points and "customdata" in points[0]:
        value = points[0]["customdata"]
        picked = int(value[0] if isinstance(value, list) else value)
    if picked is not None and picked != st.session_state.get("timeline_last_pick"):
        st.session_state["timeline_last_pick"] = picked  # the chart repeats its selection on every run
        send(review.select_window, picked)
        screen = review.screen()
    if getattr(timeline, "resumed_windows", 0):
        st.caption(f"{timeline.resumed_windows:,} of {n:,} windows were scored before the scoring was cancelled or "
                   "cut off, and kept; the rest were scored now.")
    span = _zoom_and_peaks(review, timeline) if n > 20 else None
    screen = review.screen()
    st.plotly_chart(render.timeline_figure(timeline, screen.window, span), on_select="rerun", selection_mode="points",
                    key="timeline_chart", width="stretch")
    st.number_input("Window", 0, n - 1, **bound("window_input", screen.window),
                    on_change=from_widget("window_input", review.select_window, int))
    st.write(f"Window {screen.window}: frames {screen.first_frame}-{screen.last_frame} "
             f"({screen.start_s:.2f}-{screen.end_s:.2f} s) · anomaly score **{review.reading().anomaly_score:.3f}** "
             f"→ {review.reading().decision} (threshold {timeline.threshold:.2f})")
    widgets.reading_statements(review.reading())
    model = review.model()
    st.plotly_chart(render.probability_figure(model.card.classes, list(review.reading().probabilities.values()),
                                              model.card.anomaly_classes), key="probabilities", width="stretch")


def _jump(review) -> None:
    """A peak chosen: the review goes to it, and the menu empties again (it is a menu, not a state:
    it never shows a window the review has left, and the same peak can be chosen twice)."""
    chosen = st.session_state.get("timeline_peak")
    st.session_state["timeline_peak"] = None
    if chosen is not None:
        send(review.select_window, int(chosen))


def _zoom_and_peaks(review, timeline) -> tuple[float, float] | None:
    """A long timeline's controls: jump to one of its highest peaks (ten, none overlapping), and,
    when the chart summarises, a zoom in seconds under which every window is drawn."""
    t = timeline.table
    peaks = render.top_windows(t, 10)
    score = dict(zip(t["window"], t["anomaly_score"]))
    start = dict(zip(t["window"], t["start_s"]))
    c1, c2 = st.columns([2, 3])
    c1.selectbox("Jump to a peak", peaks, index=None, key="timeline_peak", placeholder="the highest scores",
                 format_func=lambda w: f"window {w} at {start[w]:.1f} s: {score[w]:.3f}", on_change=_jump,
                 args=(review,))
    if len(t) <= render.TIMELINE_POINTS:
        return None
    end = float(t["end_s"].max())
    shown = (timeline.clip_sha256, timeline.model_sha256, end)
    if st.session_state.get("timeline_zoom_of") != shown:  # another timeline: the whole of it, never a stale span
        st.session_state.pop("timeline_zoom", None)
        st.session_state["timeline_zoom_of"] = shown
    span = c2.slider("Zoom (seconds)", 0.0, end, (0.0, end), key="timeline_zoom")
    in_view = int(((t["end_s"] >= span[0]) & (t["start_s"] <= span[1])).sum())
    if in_view > render.TIMELINE_POINTS:
        st.caption(f"{len(t):,} windows: each point is the highest score of a group of consecutive windows (a click "
                   f"opens that window); every window over the threshold is marked. Zoom to under "
                   f"{render.TIMELINE_POINTS:,} windows to see each one.")
    return span


def explain_controls(review) -> None:
    """The methods and the class the next explanation computes, and the button."""
    from ..explainers.base import available_methods
    s, model = review.state, review.model()
    st.multiselect("Methods", available_methods(model), **bound("methods", list(s.methods), param="default"),
                   on_change=from_widget("methods", review.choose_methods))
    predicted = "predicted / anomaly"
    choices = [predicted] + model.card.classes
    st.selectbox("Explain the class", choices, **bound("target", s.target or predicted, choices),
                 on_change=from_widget("target", review.choose_target, lambda v: None if v == predicted else v))
    widgets.asked_work("Explain this window", "explain", (s.clip_path, s.window), f"explaining window {s.window}",
                       lambda progress, cancel: review.explain(progress, cancel), type="primary")


EXPLAIN_ASKED = "explain_asked"  # the window an explanation was asked for, until it is made (widgets.asked_work)


@st.fragment
def scrubber(review) -> None:
    """Only this part reruns when the reviewer scrubs: the page above stays as it is."""
    s = review.state
    if s.held is None:
        return
    window, es = s.held.window, s.held.expset
    widgets.map_controls(review)
    T = window.length
    b1, b2, b3, _ = st.columns([1, 1, 1, 6])
    b1.button("◀", key="prev", on_click=send, args=(review.step_frame, -1), help="previous frame")
    b2.button("▶", key="next", on_click=send, args=(review.step_frame, 1), help="next frame")
    play = b3.button("Play", key="play", help="play the window's frames")
    screen = review.screen()
    st.slider("Frame", 0, T - 1, **bound("frame_slider", screen.frame),
              on_change=from_widget("frame_slider", review.jump_to_frame, int))
    widgets.verdict_line(screen.verdict)
    holder = st.empty()
    if play:
        for p in range(T):
            send(review.jump_to_frame, p)
            widgets.map_image(holder, review, review.screen())
            time.sleep(1.0 / max(review.clip().fps, 1))
        st.rerun(scope="fragment")  # play ends on the last frame: the slider and the caption follow
    widgets.map_image(holder, review, screen)
    st.caption("Prediction for this window: " + ", ".join(
        f"{c} {p:.3f}" for c, p in zip(review.model().card.classes, es.probabilities))
        + f" · explained class: {es.target_name}")
