"""Temporal: which frames made the decision, and when the model became confident."""

import numpy as np
import streamlit as st

from crnnaudit import REGISTRY, render
from crnnaudit.ui import auth, session, widgets

who = auth.require_page("temporal")

st.title("Temporal contribution")
review = session.current(who)
session.show_refusal()
held = widgets.require_explanation(review)
clip, window, es = review.clip(), held.window, held.expset
temporal = es.temporal()
if not temporal:
    names = ", ".join(m for m, meta in REGISTRY.items() if meta.kind == "temporal")
    st.info(f"Ask for a temporal method ({names}) on the Review page.")
    st.stop()
truth = clip.ground_truth
changed = widgets.run_with_progress("searching for the smallest set of frames that changes the outcome",
                                    key="cf_work", work=lambda progress: review.counterfactual(progress))
if changed is not None:
    t, region = changed["temporal"], changed["region"]
    (st.info if t.found else st.caption)(f"**What would have changed the outcome.** {t.statement}",
                                         **({"icon": ":material/content_cut:"} if t.found else {}))
    if t.found:
        st.caption(region.statement)
gone = set(changed["temporal"].positions) if changed else set()
st.plotly_chart(render.temporal_figure(es, [int(i) for i in window.indices], truth.interval if truth else None,
                                       marked=[int(window.indices[t]) for t in sorted(gone)]),
                width="stretch", key="temporal_chart")
for m in es.temporal(contributions_only=True):
    widgets.verdict_line(held.verdicts.get(m))
for m in temporal:
    e, gap_key = es[m], es.method(m).convergence
    if gap_key and gap_key in e.extra:
        nodes = f" ({e.extra['steps_used']} Gauss-Legendre nodes)" if "steps_used" in e.extra else ""
        st.caption(f"{m}: attributions sum to the score difference within {100 * e.extra[gap_key]:.3f} %{nodes}")
        if e.extra.get("converged") is False:
            st.warning(f"{m}: the gap stayed above the {100 * e.params['tolerance']:g} % tolerance at "
                       f"{e.extra['steps_used']} nodes; raise max_steps or read these numbers as approximate.")
    if not e.extra.get("exact", True):
        st.caption(f"{m}: this model's time axis is fixed, so each prefix is held (its last frame "
                   "repeated) rather than cut: an approximation.")

st.subheader("Frames")
st.caption("★ the three frames ranked first; ✂ the counterfactual frames (without them the outcome changes), "
           "the region outlined in cyan when blurring it changes the outcome too.")
rank = es.ranking() if es.ranking() in temporal else temporal[0]
scores = es[rank].frame_scores
cols = st.columns(min(8, window.length))
best = set(int(t) for t in np.argsort(-scores, kind="stable")[:3])
for t in range(window.length):
    col = cols[t % len(cols)]
    frame = int(window.indices[t])
    img = widgets.cached_frame(clip.path, clip.sha256, frame)
    if t in gone:  # a counterfactual frame: the region outlined when blurring it changes the outcome
        region = changed["region"]
        img = render.outline(img, region.masks[changed["temporal"].positions.index(t)] if region.found else None)
    col.image(img, caption=f"{frame}{' ★' if t in best else ''}{' ✂' if t in gone else ''} · {scores[t]:.2g}",
              width="stretch", alt=f"frame {frame} of window {window.index}, {rank} contribution {scores[t]:.2g}"
                                   + (", ranked among the first three" if t in best else "")
                                   + (", a counterfactual frame" if t in gone else ""))
    if col.button("scrub here", key=f"goto_{t}", help=f"show frame {frame} on the Review page"):
        session.send(review.jump_to_frame, t)
        st.switch_page("pages/review.py")
