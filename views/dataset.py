"""Dataset: a whole run of `crnnaudit batch` at once: its figures, where the model looks per
class, the shortcut screen's clusters, and any clip opened in Review."""

import streamlit as st

from crnnaudit.ui import auth, dataset_view

who = auth.require_page("dataset")

st.title("Dataset audit")
dataset_view.dataset(who)
