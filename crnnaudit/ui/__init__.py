"""Streamlit helpers only: cached loaders, session state, widgets. No numerics here."""
