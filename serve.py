"""What ``make app`` runs: the dashboard (``app.py``) behind its front door.

``streamlit run serve.py`` finds the ASGI app below and serves ``app.py`` through it, with the
sign-in routes and the middleware of :mod:`crnnaudit.ui.web`: no page before sign-in, a session
cookie that survives a reload, deep links that land after sign-in. ``streamlit run app.py``
still works (the app then asks for the password itself, and a reload signs out).
"""

import streamlit as st

from crnnaudit.config import quiet_tensorflow
from crnnaudit.review.memory import prepare_server

quiet_tensorflow()  # before anything imports TensorFlow
prepare_server()  # CRNNAUDIT_MEMORY=released: few C heaps, so freed memory can go back

from crnnaudit.ui import web  # noqa: E402

app = st.App("app.py", routes=web.routes(), middleware=web.middleware())
