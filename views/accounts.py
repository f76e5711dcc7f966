"""Accounts (admins): add, disable, enable, change role, unlock, reset a password, set the name reports use."""

import streamlit as st

from crnnaudit.ui import accounts_view, auth

who = auth.require_page("accounts")

st.title("Accounts")
accounts_view.accounts_page(who)
