"""crnnaudit: the auditor's dashboard. Navigation and the sidebar model picker, nothing else."""

from crnnaudit.config import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow

import streamlit as st  # noqa: E402

from crnnaudit.errors import CrnnauditError  # noqa: E402
from crnnaudit.ui import state  # noqa: E402
from crnnaudit.ui.session import Review  # noqa: E402

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
    review = Review.current()
    current = review.model_path or default
    if current:
        st.caption("Model")
        st.code(current.split("/")[-1], language=None)
        if review.model_path and st.button("Back to the default model"):
            review.use_model(None)
            st.rerun()

nav.run()
