"""Compare: methods x frames on one colour scale, where they agree, how far to trust each."""

import streamlit as st

from crnnaudit.ui import auth, compare_view

who = auth.require_page("compare")

st.title("Compare explanations")
compare_view.compare(who)
