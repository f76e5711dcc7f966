"""The review of this browser session, in Streamlit: one :class:`~crnnaudit.review.ReviewSession`
per session, over one :class:`~crnnaudit.review.World` per server (its caches shared by every
session). Widgets show the review's state (:func:`bound`) and change it only through
:func:`send`, which runs one transition and keeps its refusal for the page to show."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..config import home, samples_dir
from ..errors import CrnnauditError
from ..review import ReviewSession, World

_KEY = "review"
_REFUSED = "review_refused"


@st.cache_resource(show_spinner=False, max_entries=8)
def _world(default_model: str, samples: str, data_folder: str) -> World:
    del data_folder  # part of the key: another data folder, another world
    return World(default_model=default_model, samples=samples)


def world() -> World:
    """The server's world for the configured model, samples and data folder."""
    from .model_choice import configured_model
    return _world(configured_model(), str(samples_dir()), str(home()))


def current(identity=None) -> ReviewSession:
    """This browser session's review, started for ``identity`` on first use, and told the
    account's current role on every page (a review of another account is never shown)."""
    _run_number()  # every run counts, so a widget knows whether the last run drew it
    review = st.session_state.get(_KEY)
    if review is None or review.world is not world():
        review = ReviewSession(world())
        st.session_state[_KEY] = review
    if identity is not None:
        if review.identity is None or review.identity.username != identity.username:
            review.sign_in(identity)
        elif review.identity.role != identity.role:
            review.refresh_identity(identity)
    return review


def end() -> None:
    """Sign-out: the review goes with the session."""
    review = st.session_state.pop(_KEY, None)
    if review is not None:
        review.sign_out()


_RUN, _MARK, _DRAWN, _ENDED = "ui_run", "ui_run_marker", "ui_drawn", "ui_run_ended"


def _run_number() -> int:
    """This script run's number (a fragment's rerun keeps the page's)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    marker = id(ctx.cursors) if ctx is not None else None  # a new dict for every run
    if ctx is not None and not ctx.fragment_ids_this_run and st.session_state.get(_MARK) != marker:
        st.session_state[_MARK] = marker
        st.session_state[_RUN] = st.session_state.get(_RUN, 0) + 1
    return st.session_state.get(_RUN, 0)


def _in_fragment_rerun() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def shown_last_run(key: str) -> bool:
    """Whether the widget ``key`` is on the reviewer's screen from the run before this one: drawn
    in the previous run of the page, or, in a fragment's rerun, in this page run (a fragment's
    rerun keeps the page's run number, and its widgets stay on screen)."""
    drawn, run = st.session_state.get(_DRAWN, {}).get(key), st.session_state.get(_RUN, 0)
    return drawn == (run if _in_fragment_rerun() else run - 1)


def bound(key: str, value, options: list | None = None, param: str = "value") -> dict:
    """The arguments that make the widget ``key`` show ``value`` (the review's), whatever the
    browser held: the review is the one source, and a widget never keeps its own copy. Use as
    ``st.slider(..., **bound("frame_slider", frame))``, with no value of the widget's own; it
    writes back only through :func:`from_widget`.

    A widget whose value the review has changed gets ``value`` through Session State, which orders
    the browser to show it. Every other gets ``value`` as its default: one the last run did not draw
    (another page, no clip, no explanation) is drawn anew from it, and one the last run drew, already
    showing ``value``, is not ordered (a keystroke or a drag still on its way is not undone; an order
    sent on every run lost the keyboard test's second arrow). Its default must be ``value`` too, not
    the widget's own (the range's first value, an empty list): a browser that holds no value for it
    (the run that drew it cut short before it arrived) shows the default, which is how the CI walk saw
    the Window box read 0 under window 4. ``tests/app/test_bound_widgets.py`` reads what each run sends.

    Args:
        options: the choices of a select box or radio (its default is an ``index``); a value that
            is none of them (a clip that is not a sample) shows the placeholder, not the first.
        param: the widget's own name for its default (``default`` for a multiselect).
    """
    drawn = shown_last_run(key)
    st.session_state.setdefault(_DRAWN, {})[key] = _run_number()
    if options is not None and value not in options:
        value = None
    if drawn and st.session_state.get(key) != value:
        st.session_state[key] = value
        return {"key": key, "index": None} if options is not None and value is None else {"key": key}
    if not drawn:
        st.session_state.pop(key, None)
    if options is not None:
        return {"key": key, "index": None if value is None else options.index(value)}
    return {"key": key, param: value}


def send(transition, *args, **kwargs) -> None:
    """Run one transition of the review (a widget's ``on_change``); a refusal leaves the review
    as it was and is shown at the top of the page (:func:`show_refusal`)."""
    try:
        transition(*args, **kwargs)
    except CrnnauditError as e:
        st.session_state[_REFUSED] = str(e)


def from_widget(key: str, transition, convert=lambda v: v):
    """An ``on_change`` that sends the widget's new value to ``transition``: only a widget on the
    reviewer's screen can have been changed by the reviewer, one drawn by the last run that reached
    its end (:func:`run_end_marker`) or by a run after it, cut short by the click (its elements stay on
    screen until a run ends). A widget the page did not show, whose browser copy came back with a
    default, changes nothing."""
    def changed():
        drawn, ended = st.session_state.get(_DRAWN, {}).get(key), st.session_state.get(_ENDED, {}).get("run")
        if drawn is not None and drawn >= (st.session_state.get(_RUN, 0) if ended is None else ended):
            send(transition, convert(st.session_state[key]))
    return changed


def run_end_marker():
    """Called before the page runs; what it returns is called when the page's script ran to its
    end or stopped itself (``st.stop``), not cut short by another rerun: what that run drew is the
    reviewer's screen (:func:`from_widget`). It touches no Streamlit call (Session State cannot be
    read once the script is stopping) and fills in place a record the session already holds."""
    run, ended = _run_number(), st.session_state.setdefault(_ENDED, {"run": None})
    return lambda: ended.__setitem__("run", run)


def show_refusal() -> None:
    message = st.session_state.pop(_REFUSED, None)
    if message:
        st.error(message, icon=":material/block:")


def sample_names() -> list[str]:
    return [Path(p).name for p in world().samples()]
