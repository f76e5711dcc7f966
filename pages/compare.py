"""Compare: methods x frames on one colour scale, where they agree, how far to trust each."""

import numpy as np
import streamlit as st

from crnnaudit import CrnnauditError, metrics, render
from crnnaudit.ui import state, widgets

st.title("Compare explanations")
model, clip, window, es = widgets.require_explanation()
spatial = [m for m, e in es.items() if e.maps is not None]
temporal = [m for m, e in es.items() if e.maps is None and m != "prefix_score"]
if not spatial:
    st.info("Ask for at least one spatial method on the Review page.")
    st.stop()
rank_by = temporal[0] if temporal else spatial[0]
top = list(np.argsort(-es[rank_by].frame_scores, kind="stable")[:4])
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
        src = state.cached_frame(str(clip.path), clip.sha256, int(window.indices[t]))
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
    rows = []
    with st.spinner("re-running the model on masked frames…"):
        for m in spatial:
            f = metrics.deletion_insertion(model, window, es[m].maps, es.target, steps=5)
            rows.append({"method": m, "deletion AUC (lower is better)": f["deletion_auc"],
                         "insertion AUC (higher is better)": f["insertion_auc"]})
        for m in temporal:
            f = metrics.temporal_deletion(model, window, es[m].frame_scores, es.target)
            rows.append({"method": m, "deletion AUC (lower is better)": f["deletion_auc"],
                         "random order AUC": f["random_auc"]})
    st.session_state["faith_rows"] = rows
if c2.button("Sanity check (randomise the model)", key="sanity"):
    try:
        with st.spinner("randomising a copy of the model layer by layer…"):
            st.session_state["sanity_result"] = metrics.sanity_randomisation(model, window, spatial, checkpoints=3)
    except CrnnauditError as e:
        st.error(str(e))
if "faith_rows" in st.session_state:
    st.dataframe(st.session_state["faith_rows"], hide_index=True)
if "sanity_result" in st.session_state:
    s = st.session_state["sanity_result"]
    for m, sim in s["final_similarity"].items():
        (st.error if s["flagged"].get(m) else st.success)(
            f"{m}: similarity to the trained model's maps after full randomisation {sim:.2f}"
            + (" — barely changed: these maps may not depend on the model" if s["flagged"].get(m) else ""))

st.subheader("Model A vs model B")
other = st.text_input("Path of a second model (same clip, same window)", key="model_b")
if other:
    try:
        model_b = state.model_for(other)
        wb = clip.window(window.index, model_b.window_length, model_b.card.stride, model_b.frame_size)
        from crnnaudit import explain
        es_b = explain(model_b, wb, [m for m in spatial if m in widgets.available_methods(model_b)])
        for m in es_b:
            cols = st.columns(max(1, len(frames)) + 1)
            cols[0].markdown(f"**B · {m}**")
            maps = es_b[m].maps
            for col, t in zip(cols[1:], frames):
                if t < wb.length:
                    src = state.cached_frame(str(clip.path), clip.sha256, int(wb.indices[t]))
                    col.image(render.overlay(src, maps[t], 0.6, vmin=float(maps.min()), vmax=float(maps.max())),
                              width="stretch")
    except CrnnauditError as e:
        st.error(str(e))
