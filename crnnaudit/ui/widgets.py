"""Widgets shared by the pages: clip picker, timeline, the explanation in hand."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import streamlit as st

from ..errors import CrnnauditError
from .. import explainers, render
from ..explainers import DEFAULT_METHODS
from ..vocabulary import VIDEO_SUFFIXES
from . import loaders, model_choice, uploads
from .session import HeldExplanation, Review, bound


def clip_picker() -> None:
    """Pick a sample clip or upload one. Every choice goes through the review (the widgets
    show its state, and write back only through their callbacks); a refused upload is deleted,
    named as the user named it, and leaves no clip on screen."""
    review = Review.current()
    samples = loaders.sample_clips()
    by_name = {p.name: p for p in samples}
    on_sample = review.clip_path is None or Path(review.clip_path).name in by_name
    kinds = ["Sample clip", "Upload"]
    if "clip_source" not in st.session_state:  # which tab is open is the user's, not the review's
        st.session_state["clip_source"] = kinds[0] if on_sample and not review.refused_upload else kinds[1]
    st.radio("Clip", kinds, horizontal=True, key="clip_source")
    if st.session_state["clip_source"] == "Sample clip" and samples:
        if review.clip_path is None:
            review.use_clip(str(samples[0]))
        current = Path(review.clip_path).name
        st.selectbox("Sample clip", list(by_name), placeholder="(the clip under review is an upload)",
                     key=bound("sample_choice", current if current in by_name else None),
                     on_change=lambda: review.use_clip(str(by_name[st.session_state["sample_choice"]])))
    elif st.session_state["clip_source"] == "Upload":
        kinds_text = ", ".join(s[1:].upper() for s in VIDEO_SUFFIXES)
        up = st.file_uploader(f"Video ({kinds_text}; at most {uploads.upload_limit_mb()} MB)",
                              type=[s[1:] for s in VIDEO_SUFFIXES], key="clip_upload",
                              max_upload_size=uploads.upload_limit_mb())
        if up is not None and up.file_id != st.session_state.get("clip_upload_done"):
            st.session_state["clip_upload_done"] = up.file_id  # each upload is taken once
            _take_upload(review, up)
        if review.refused_upload:
            st.error(review.refused_upload)


def _take_upload(review: Review, up) -> None:
    saved = None
    try:
        saved = uploads.save_upload(up, "video", VIDEO_SUFFIXES)
        loaders.clip_for(saved)  # probe now: a bad file fails here
        review.use_clip(str(saved), shown_name=str(up.name))
    except CrnnauditError as e:
        if saved is not None and str(saved) != review.clip_path:
            saved.unlink(missing_ok=True)  # the rejected file does not stay in uploads/
        review.refuse_upload(uploads.as_the_user_sees(str(e), saved, str(up.name)))


def timeline_for(model, clip):
    """The clip's timeline under the session's model and card; errors shown, not raised."""
    review = Review.current()
    digest = hashlib.sha256(json.dumps(model.card.to_dict(), sort_keys=True, default=str).encode()).hexdigest()
    try:
        return loaders.timeline(model, clip, digest, review.clip_name or clip.name)
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
    review = Review.current()
    held = review.explanation_for(model, clip)
    if held is None:
        st.info(hint)
        st.stop()
    w = held.window
    st.caption(f"{review.clip_name or clip.name} · window {w.index} (frames {int(w.indices[0])}-{int(w.indices[-1])}, "
               f"{w.times[0]:.2f}-{w.times[-1]:.2f} s) · explained class {held.expset.target_name} · "
               f"methods {', '.join(held.expset)}")
    return model, clip, held.window, held.expset


def run_explanation(model, clip, k: int, methods, target=None) -> HeldExplanation | None:
    """Explain window ``k`` and hold the result in the session's review."""
    try:
        held = loaders.explain_window(model, clip, k, methods, target=target)
    except CrnnauditError as e:
        st.error(str(e))
        return None
    Review.current().hold(held)
    from .. import trust
    with st.spinner("measuring each map against random deletion (the verdict shown beside it)"):
        try:
            trust.verdicts(model, held.window, held.expset)  # kept by content: the pages read it at once
        except CrnnauditError as e:
            st.error(str(e))
    return held


def method_evidence(model, window, expset, methods=None, compact: bool = False) -> dict:
    """Each method's evidence on this window (deleting what it ranks first against deleting as
    much at random, :func:`crnnaudit.trust.verdict.verdicts`), shown as a verdict beside its map:
    green when it beats random, red with "do not rely on it" when it does not. Computed once per
    content; the report reuses it."""
    from .. import trust
    from ..trust.verdict import signed
    try:
        with st.spinner("measuring each map against random deletion"):
            figures = trust.verdicts(model, window, expset)
    except CrnnauditError as e:
        st.error(str(e))
        return {}
    for m in (methods or list(figures)):
        e = figures.get(m)
        if e is None:
            continue
        text = e["verdict"]
        if compact:
            text = ("beats random: " if e["better_than_random"] else "no better than random: do not rely on it; ") + \
                f"top {e['fraction']:.0%} deleted {signed(-e['drop'])}, random " \
                f"{signed(-sum(e['random_drops']) / len(e['random_drops']))}"
        (st.success if e["better_than_random"] else st.error)(text, icon=":material/check:" if e["better_than_random"]
                                                               else ":material/warning:")
    return figures


