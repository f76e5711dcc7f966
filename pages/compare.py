"""Compare: methods x frames on one colour scale, where they agree, how far to trust each."""

import numpy as np
import streamlit as st

from crnnaudit import CrnnauditError, render, trust
from crnnaudit.ui import auth, loaders, widgets
from crnnaudit.ui.session import Review

who = auth.require_page("compare")

st.title("Compare explanations")
review = Review.current()
model, clip, window, es = widgets.require_explanation()
spatial = es.spatial()
if not spatial:
    st.info("Ask for at least one spatial method on the Review page.")
    st.stop()
top = list(np.argsort(-es[es.ranking()].frame_scores, kind="stable")[:4])
frames = st.multiselect("Frames (default: the frames that contribute most)", list(range(window.length)),
                        sorted(int(t) for t in top), key="compare_frames",
                        format_func=lambda t: f"frame {int(window.indices[t])}")
style = widgets.current_style()
st.caption(f"Colours: {style.cmap}, {render.SCALINGS[style.scaling]} (the Review page's settings; each map "
           "carries its colour bar with the values it spans).")


def grid(expset, win, label: str = "", of=None) -> None:
    """Methods x the chosen frames, in the one style; beside each method, its evidence on this
    window (deleting its top 20% against deleting 20% at random)."""
    for m in expset.spatial():
        cols = st.columns(max(1, len(frames)) + 1)
        cols[0].markdown(f"**{label}{m}**")
        with cols[0]:
            widgets.method_evidence(of or model, win, expset, [m], compact=True)
        for col, t in zip(cols[1:], frames):
            if t < win.length:
                src = loaders.cached_frame(str(clip.path), clip.sha256, int(win.indices[t]))
                col.image(render.show_map(src, expset[m].maps, t, style, shown=frames),
                          caption=f"frame {int(win.indices[t])}", width="stretch")


grid(es, window)

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

st.subheader("How far to trust each method")
c1, c2 = st.columns(2)
if c1.button("Faithfulness (deletion / insertion)", key="faith"):
    review.faithfulness = widgets.with_progress(
        "re-running the model on masked frames, method", key="faith_work",
        work=lambda progress: trust.faithfulness_table(model, window, es, progress=progress))
if c2.button("Sanity check (randomise the model)", key="sanity"):
    try:
        review.sanity = widgets.with_progress(
            "randomising a copy of the model layer by layer, stage", key="sanity_work",
            work=lambda progress: trust.sanity_randomisation(model, window, spatial, checkpoints=3,
                                                               progress=progress))
    except CrnnauditError as e:
        st.error(str(e))
if review.faithfulness is not None:
    st.dataframe(review.faithfulness, hide_index=True, key="faith_table")
if review.sanity is not None:
    s = review.sanity
    for m, sim in s["final_similarity"].items():
        (st.error if s["flagged"].get(m) else st.success)(
            f"{m}: similarity to the trained model's maps after full randomisation {sim:.2f}"
            + (" — barely changed: these maps may not depend on the model" if s["flagged"].get(m) else ""))

st.subheader("Model A vs model B")
other = widgets.model_picker("Model B (same clip, same window)", key="model_b")
if other:
    try:
        model_b = loaders.model_for(other)
        wb = clip.window(window.index, model_b.window_length, model_b.card.stride, model_b.frame_size)
        methods_b = [m for m in spatial if m in widgets.available_methods(model_b)]
        es_b = widgets.explain_with_progress(model_b, wb, methods_b, "explaining model B")
        grid(es, window, "A · ")
        grid(es_b, wb, "B · ", of=model_b)
    except CrnnauditError as e:
        st.error(str(e))
