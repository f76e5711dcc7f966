"""Model: load a model, see what was found, check the decomposition, edit the card."""

import streamlit as st

from crnnaudit.ui import auth, model_view, session

who = auth.require_page("model")

st.title("Model")
review = session.current(who)
session.show_refusal()
with st.expander("Load another model", expanded=False):
    model_view.load_form(review, who)
model_view.what_was_found(review)
st.subheader("Model card")
model_view.card_form(review, who)
