"""Temporal: which frames made the decision, and when the model became confident."""

import streamlit as st

from crnnaudit.ui import auth, temporal_view

who = auth.require_page("temporal")

st.title("Temporal contribution")
temporal_view.temporal(who)
