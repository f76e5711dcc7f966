"""The Temporal page: which frames made the decision, when the model became confident, and what
would have changed the outcome."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .. import render
from ..explainers.base import REGISTRY
from . import session, widgets


def temporal(who) -> None:
    """The page below its title."""
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
        _counterfactual_words(review, es, window, changed)
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

    _frames(review, clip, window, es, temporal, changed, gone)


def _counterfactual_words(review, es, window, changed) -> None:
    """The counterfactual in the report's own sentences (:func:`crnnaudit.report.sentences.counterfactual`,
    from the same facts), so the page and the report cannot say it differently."""
    from ..report.facts import counterfactual_facts
    from ..report.sentences import counterfactual as sentences
    from ..trust.counterfactual import summary
    reading = review.reading()
    rank = es.ranking()
    key = ([int(window.indices[t]) for t in np.argsort(-np.asarray(es[rank].frame_scores), kind="stable")[:3]]
           if rank else [])
    facts = {"counterfactual": counterfactual_facts(summary(changed), reading.decision, key),
             "reading": {"threshold": reading.threshold}}
    lines = sentences(facts)
    found = changed["temporal"].found
    (st.info if found else st.caption)(f"**What would have changed the outcome.** {lines[0]}",
                                       **({"icon": ":material/content_cut:"} if found else {}))
    for line in lines[1:]:
        st.caption(line)
    if found and not changed["region"].found:
        st.caption(changed["region"].statement)


def _frames(review, clip, window, es, temporal, changed, gone) -> None:
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
        img = widgets.cached_frame(clip.path, clip.sha256, frame, clip.model_rate)
        if t in gone:  # a counterfactual frame: the region outlined when blurring it changes the outcome
            region = changed["region"]
            img = render.outline(img, region.masks[changed["temporal"].positions.index(t)] if region.found else None)
        col.image(img, caption=f"{frame}{' ★' if t in best else ''}{' ✂' if t in gone else ''} · {scores[t]:.2g}",
                  width="stretch", alt=f"frame {frame} of window {window.index}, {rank} contribution {scores[t]:.2g}"
                                       + (", ranked among the first three" if t in best else "")
                                       + (", a counterfactual frame" if t in gone else ""))
        if col.button("scrub here", key=f"goto_{t}", help=f"show frame {frame} on the Review page"):
            session.send(review.jump_to_frame, t)
            st.switch_page("views/review.py")
