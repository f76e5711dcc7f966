"""crnnaudit: the auditor's dashboard. Navigation and the sidebar model picker, nothing else."""

import streamlit as st

from crnnaudit.errors import CrnnauditError
from crnnaudit.ui import state, widgets

st.set_page_config(page_title="crnnaudit", page_icon="🎥", layout="wide")

pages = [
    st.Page("pages/model.py", title="Model", icon="🧠"),
    st.Page("pages/review.py", title="Review", icon="🎞️", default=True),
    st.Page("pages/compare.py", title="Compare", icon="🔍"),
    st.Page("pages/temporal.py", title="Temporal", icon="⏱️"),
    st.Page("pages/report.py", title="Report", icon="📄"),
    st.Page("pages/audit_log.py", title="Audit log", icon="🔗"),
]
nav = st.navigation(pages)

with st.sidebar:
    try:
        default = state.configured_model()
    except CrnnauditError as e:
        st.error(str(e))
        default = None
    current = st.session_state.get("model_path") or default
    if current:
        st.caption("Model")
        st.code(current.split("/")[-1], language=None)
        if st.session_state.get("model_path") and st.button("Back to the default model"):
            for key in ("model_path", "card_path"):
                st.session_state.pop(key, None)
            widgets.reset_review()
            st.rerun()

nav.run()
