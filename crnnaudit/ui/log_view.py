"""The Audit log page: every row in words, the chain's verification, filters, export."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..errors import CrnnauditError
from ..evidence.chain import in_words, payload_or_raw
from ..evidence.log import AuditLog
from ..vocabulary import DECISIONS
from . import widgets


def audit_log(who) -> None:
    """The page below its title."""
    try:
        log = AuditLog()
        rows = log.rows()
        result = log.verify()
    except CrnnauditError as e:
        st.error(str(e))
        st.stop()
    (st.success if result.ok else st.error)(f"Chain check: {result.message}")
    if not rows:
        st.info("No review has been recorded yet.")
        st.stop()
    table = pd.DataFrame([{"seq": r["seq"], "time": r["ts"][:19].replace("T", " "), "kind": r["kind"],
                           "what happened": in_words(r), **payload_or_raw(r), "row_hash": r["row_hash"][:16]}
                          for r in rows])
    c1, c2 = st.columns(2)
    reviewers = sorted(table["reviewer"].dropna().unique()) if "reviewer" in table else []
    # (no reviewer yet: no filter, rather than an empty one greyed out)
    pick = c1.multiselect("Reviewer", reviewers, key="f_reviewer") if reviewers else []
    decisions = c2.multiselect("Decision", DECISIONS, key="f_decision")
    shown = table
    if pick:
        shown = shown[shown["reviewer"].isin(pick)]
    if decisions:
        shown = shown[shown["decision"].isin(decisions)]
    cols = [c for c in ("seq", "time", "kind", "what happened", "reason", "row_hash") if c in shown]
    st.dataframe(shown[cols].rename(columns={"seq": "row", "row_hash": "row hash"}), hide_index=True, width="stretch",
                 column_config={"what happened": st.column_config.TextColumn(width="large")})
    widgets.oversight(rows, table=True)
    c1, c2 = st.columns(2)
    c1.download_button("Export JSON", log.export("json"), file_name="audit_log.json", key="export_json")
    c2.download_button("Export CSV", log.export("csv"), file_name="audit_log.csv", key="export_csv")