def counterfactual(model, window, expset, method=None) -> dict | None:
    """What would have changed the outcome (:func:`crnnaudit.trust.counterfactual.for_window`),
    verified, in words; computed once per content (the report reuses it)."""
    from ..trust import counterfactual as cf
    try:
        with st.spinner("searching for the smallest set of frames that changes the outcome"):
            found = cf.for_window(model, window, expset, method if method in expset.spatial() else None)
    except CrnnauditError as e:
        st.error(str(e))
        return None
    t, region = found["temporal"], found["region"]
    (st.info if t.found else st.caption)(f"**What would have changed the outcome.** {t.statement}",
                                         **({"icon": ":material/content_cut:"} if t.found else {}))
    if t.found:
        st.caption(region.statement)
    return found


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


def map_controls(spatial: list[str]):
    """The map settings every page shares (method, view, opacity, colour map, scaling): one
    set of widgets, one :class:`~crnnaudit.render.MapStyle`. Returns ``(style, method)``."""
    c1, c2, c3, c4, c5 = st.columns([2, 3, 2, 2, 2])
    method = c1.selectbox("Overlay", spatial, key="overlay_method")
    view = c2.radio("View", list(render.VIEWS), horizontal=True, key="view",
                    format_func=lambda v: v.replace("_", " "))
    alpha = c3.slider("Opacity", 0.0, 1.0, render.MapStyle.alpha, 0.05, key="alpha")
    cmaps = list(render.SAFE_COLORMAPS) + ["jet", "turbo"]
    cmap = c4.selectbox("Colours", cmaps, key="cmap",
                        format_func=lambda c: c if c in render.SAFE_COLORMAPS else f"{c} (not colour-blind safe)")
    scaling = c5.selectbox("Scale", list(render.SCALINGS), key="scaling",
                           format_func=lambda k: render.SCALINGS[k].split(":")[0])
    return render.MapStyle(cmap=cmap, alpha=alpha, scaling=scaling, view=view), method


def current_style():
    """The map style the Review page has on screen (its defaults before any is chosen)."""
    view = Review.current().view or {}
    return render.MapStyle.from_dict(view)


def model_picker(label: str, key: str) -> str | None:
    """A model from where models may come: the models folders (CRNNAUDIT_MODELS_DIR) or an
    admin's upload. Never a typed path."""
    choices = [str(p) for p in model_choice.model_choices(with_uploads=True)]
    return st.selectbox(label, choices, index=None, key=key, placeholder="choose a model",
                        format_func=lambda p: Path(p).name)


def explain_with_progress(model, window, methods, text: str):
    """An explanation with a progress bar (cached by content, so a repeat is instant)."""
    bar = st.progress(0.0, text=text)
    try:
        return explainers.explain(model, window, methods, progress=lambda d, t: bar.progress(
            min(1.0, d / max(t, 1)), text=f"{text}: {d} of {t}"))
    finally:
        bar.empty()


def report_evidence(report_id: str) -> None:
    """What an approver looks at before countersigning: the stored report's decision and
    reasons, the window's key frames with the maps its author saw, the figures and warnings.

    Raises:
        CrnnauditError: the report is missing, or its file does not verify.
    """
    import base64
    from ..config import home
    from ..errors import ReportError
    from ..evidence.signing import verify_file
    path = home() / "reports" / str(report_id) / "report.json"
    if not path.is_file():
        raise ReportError(f"report {report_id}: its file is not under the data folder")
    check = verify_file(path)
    (st.caption if check["ok"] else st.error)(f"Report file: {check['message']}")
    body = json.loads(path.read_text(encoding="utf-8"))["report"]
    out, view = body["output"], body.get("view") or {}
    st.write(f"Window {out['window']} · the model said **{out['model_decision']}** (score "
             f"{out['anomaly_score']:.3f}, threshold {out['threshold']:.2f}) · explained class "
             f"{out['explained_class']}" + (f" · frames {view['frames'][0]}-{view['frames'][1]}" if view else ""))
    for frame in body.get("key_frames", []):
        cols = st.columns(len(frame["images"]))
        for col, (name, b64) in zip(cols, frame["images"].items()):
            col.image(base64.b64decode(b64), caption=f"frame {frame['frame']} · {name}", width="stretch")
    for line in body.get("trust", {}).get("reading", []):
        (st.warning if line.startswith("WARNING") else st.caption)(line)
    for warning in body.get("clip", {}).get("warnings", []):
        st.warning(warning)


def with_progress(text: str, work, key: str):
    """Run ``work(progress)`` under a progress bar with a Cancel button beside it: a click
    interrupts the run at its next step (Streamlit stops a script when a widget asks for a
    rerun), and the page says so. Returns the result, or None when cancelled."""
    if st.session_state.pop(f"{key}_cancelled", False):
        st.info(f"{text[0].upper()}{text[1:]}: cancelled; nothing was kept.")
    bar_col, button_col = st.columns([5, 1])
    bar = bar_col.progress(0.0, text=text)
    button_col.button("Cancel", key=f"{key}_cancel", on_click=st.session_state.__setitem__,
                      args=(f"{key}_cancelled", True))
    def progress(done: int, total: int, what: str | None = None) -> None:
        bar.progress(min(1.0, done / max(total, 1)), text=f"{text}: {what or f'{done} of {total}'}")
    try:
        return work(progress)
    finally:
        bar.empty()
        button_col.empty()
