"""The Compare page: methods x frames on one colour scale, where they agree, how far to trust
each, and model B beside model A."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import render, trust
from ..errors import CrnnauditError
from . import session, widgets


def compare(who) -> None:
    """The page below its title."""
    review = session.current(who)
    session.show_refusal()
    held = widgets.require_explanation(review)
    model, clip, window, es = review.model(), review.clip(), held.window, held.expset
    spatial = es.spatial()
    if not spatial:
        st.info("Ask for at least one spatial method on the Review page.")
        st.stop()
    top = list(np.argsort(-es[es.ranking()].frame_scores, kind="stable")[:4]) if es.ranking() else list(range(4))
    frames = st.multiselect("Frames (default: the frames that contribute most)", list(range(window.length)),
                            sorted(int(t) for t in top if t < window.length), key="compare_frames",
                            format_func=lambda t: f"frame {int(window.indices[t])}")
    style = review.state.style
    st.caption(f"Colours: {style.cmap}, {render.SCALINGS[style.scaling]} (the Review page's settings; each map "
               "carries its colour bar with the values it spans).")
    grid(review, frames, es, window, held.verdicts)

    st.subheader("Where the methods agree")
    agree = trust.agreement_table(es)
    if len(agree):
        if frames:
            agree = agree[agree["frame"].isin(frames)]
        st.dataframe(agree.assign(frame=[int(window.indices[t]) for t in agree["frame"]]), hide_index=True,
                     width="stretch", column_config={
                         "frame": st.column_config.NumberColumn("Frame"),
                         "method_a": st.column_config.TextColumn("Method"), "method_b": st.column_config.TextColumn("and"),
                         "spearman": st.column_config.NumberColumn("Rank correlation (Spearman)", format="%.2f"),
                         "topk_iou": st.column_config.NumberColumn("Overlap of their top 10% (IoU)", format="%.2f")})
        st.caption("Spearman: rank correlation of two maps (1 = same ordering). top-k IoU: overlap of their "
                   "top 10 % pixels. Low values mark frames where the methods disagree: look closer there.")

    _trust(review, model, window, es, spatial)
    _model_b(review, frames, clip, window, es, spatial, held)


def grid(review, frames, expset, win, verdicts, label: str = "") -> None:
    """Methods x the chosen frames, in the one style; beside each method, its verdict on this
    window (deleting its top 20% against deleting 20% at random)."""
    clip, style = review.clip(), review.state.style
    for m in expset.spatial():
        cols = st.columns(max(1, len(frames)) + 1)
        cols[0].markdown(f"**{label}{m}**")
        with cols[0]:
            widgets.verdict_line(verdicts.get(m), compact=True)
        for col, t in zip(cols[1:], frames):
            if t < win.length:
                src = widgets.cached_frame(clip.path, clip.sha256, int(win.indices[t]), clip.model_rate)
                col.image(render.show_map(src, expset[m].maps, t, style, shown=frames),
                          caption=f"frame {int(win.indices[t])}", width="stretch",
                          alt=f"{label}{m} map of frame {int(win.indices[t])} of window {win.index}")




def _trust(review, model, window, es, spatial) -> None:
    st.subheader("How far to trust each method")
    c1, c2 = st.columns(2)
    about = widgets.explained(review.state)  # the figures are of this explanation, or not made
    rows = widgets.asked_work(
        "Faithfulness (deletion / insertion)", "faith", about, "re-running the model on masked frames",
        lambda progress, cancel: trust.faithfulness_table(model, window, es, progress=progress), unit="method",
        where=c1)
    if rows is not None:
        session.send(review.hold_figures, faithfulness=rows)
    figures = widgets.asked_work(
        "Sanity check (randomise the model)", "sanity", about, "randomising a copy of the model layer by layer",
        lambda progress, cancel: trust.sanity_randomisation(model, window, spatial, checkpoints=3, progress=progress),
        unit="stage", where=c2)
    if figures is not None:
        session.send(review.hold_figures, sanity=figures)
    s = review.state
    if s.faithfulness is not None:
        st.dataframe(list(s.faithfulness), hide_index=True, key="faith_table")
    if s.sanity is not None:
        for m, sim in s.sanity["final_similarity"].items():
            (st.error if s.sanity["flagged"].get(m) else st.success)(
                f"{m}: similarity to the trained model's maps after full randomisation {sim:.2f}"
                + (" — barely changed: these maps may not depend on the model" if s.sanity["flagged"].get(m) else ""))



def _model_b(review, frames, clip, window, es, spatial, held) -> None:
    st.subheader("Model A vs model B")
    try:
        other = widgets.model_picker("Model B (same clip, same window)", key="model_b")
    except CrnnauditError as e:  # a registered model that does not resolve
        st.error(str(e))
        return
    if other:
        try:
            world = review.world
            model_b = world.model(other)
            wb = model_b.sampled(clip).window(window.index, model_b.window_length, model_b.card.stride,
                                              model_b.frame_size)
            from crnnaudit.explainers.base import available_methods
            methods_b = [m for m in spatial if m in available_methods(model_b)]
            es_b = widgets.run_with_progress("explaining model B", key="model_b_work", unit="method",
                                             work=lambda progress: world.explain(model_b, wb, methods_b, progress=progress))
            if es_b is not None:
                grid(review, frames, es, window, held.verdicts, "A · ")
                grid(review, frames, es_b, wb, world.verdicts(model_b, wb, es_b), "B · ")
        except CrnnauditError as e:
            st.error(str(e))
