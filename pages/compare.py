"""Compare: methods x frames on one colour scale, where they agree, how far to trust each."""

import numpy as np
import streamlit as st

from crnnaudit import CrnnauditError, explain, metrics, render
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
shared = st.toggle("One colour scale per method across the grid", value=True, key="shared_scale")
for m in spatial:
    maps = es[m].maps
    lo, hi = (float(maps[frames].min()), float(maps[frames].max())) if frames and shared else (None, None)
    cols = st.columns(max(1, len(frames)) + 1)
    cols[0].markdown(f"**{m}**")
    for col, t in zip(cols[1:], frames):
        src = loaders.cached_frame(str(clip.path), clip.sha256, int(window.indices[t]))
        col.image(render.overlay(src, maps[t], 0.6, vmin=lo, vmax=hi), caption=f"frame {int(window.indices[t])}",
                  width="stretch")
st.image(render.heatmap(np.linspace(0, 1, 256)[None].repeat(12, 0)), caption="low → high (per method)",
         width=300)

st.subheader("Where the methods agree")
agree = metrics.agreement(es)
if len(agree):
    if frames:
        agree = agree[agree["frame"].isin(frames)]
    st.dataframe(agree.assign(frame=[int(window.indices[t]) for t in agree["frame"]]), hide_index=True,
                 width="stretch")
    st.caption("Spearman: rank correlation of two maps (1 = same ordering). top-k IoU: overlap of their "
               "top 10 % pixels. Low values mark frames where the methods disagree: look closer there.")

st.subheader("How far to trust each method")
c1, c2 = st.columns(2)
if c1.button("Faithfulness (deletion / insertion)", key="faith"):
    with st.spinner("re-running the model on masked frames…"):
        review.faithfulness = metrics.faithfulness_table(model, window, es)
if c2.button("Sanity check (randomise the model)", key="sanity"):
    try:
        with st.spinner("randomising a copy of the model layer by layer…"):
            review.sanity = metrics.sanity_randomisation(model, window, spatial, checkpoints=3)
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
other = st.text_input("Path of a second model (same clip, same window)", key="model_b")
if other:
    try:
        model_b = loaders.model_for(other)
        wb = clip.window(window.index, model_b.window_length, model_b.card.stride, model_b.frame_size)
        es_b = explain(model_b, wb, [m for m in spatial if m in widgets.available_methods(model_b)])
        for m in es_b:
            cols = st.columns(max(1, len(frames)) + 1)
            cols[0].markdown(f"**B · {m}**")
            maps = es_b[m].maps
            for col, t in zip(cols[1:], frames):
                if t < wb.length:
                    src = loaders.cached_frame(str(clip.path), clip.sha256, int(wb.indices[t]))
                    col.image(render.overlay(src, maps[t], 0.6, vmin=float(maps.min()), vmax=float(maps.max())),
                              width="stretch")
    except CrnnauditError as e:
        st.error(str(e))
