"""Review: pick a clip, read the timeline, explain a window, scrub through its frames."""

import streamlit as st

from crnnaudit.ui import auth, review_view, session

who = auth.require_page("review")

st.title("Review")
review = session.current(who)
session.show_refusal()
review_view.clip_picker(review)
if not review_view.settle(review):
    if review.state.clip_path is None:
        st.info("Pick or upload a clip.")
    st.stop()
review_view.clip_facts(review)
review_view.timeline_panel(review)
review_view.explain_controls(review)
if review.state.held is None:
    st.info("Press **Explain this window** to see where and when the model looked.")
    st.stop()
if not review.state.held.expset.spatial():
    st.info("No spatial method was asked for; see the Temporal page.")
    st.stop()
review_view.scrubber(review)
