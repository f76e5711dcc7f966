"""Review: pick a clip, read the timeline, explain a window, scrub through its frames."""

import time

import streamlit as st

from crnnaudit.footage import quality
from crnnaudit import render
from crnnaudit.decision import NO_RELIABLE_READING
from crnnaudit.model.statistics import familiarity_statement
from crnnaudit.ui import auth, loaders, widgets
from crnnaudit.ui.session import Review, bound

who = auth.require_page("review")

st.title("Review")
review = Review.current()
model = loaders.current_model()
if model is None:
    st.stop()
widgets.clip_picker()
clip = loaders.current_clip()
if clip is None:
    st.info("Pick or upload a clip.")
    st.stop()

# One stage for everything derived from the clip: a new clip clears it at once, so the previous
# clip's timeline and probabilities never stand under the new clip's name while it is scored.
stage = st.empty()
if st.session_state.get("review_stage_clip") != clip.sha256:
    stage.empty()
    st.session_state["review_stage_clip"] = clip.sha256
with stage.container():
    facts = clip.facts()
    cols = st.columns(6)
    for col, key in zip(cols, ("duration_s", "fps", "frames", "width", "height", "codec")):
        col.metric(key.replace("_s", " (s)"), facts[key])
    st.caption(f"{review.clip_name or clip.name} · SHA-256 `{clip.sha256}`"
               + (f" · turned {clip.rotation}° as the file asks" if clip.rotation else "")
               + (" · variable frame rate" if clip.variable_frame_rate else ""))
    for warning in clip.warnings():
        st.warning(warning)

    timeline = widgets.timeline_for(model, clip)
    if timeline is None:
        st.stop()
    table = timeline.table
    n = len(table)
    if review.window_index is None or review.window_index >= n:
        review.use_window(timeline.top_window())  # a new clip opens on its most anomalous window
    event = st.session_state.get("timeline_chart")  # a click, read before anything is drawn
    points = (event or {}).get("selection", {}).get("points", []) if event else []
    if points and "customdata" in points[0]:
        picked = points[0]["customdata"]
        review.pick_on_chart(int(picked[0] if isinstance(picked, list) else picked))
    st.plotly_chart(render.timeline_figure(timeline, review.window_index), on_select="rerun",
                    selection_mode="points", key="timeline_chart", width="stretch")
    st.number_input("Window", 0, n - 1, key=bound("window_input", review.window_index),
                    on_change=lambda: review.use_window(int(st.session_state["window_input"])))
    k = review.window_index
    row = table.loc[k]
    st.write(f"Window {k}: frames {int(row['first_frame'])}-{int(row['last_frame'])} "
             f"({row['start_s']:.2f}-{row['end_s']:.2f} s) · anomaly score **{row['anomaly_score']:.3f}** "
             f"→ {row['decision']} (threshold {timeline.threshold:.2f})")
    if "unlike_training" in row:
        statement = familiarity_statement(float(row["training_distance"]), model.feature_stats.threshold)
        (st.warning if row["unlike_training"] else st.caption)(statement)
    else:
        st.caption(familiarity_statement(None, None))
    bounds = model.quality_bounds
    if bounds is not None:
        fired = bounds.check({m: float(row[f"q_{m}"]) for m in quality.MEASURES})
        (st.warning if fired else st.caption)(quality.statement(fired))
    if row["decision"] == NO_RELIABLE_READING:
        st.error("**No reliable reading** on this window: the model's probabilities are shown below, but no "
                 "anomaly decision is drawn from them. You may still decide on the Report page, with reasons.",
                 icon=":material/report:")
    elif not row["reliable"]:
        st.warning("This window cannot be read reliably, but this model's card asks to decide from the score "
                   "anyway (withhold_unreliable: false).")
    st.plotly_chart(render.probability_figure(model.card.classes, [row[f"p_{c}"] for c in model.card.classes],
                                              model.card.anomaly_classes), key="probabilities", width="stretch")

    methods = st.multiselect("Methods", widgets.available_methods(model), widgets.default_methods(model),
                             key="methods", format_func=lambda m: m)
    target = st.selectbox("Explain the class", ["predicted / anomaly"] + model.card.classes, key="target")
    if st.button("Explain this window", type="primary", key="explain"):
        widgets.run_explanation(model, clip, k, methods, None if target == "predicted / anomaly" else target)

    held = review.explanation_for(model, clip)
    if held is None:
        st.info("Press **Explain this window** to see where and when the model looked.")
        st.stop()
    window, es = held.window, held.expset
    spatial = es.spatial()
    if not spatial:
        st.info("No spatial method was asked for; see the Temporal page.")
        st.stop()


@st.fragment
def scrubber() -> None:
    """Only this part reruns when the reviewer scrubs: the page above stays as it is."""
    style, method = widgets.map_controls(spatial)
    T = window.length
    b1, b2, b3, _ = st.columns([1, 1, 1, 6])
    b1.button("◀", key="prev", on_click=review.step_frame, args=(-1, T))
    b2.button("▶", key="next", on_click=review.step_frame, args=(1, T))
    play = b3.button("Play", key="play")
    review.frame_pos = pos = min(review.frame_pos, T - 1)
    st.slider("Frame", 0, T - 1, key=bound("frame_slider", pos),
              on_change=lambda: review.jump_to_frame(st.session_state["frame_slider"]))
    exp = es[method]
    widgets.method_evidence(model, window, es, [method])
    review.view = dict(style.as_dict(), method=method, frame=int(window.indices[pos]))
    holder = st.empty()

    def show(p: int) -> None:
        src = loaders.cached_frame(str(clip.path), clip.sha256, int(window.indices[p]))
        flat = float(exp.maps[p].max() - exp.maps[p].min()) < 1e-12
        holder.image(render.show_map(src, exp.maps, p, style),
                     caption=f"frame {int(window.indices[p])} · {window.times[p]:.2f} s · {method} · "
                             f"contribution {exp.frame_scores[p]:.3g} · "
                             + (f"{method} is {float(exp.maps[p].max()):.3g} everywhere on this frame: it points "
                                "nowhere here" if flat else f"colours {render.SCALINGS[style.scaling]}"),
                     width=style.width + 70)

    if play:
        for p in range(T):
            show(p)
            time.sleep(1.0 / max(clip.fps, 1))
        review.jump_to_frame(T - 1)  # play ends on the last frame: the slider and caption follow
        st.rerun(scope="fragment")
    else:
        show(pos)


scrubber()
st.caption("Prediction for this window: " + ", ".join(
    f"{c} {p:.3f}" for c, p in zip(model.card.classes, es.probabilities)) + f" · explained class: {es.target_name}")
