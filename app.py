"""crnnaudit: the auditor's dashboard. Sign-in, the navigation and the sidebar, nothing else.

A page that fails shows a message and the app stays up: crnnaudit's own errors say what was
wrong with the input; anything else is logged on the server with its traceback and the
auditor sees a short notice, never a traceback. ``make app`` serves it behind its front door
(``serve.py``: sign-in before any page, a session that survives a reload).
"""

import logging

from crnnaudit.config import quiet_tensorflow
from crnnaudit.review.memory import prepare_server

quiet_tensorflow()  # before anything imports TensorFlow
prepare_server()  # CRNNAUDIT_MEMORY=released: few C heaps, so freed memory can go back

import streamlit as st  # noqa: E402
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException  # noqa: E402

from crnnaudit import config  # noqa: E402
from crnnaudit.errors import CrnnauditError  # noqa: E402
from crnnaudit.ui import auth, model_choice, navigation, session, uploads  # noqa: E402

st.set_page_config(page_title="crnnaudit", page_icon="🎥", layout="wide")
who = auth.gate()  # nothing below shows before sign-in
if notice := st.session_state.pop("auth_notice", None):
    st.toast(notice)
uploads.daily_housekeeping(str(config.home()))  # uploads past CRNNAUDIT_RETENTION_DAYS are erased

# A role sees links only to the pages it may use (one table: crnnaudit/ui/navigation.py); the links
# are drawn here, so no page's name shows before sign-in (.streamlit/config.toml hides Streamlit's
# own). Every page is routed, so a deep link to a page the role may not use opens that page, which
# refuses it in words (auth.require_page), never a "Page not found".
allowed = navigation.allowed(who)
pages = {p.path: st.Page(p.path, title=p.title, icon=p.icon, default=(p == allowed[0]))
         for p in navigation.PAGES}
nav = st.navigation(list(pages.values()), position="hidden")

with st.sidebar:
    for spec in allowed:
        st.page_link(pages[spec.path])
    st.divider()
    st.markdown(f"Signed in as **{who.username}** ({who.role})")
    if st.button("Sign out", key="sign_out"):
        auth.sign_out("Signed out: your session has ended in every tab and browser.")
        st.rerun()
    try:
        review = session.current(who)
        current = review.state.model_path or model_choice.configured_model()
        st.markdown("Model")
        st.code(current.split("/")[-1], language=None)
        if review.state.model_path and who.may("manage_models") and st.button("Back to the default model"):
            session.send(review.use_model, None)
            st.rerun()
    except CrnnauditError as e:
        st.error(str(e))
    mismatch = uploads.server_limit_mismatch()
    if mismatch:
        st.warning(mismatch)

cut_short, ended = False, session.run_end_marker()
try:
    nav.run()
except RerunException:  # another rerun (a click, or the page's own st.rerun) cut this one short
    cut_short = True
    raise
except CrnnauditError as e:
    st.error(str(e))
except Exception as e:  # noqa: BLE001 - the app stays up for every other auditor
    logging.getLogger("crnnaudit").exception("page %s failed", nav.title)
    st.error(f"Something went wrong that crnnaudit did not expect ({type(e).__name__}). The app is "
             "still up and nothing was saved half-way; the details are in the server log.")
finally:
    if not cut_short:
        ended()
