"""Queue: the clips of a dataset audit a human must look at (flagged, or with no reliable
reading), highest score first, with where each review stands (not reviewed, decided,
countersigned); any clip opened in Review."""

import streamlit as st

from crnnaudit.ui import auth, dataset_view

who = auth.require_page("queue")

st.title("Review queue")
dataset_view.queue(who)
