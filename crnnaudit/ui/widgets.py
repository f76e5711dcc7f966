"""Widgets the pages share: long work with progress and Cancel, the map and its controls, each
map's verdict, the statements about a window's reading, model pickers."""

from __future__ import annotations

import time
from pathlib import Path

import streamlit as st

from .. import render
from ..errors import Cancelled, CrnnauditError
from . import model_choice
from .session import bound, from_widget, world


def run_with_progress(text: str, work, key: str, cancellable: bool = False, unit: str = "step"):
    """Run ``work(progress)`` (or ``work(progress, cancel)``) under a progress bar that says what
    is being done and the time left, with a Cancel button beside it while the work runs. The
    bar and the button go when the work ends, whichever way; a cancelled work leaves the review
    as it was, and the page says so. Returns the work's result (``None`` when cancelled)."""
    if st.session_state.pop(f"{key}_cancelled", False):
        st.info(f"{text[0].upper()}{text[1:]}: cancelled; nothing was kept.")
    place = st.empty()
    with place.container():
        bar_col, button_col = st.columns([5, 1])
        bar = bar_col.progress(0.0, text=f"{text}…")
        if cancellable:
            button_col.button("Cancel", key=f"{key}_cancel", on_click=st.session_state.__setitem__,
                              args=(f"{key}_cancelled", True))
    t0 = time.monotonic()

    def progress(done: float, total: float, what: str | None = None) -> None:
        nonlocal t0
        share = min(1.0, max(0.0, done / max(total, 1)))
        if share == 0:  # still waiting, or only starting: the time left counts from the start of the work
            t0 = time.monotonic()
        spent = time.monotonic() - t0
        left = f", about {spent / share * (1 - share):.0f} s left" if 0.02 < share < 1 else ""
        said = what or f"{unit} {int(done)} of {int(total)}"
        bar.progress(share, text=f"{text}: {said}{left}")
    try:  # one piece of long work at a time on the server, first come, first served (review.turns)
        with world().queue.turn(text, kind=key, progress=progress) as turn:
            return work(turn.report, lambda: False) if cancellable else work(turn.report)
    except Cancelled:
        st.info(f"{text[0].upper()}{text[1:]}: cancelled; nothing was kept.")
        return None
    except CrnnauditError as e:
        st.error(str(e))
        return None
    finally:
        place.empty()


def asked_work(label: str, key: str, about, text: str, work, *, unit: str = "step", where=None, **button):
    """A button whose work outlives a run cut short. Long work waits its turn in the server's
    queue, and any rerun meanwhile (a scrub, a reconnecting browser) cuts the run that holds the
    click, which a button's value does not survive. So the click is kept in the session with
    ``about`` (what the page showed when the button was drawn: the window, the explanation) and
    the work runs, under :func:`run_with_progress`, in this run or the next; the request ends
    when the work ends (done, refused or failed), with Cancel (the page says so), or when the
    page shows something else than ``about``. Returns the work's result, ``None`` otherwise.
    ``where``: the button's container (a column, say); the rest goes to :func:`ask_button`."""
    ask_button(label, key, about, where=where, **button)
    return run_asked(key, about, text, work, unit=unit, label=label)


def ask_button(label: str, key: str, about, *, where=None, on_click=None, submit: bool = False, **button) -> None:
    """The button of :func:`asked_work` alone (``submit``: a form's submit button, whose work
    :func:`run_asked` runs outside the form); ``on_click`` runs first (the form's fields sent to
    the review, say). The session keys: ``{key}_asked`` (the request), ``{key}_work`` (its work)."""
    draw = (where or st).form_submit_button if submit else (where or st).button
    draw(label, key=key, on_click=_ask, args=(f"{key}_asked", about, on_click), **button)


