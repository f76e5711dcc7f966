"""Queue: the clips of a dataset audit a human must look at (flagged, or with no reliable
reading), highest score first, with where each review stands (not reviewed, decided,
countersigned); any clip opened in Review."""

import streamlit as st

from crnnaudit.dataset import run_report
from crnnaudit import AuditLog, CrnnauditError
from crnnaudit.ui import auth, runs, session, widgets

who = auth.require_page("queue")

st.title("Review queue")
files = runs.pick_run("queue_run")
if files is None:
    st.stop()
flagged = run_report.flagged_table(files["clips"])
if flagged.empty:
    st.success("No clip of this run crossed the threshold, and every clip was read reliably.")
    st.stop()
table = runs.with_status(files["clips"].loc[flagged.index])
try:
    widgets.oversight(AuditLog().rows())  # reviewers who confirm nearly always, or decide very fast
except CrnnauditError as e:
    st.error(str(e))
only_open = st.toggle("Only clips not reviewed yet", value=True, key="queue_open_only")
shown = table[table["review"] == runs.STATUS_NONE] if only_open else table
counts = table["review"].value_counts()
st.caption(" · ".join(f"{counts.get(k, 0)} {k}" for k in (runs.STATUS_NONE, "decided", "countersigned")))
runs.clips_table(shown, ("clip", "decision", "max_anomaly_score", "predicted", "top_start_s", "review",
                         "unlike_training", "degraded_windows"))
if shown.empty:
    st.info("Every flagged clip of this run has been reviewed.")
    st.stop()
pick = st.selectbox("Clip", shown["clip"].tolist(), key="queue_clip")
if st.button("Review it", key="queue_open"):
    runs.open_in_review(session.current(who), files, shown[shown["clip"] == pick].iloc[0])
