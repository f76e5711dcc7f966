"""The long work of a review, each a step of the session: the counterfactual of the window on
screen, and the report of what the reviewer decided. Each reports its progress section by
section (``progress(done, total, what)``) and changes the review only once it has finished."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable


def counterfactual(session, progress: Callable | None = None) -> dict:
    """What would have changed the outcome of the window on screen (frames, then the region of
    the overlay's map), verified; computed once per content and held by the review."""
    from ..trust import counterfactual as cf
    s = session.state
    if s.counterfactual is not None:
        return s.counterfactual
    held = s.held
    if progress:
        progress(0, 1, "the smallest set of frames, then the region")
    found = cf.for_window(session.model(), held.window, held.expset, s.overlay)
    session.hold_figures(counterfactual=found)
    if progress:
        progress(1, 1, "done")
    return found


def view_of(state) -> dict:
    """The map settings the reviewer had on screen, as the report records them."""
    held = state.held
    return dict(state.style.as_dict(), method=state.overlay, frame=int(held.window.indices[state.frame]))


def registry_pin(session) -> dict | None:
    """The registry pin of the model under review as this review made it (``None``: not from a
    registry). The server loads a pinned file once and shares it between reviews, so the loaded
    model's own pin says when its first reviewer pinned it; this one says when this review did."""
    model = session.model()
    if model is None or not model.registry:
        return None
    at = session.state.model_pinned_at
    return dict(model.registry, pinned_at=at) if at else dict(model.registry)


def build_report(session, progress: Callable | None = None, out=None) -> dict:
    """Build, sign, write and log the report of the window on screen with the reviewer's draft;
    the review then holds it (its id, files, hashes and log row). ``progress`` is told each
    section as it starts, and the last step (rendering, signing, logging). ``out``: the folder
    for the files (default: the data folder's ``reports/<id>``)."""
    from ..config import home, setting
    from ..report import build_report as build, write_report
    from ..report.facts import person
    s = session.state
    held, draft, who = s.held, s.draft, session.identity
    sections = 5  # the build's own four steps, then the files

    def step(i, n, what):
        if progress:
            progress(i, sections, f"section {i + 1} of {sections}: {what}")
    body = build(session.model(), session.clip(), held.window, held.expset, decision=draft.decision,
                 reviewer=who.username, reason=draft.reason, timeline=session.timeline(),
                 blur=draft.blur, faithfulness=draft.checks, sanity=draft.checks, reviewer_person=person(who),
                 language=draft.language or setting("CRNNAUDIT_REPORT_LANGUAGE"),
                 view=view_of(s), shown_name=s.clip_name,
                 shown_at=datetime.fromtimestamp(s.shown_at, timezone.utc) if s.shown_at else None, progress=step,
                 registry=registry_pin(session))
    if progress:
        progress(sections - 1, sections, f"section {sections} of {sections}: rendering, signing and logging "
                                         "HTML, PDF and JSON")
    out = write_report(body, out or home() / "reports" / body["report_id"])
    report = {"report_id": body["report_id"], "window": held.window.index, "log_row": out["log_row"],
              "files": {k: str(out[k]) for k in ("html", "pdf", "json")}, "sha256": dict(out["sha256"]),
              "body": body}
    session.hold_report(report)
    if progress:
        progress(sections, sections, "done")
    return report


class Steps:
    """``progress(done, total, what)`` over a piece of work made of steps, the engine's own
    progress within a step counted as a share of it."""

    def __init__(self, progress: Callable | None, total: int):
        self.progress, self.total = progress, total

    def at(self, done: float, what: str) -> None:
        if self.progress:
            self.progress(done, self.total, what)

    def within(self, what: str, span: int) -> Callable:
        def inner(done, total, *_):
            self.at(span * done / max(total, 1), f"{what}: {done} of {total}")
        return inner