def run_asked(key: str, about, text: str, work, *, unit: str = "step", label: str = "the request"):
    """The work of the request :func:`ask_button` kept, if it stands for ``about``; one asked on
    a screen the page has left is dropped, and the page says so (``label``: the button's)."""
    asked, work_key = f"{key}_asked", f"{key}_work"
    if st.session_state.pop(f"{work_key}_cancelled", False):
        st.session_state.pop(asked, None)
        st.info(f"{text[0].upper()}{text[1:]}: cancelled; nothing was kept.")
        return None
    if asked not in st.session_state:
        return None
    if st.session_state[asked] != about:  # asked about what the page no longer shows
        st.session_state.pop(asked)
        st.info(f"{label}: not done. It was asked on an earlier screen than the one shown now (another clip, "
                "window or explanation); ask again for this one.")
        return None
    try:
        result = run_with_progress(text, work, key=work_key, cancellable=True, unit=unit)
    except Exception:  # a failure ends the request too (a rerun, Streamlit's BaseException, keeps it)
        st.session_state.pop(asked, None)
        raise
    st.session_state.pop(asked, None)
    return result


def _ask(asked: str, about, on_click=None) -> None:
    if on_click is not None:
        on_click()
    st.session_state[asked] = about


def explained(state) -> tuple | None:
    """What identifies the explanation on screen (model, clip, window, methods, class): what a
    request about it (a trust figure, a report) was asked about."""
    h = state.held
    return None if h is None else (h.model_sha256, h.clip_sha256, h.window.index, h.methods, h.target)


def map_controls(review) -> None:
    """The map settings every page shares, bound to the review: the Overlay (the method on the
    map), view, opacity, colours, scaling."""
    s = review.state
    offered = s.maps_offered()
    c1, c2, c3, c4, c5 = st.columns([2, 3, 2, 2, 2])
    c1.selectbox("Overlay", offered, **bound("overlay_method", s.overlay, offered),
                 on_change=from_widget("overlay_method", review.choose_overlay))
    c2.radio("View", list(render.VIEWS), horizontal=True, **bound("view", s.style.view, list(render.VIEWS)),
             format_func=lambda v: v.replace("_", " "), on_change=from_widget("view", lambda v: review.set_style(view=v)))
    c3.slider("Opacity", 0.0, 1.0, step=0.05, **bound("alpha", float(s.style.alpha)),
              on_change=from_widget("alpha", lambda v: review.set_style(alpha=float(v))))
    cmaps = list(render.SAFE_COLORMAPS) + ["jet", "turbo"]
    c4.selectbox("Colours", cmaps, **bound("cmap", s.style.cmap, cmaps),
                 format_func=lambda c: c if c in render.SAFE_COLORMAPS else f"{c} (not colour-blind safe)",
                 on_change=from_widget("cmap", lambda v: review.set_style(cmap=v)))
    c5.selectbox("Scale", list(render.SCALINGS), **bound("scaling", s.style.scaling, list(render.SCALINGS)),
                 format_func=lambda k: render.SCALINGS[k].split(":")[0],
                 on_change=from_widget("scaling", lambda v: review.set_style(scaling=v)))


def map_image(holder, review, screen) -> None:
    """The frame the screen names with the overlay's map, its caption and a text alternative."""
    from ..explainers.base import REGISTRY
    s = review.state
    if s.held is None or screen.overlay is None:
        return
    window, exp = s.held.window, s.held.expset[screen.overlay]
    p = screen.frame
    src = cached_frame(review.clip().path, review.clip().sha256, screen.frame_number, review.clip().model_rate)
    values = exp.maps[p]
    flat = float(values.max() - values.min()) < 1e-12
    label = REGISTRY[screen.overlay].label if screen.overlay in REGISTRY else screen.overlay
    caption = (f"frame {screen.frame_number} · {screen.frame_time:.2f} s · {screen.overlay} · contribution "
               f"{exp.frame_scores[p]:.3g} · " + (f"{screen.overlay} is {float(values.max()):.3g} everywhere on this "
                                                  "frame: it points nowhere here" if flat else
                                                  f"colours {render.SCALINGS[s.style.scaling]}"))
    alt = (f"{label} map of frame {screen.frame_number} (position {p + 1} of {window.length}) of window "
           f"{window.index}" + (": zero everywhere, it points nowhere on this frame" if flat else ""))
    holder.image(render.show_map(src, exp.maps, p, s.style), caption=caption, alt=alt, width=s.style.width + 70)


