"""crnnaudit: the auditor's dashboard. Navigation and the sidebar model picker, nothing else.

A page that fails shows a message and the app stays up: crnnaudit's own errors say what was
wrong with the input; anything else is logged on the server with its traceback and the
auditor sees a short notice, never a traceback.
"""

import logging

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
    mismatch = state.server_limit_mismatch()
    if mismatch:
        st.warning(mismatch)

try:
    nav.run()
except CrnnauditError as e:
    st.error(str(e))
except Exception as e:  # noqa: BLE001 - the app stays up for every other auditor
    logging.getLogger("crnnaudit").exception("page %s failed", nav.title)
    st.error(f"Something went wrong that crnnaudit did not expect ({type(e).__name__}). The app is "
             "still up and nothing was saved half-way; the details are in the server log.")
