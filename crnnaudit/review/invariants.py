"""What must hold after every transition of a review, and the screen every page draws.

:func:`violations` lists what is wrong with a state (an empty list: nothing); :func:`check`
raises on any. The pages draw :func:`screen_of` and nothing else, so the checks on the state
are checks on what the auditor sees: the announced window is the Window box, the timeline's
shading, the explained window and the report's window; the Overlay selector is the method under
the map and the method of its verdict; the frame caption is the slider; the clip named is the
clip explained; nothing of another account's review is held; a registry pin's time is held
exactly when the model is a registry version. The session runs the checks with the model and
clip the checked state names (not those of the state it replaces).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ReviewError


@dataclass(frozen=True)
class Screen:
    """What the pages show, each value once (a page never computes its own).

    Attributes:
        account, role: who is signed in.
        clip_name, clip_sha256, refused: the clip under review (or why an upload was refused).
        window: the announced window; the Window box and the timeline's shading show it too.
        first_frame, last_frame, start_s, end_s: where it lies in the clip.
        explained_window: the window the explanation on screen is of (``None``: nothing explained).
        frame: the scrubber's position; frame_number, frame_time: the frame the caption names.
        overlay: the method on the map, its caption and its verdict; verdict: that verdict.
        methods, target: what the next explanation computes; target_name: what was explained.
        report_window: the window of the report on screen (``None``: none written yet).
    """

    account: str | None = None
    role: str | None = None
    clip_name: str | None = None
    clip_sha256: str | None = None
    refused: str | None = None
    window: int | None = None
    first_frame: int | None = None
    last_frame: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    explained_window: int | None = None
    frame: int = 0
    frame_number: int | None = None
    frame_time: float | None = None
    overlay: str | None = None
    verdict: dict | None = None
    methods: tuple[str, ...] = ()
    target: str | None = None
    target_name: str | None = None
    report_window: int | None = None


def screen_of(state, session) -> Screen:
    """The screen a state draws (reads the cached timeline; computes nothing new)."""
    s = state
    if s.account is None:
        return Screen()
    clip = session.clip() if s.clip_path else None
    out = dict(account=s.account, role=s.role, clip_name=s.clip_name, refused=s.refused, frame=s.frame,
               clip_sha256=clip.sha256 if clip else None, methods=s.methods, target=s.target, overlay=s.overlay)
    if s.window is not None:
        row = session.timeline().table.loc[s.window]
        out.update(window=s.window, first_frame=int(row["first_frame"]), last_frame=int(row["last_frame"]),
                   start_s=float(row["start_s"]), end_s=float(row["end_s"]))
    if s.held is not None:
        w = s.held.window
        out.update(explained_window=w.index, frame_number=int(w.indices[s.frame]),
                   frame_time=float(w.times[s.frame]), target_name=s.held.expset.target_name,
                   verdict=s.held.verdicts.get(s.overlay) if s.overlay else None)
    if s.report is not None:
        out["report_window"] = s.report.get("window")
    return Screen(**out)


def violations(state, session) -> list[str]:
    """Everything wrong with ``state`` under ``session``'s world (empty: it may be shown)."""
    s, bad = state, []
    if s.account is None:
        held = [k for k in ("clip_path", "window", "held", "report", "faithfulness", "sanity", "counterfactual")
                if getattr(s, k) is not None]
        return [f"signed out but still holding {held}"] if held else []
    if s.refused is not None and s.clip_path is not None:
        bad.append("an upload was refused but a clip is still on screen under its name")
    if s.clip_path is None:
        if s.window is not None or s.held is not None:
            bad.append("a window or an explanation without a clip")
        return bad
    clip, model = session.clip(), session.model()
    if (s.model_pinned_at is None) != (model.registry is None):
        bad.append("the model is a registry version but the review holds no time it pinned it" if model.registry
                   else "the review holds a registry pin's time for a model that is no registry version")
    if s.window is not None:
        n = clip.window_count(model.window_length, model.card.stride)
        if not 0 <= s.window < n:
            bad.append(f"window {s.window} is not one of the clip's {n} windows")
        if not 0 <= s.frame < model.window_length:
            bad.append(f"frame position {s.frame} is outside the window (0 to {model.window_length - 1})")
        if s.shown_at is None:
            bad.append("a window on screen with no time it was shown")
        if s.opening is not None:
            bad.append("a window on screen and another still waiting to open")
    elif s.held is not None or s.draft.reason or s.report is not None:
        bad.append("an explanation, a draft or a report with no window on screen")
    bad += _held_matches(s, model, clip)
    bad += _overlay_matches(s)
    for figure in ("faithfulness", "sanity", "counterfactual", "report"):
        if getattr(s, figure) is not None and s.held is None:
            bad.append(f"{figure} figures with no explanation on screen")
    if s.report is not None and s.report.get("window") != s.window:
        bad.append(f"the report on screen is of window {s.report.get('window')}, the screen shows {s.window}")
    return bad


def _held_matches(s, model, clip) -> list[str]:
    h = s.held
    if h is None:
        return []
    bad = []
    if h.model_sha256 != model.sha256:
        bad.append("the explanation is of another model")
    if h.clip_sha256 != clip.sha256 or h.window.clip_sha256 != clip.sha256:
        bad.append(f"the explanation is of another clip than {s.clip_name}")
    if h.window.index != s.window:
        bad.append(f"the explanation is of window {h.window.index}, the screen announces window {s.window}")
    if tuple(h.methods) != tuple(s.methods) or list(h.expset) != list(h.methods):
        bad.append(f"the explanation holds {list(h.expset)}, the methods chosen are {list(s.methods)}")
    if h.target != s.target:
        bad.append(f"the explanation is of class {h.target!r}, the class chosen is {s.target!r}")
    if not 0 <= s.frame < h.window.length:
        bad.append(f"frame position {s.frame} is outside the explained window")
    return bad


def _overlay_matches(s) -> list[str]:
    offered = s.maps_offered()
    if s.overlay is None:
        return [f"maps of {offered} on screen but no overlay chosen"] if offered and s.held is not None else []
    if s.overlay not in offered:
        return [f"the overlay {s.overlay!r} is not among the maps on screen ({offered})"]
    if s.held is not None and s.held.verdicts and s.overlay not in s.held.verdicts:
        return [f"the map of {s.overlay!r} has no verdict of its own"]
    return []


def check(state, session) -> None:
    """Raise :class:`~crnnaudit.errors.ReviewError` naming every violation of ``state``."""
    bad = violations(state, session)
    if bad:
        raise ReviewError("the review would show a contradiction, so it was left as it was: " + "; ".join(bad))