@st.cache_data(show_spinner=False, max_entries=256)
def cached_frame(clip_path, clip_sha: str, index: int, rate: float | None = None):
    """Frame ``index`` of the clip as a model at ``rate`` fps numbers its frames (Clip.at_rate)."""
    from ..footage.video import open_clip
    del clip_sha
    return open_clip(clip_path).at_rate(rate).frame(int(index))


def verdict_line(verdict: dict | None, compact: bool = False) -> None:
    """A map's verdict against random deletion: green when it beats random, red otherwise."""
    if not verdict:
        return
    text = verdict["verdict"]
    if compact:
        text = verdict.get("short", text)
    good = verdict["better_than_random"]
    (st.success if good else st.error)(text, icon=":material/check:" if good else ":material/warning:")


def reading_statements(reading) -> None:
    """What the training-data and image-quality checks say about a window, and its decision."""
    from ..decision import NO_RELIABLE_READING
    (st.warning if reading.training.get("unlike_training") else st.caption)(reading.training["statement"])
    if reading.quality.get("checked"):
        (st.warning if reading.quality["fired"] else st.caption)(reading.quality["statement"])
    if reading.decision == NO_RELIABLE_READING:
        st.error("**No reliable reading** on this window: the model's probabilities are shown below, but no "
                 "anomaly decision is drawn from them. You may still decide on the Report page, with reasons.",
                 icon=":material/report:")
    elif not reading.reliable:
        st.warning("This window cannot be read reliably, but this model's card asks to decide from the score "
                   "anyway (withhold_unreliable: false).")


def require_explanation(review, hint: str = "Explain a window on the Review page first."):
    """The review's explanation, with the line that says what it is of; else a hint and a stop."""
    s = review.state
    if s.held is None:
        st.info(hint)
        st.stop()
    screen = review.screen()
    st.caption(f"{screen.clip_name} · window {screen.window} (frames {screen.first_frame}-{screen.last_frame}, "
               f"{screen.start_s:.2f}-{screen.end_s:.2f} s) · explained class {screen.target_name} · "
               f"methods {', '.join(s.held.expset)}")
    return s.held


def model_picker(label: str, key: str) -> str | None:
    """A model from where models may come: the models folders (CRNNAUDIT_MODELS_DIR), an
    admin's upload, or a registered model the settings allow (pinned once for this session).
    Never a typed path or URI.

    Raises:
        RegistryError: the registered model chosen does not resolve (named).
    """
    choices = [str(p) for p in model_choice.model_choices(with_uploads=True)]
    path = st.selectbox(label, choices, index=None, key=key, placeholder="choose a model",
                        format_func=lambda p: Path(p).name)
    uri = model_choice.registry_picker(f"{label}: or a registered model", key=f"{key}_registry")
    return path or (model_choice.pin(uri) if uri else None)


def oversight(rows: list[dict], table: bool = False) -> None:
    """How each reviewer decides (:mod:`crnnaudit.evidence.oversight`): a warning per reviewer
    who confirms nearly always or decides very fast; with ``table`` the figures too."""
    from ..evidence.oversight import reviewer_figures, rule
    figures = reviewer_figures(rows)
    for f in figures:
        for w in f["warnings"]:
            st.warning(w, icon=":material/visibility:")
    if table and figures:
        st.subheader("How each reviewer decides")
        st.dataframe([{k: f[k] for k in ("reviewer", "decisions", "confirm_share", "median_seconds")} for f in figures],
                     hide_index=True, column_config={
                         "reviewer": st.column_config.TextColumn("Reviewer"),
                         "decisions": st.column_config.NumberColumn("Decisions"),
                         "confirm_share": st.column_config.NumberColumn("Confirmed the model", format="percent"),
                         "median_seconds": st.column_config.NumberColumn("Median seconds to decide", format="%.0f")})
        st.caption(f"Automation bias (AI Act Art. 14(4)(b)): {rule()}.")
