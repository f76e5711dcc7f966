"""Countersign: decisions waiting for a second pair of eyes (approvers only)."""

import streamlit as st

from crnnaudit.ui import auth, reports_view

who = auth.require_page("countersign")

st.title("Countersign")
reports_view.countersign_page(who)
