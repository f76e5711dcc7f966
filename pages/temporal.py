"""Temporal: which frames made the decision, and when the model became confident."""

import numpy as np
import streamlit as st

from crnnaudit import render
from crnnaudit.ui import state, widgets

st.title("Temporal contribution")
model, clip, window, es = widgets.require_explanation()
temporal = {m: e for m, e in es.items() if e.maps is None}
if not temporal:
    st.info("Ask for frame_occlusion, temporal_ig or prefix_score on the Review page.")
    st.stop()
truth = clip.ground_truth
interval = truth.interval if truth else None
st.plotly_chart(render.temporal_figure(temporal, [int(i) for i in window.indices], interval), width="stretch",
                key="temporal_chart")
for m, e in temporal.items():
    if "completeness_gap" in e.extra:
        nodes = f" ({e.extra['steps_used']} Gauss-Legendre nodes)" if "steps_used" in e.extra else ""
        st.caption(f"{m}: attributions sum to the score difference within "
                   f"{100 * e.extra['completeness_gap']:.3f} %{nodes}")
        if e.extra.get("converged") is False:
            st.warning(f"{m}: the gap stayed above the {100 * e.params['tolerance']:g} % tolerance at "
                       f"{e.extra['steps_used']} nodes; raise max_steps or read these numbers as approximate.")
    if m == "prefix_score" and not e.extra.get("exact", True):
        st.caption("prefix_score: this model's time axis is fixed, so each prefix is held (its last frame "
                   "repeated) rather than cut: an approximation.")

st.subheader("Frames")
rank = next(iter(m for m in temporal if m != "prefix_score"), "prefix_score")
scores = temporal[rank].frame_scores
cols = st.columns(min(8, window.length))
order = np.argsort(-scores, kind="stable")
best = set(int(t) for t in order[:3])
for t in range(window.length):
    col = cols[t % len(cols)]
    img = state.cached_frame(str(clip.path), clip.sha256, int(window.indices[t]))
    col.image(img, caption=f"{int(window.indices[t])}{' ★' if t in best else ''} · {scores[t]:.2g}", width="stretch")
    if col.button("scrub here", key=f"goto_{t}"):
        st.session_state["frame_pos"] = t
        st.switch_page("pages/review.py")
