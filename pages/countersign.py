"""Countersign: decisions waiting for a second pair of eyes (approvers only)."""

import streamlit as st

from crnnaudit import CrnnauditError
from crnnaudit.report.countersign import countersign, pending
from crnnaudit.ui import auth, reports_view

who = auth.require_page("countersign")

st.title("Countersign")
st.caption("A decision is final only when an approver other than its author countersigns it. "
           "Countersigning writes the report again, sealed, with both names and times, and logs it.")
try:
    waiting = pending()
except CrnnauditError as e:
    st.error(str(e))
    st.stop()
if not waiting:
    st.info("Nothing waits for a countersignature.")
    st.stop()
for item in waiting:
    with st.container(border=True):
        st.write(f"**{item['decision'].upper()}** by {item['reviewer']} at {item['ts'][:19].replace('T', ' ')} · "
                 f"clip {item['clip']} · model {item['model']} · score {item['anomaly_score']:.3f}")
        st.caption(f"Reasons: {item.get('reason') or 'none given'}")
        try:
            reports_view.report_evidence(item["report_id"])  # what is being countersigned, before the button
        except CrnnauditError as e:
            st.error(f"The stored report cannot be shown: {e}")
        mine = item["reviewer"] == who.username
        if st.button("Countersign", key=f"cs_{item['report_id']}", disabled=mine,
                     help="You wrote this decision: another approver countersigns it" if mine else None):
            try:
                out = countersign(item["report_id"], who)  # the app's reports live under the data folder
                st.success(f"Countersigned: report {item['report_id']} is final (audit log row {out['log_row']}).")
            except CrnnauditError as e:
                st.error(str(e))
