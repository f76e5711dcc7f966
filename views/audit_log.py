"""Audit log: every review, the chain's verification, filters, export."""

import streamlit as st

from crnnaudit.ui import auth, log_view

who = auth.require_page("audit_log")

st.title("Audit log")
log_view.audit_log(who)
