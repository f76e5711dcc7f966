"""Report: record the human decision and export the signed justification report."""

from datetime import datetime, timezone

import streamlit as st

from crnnaudit import CrnnauditError
from crnnaudit.config import home
from crnnaudit.decision import NO_RELIABLE_READING, decide
from crnnaudit.model.statistics import reliability
from crnnaudit.report import build_report, render_html, write_report
from crnnaudit.ui import auth, widgets
from crnnaudit.ui.session import Review
from crnnaudit.vocabulary import DECISIONS

who = auth.require_page("report")

st.title("Justification report")
review = Review.current()
model, clip, window, es = widgets.require_explanation(
    "Explain a window on the Review page first: the report documents that review.")
score = float(model.anomaly_score(es.probabilities[None])[0])
check = reliability(model, window.frames)
says = decide(score, model.card.threshold, not check["withheld"])
st.write(f"{review.clip_name or clip.name}, window {window.index} (frames {int(window.indices[0])}-{int(window.indices[-1])}): "
         f"model says **{says}** "
         f"(score {score:.3f}, threshold {model.card.threshold:.2f}).")
if not check["reliable"]:
    for statement in (check["training_data"]["statement"], check["quality"]["statement"]):
        st.warning(statement)
if says == NO_RELIABLE_READING:
    st.error("The model gives no reliable reading here: whatever you decide, give your reasons.")

with st.form("decision"):
    decision = st.radio("Your decision", DECISIONS, horizontal=True, key="decision")
    reason = st.text_area("Reasons (required to override, and whenever the model gives no reliable reading)",
                          key="reason")
    st.caption(f"Reviewer: **{who.username}** (signed in). The decision is final once an approver "
               "other than you countersigns it (Countersign page).")
    contest = st.text_input("How the data subject can contest", "Write to the data protection officer.",
                            key="contest")
    blur = st.checkbox("Blur faces in exported frames", value=True, key="blur")
    checks = st.checkbox("Include faithfulness and sanity figures (re-runs the model)", value=True, key="checks")
    submitted = st.form_submit_button("Build the report", type="primary")
if submitted:
    timeline = widgets.timeline_for(model, clip)

    def build(progress):
        body = build_report(model, clip, window, es, decision=decision, reviewer=who.username, reason=reason,
                            timeline=timeline, contest_channel=contest, blur=blur, faithfulness=checks,
                            sanity=checks, view=review.view, shown_name=review.clip_name,
                            shown_at=datetime.fromtimestamp(review.shown_at, timezone.utc) if review.shown_at else None,
                            progress=lambda i, n, what: progress(i, n + 1, f"step {i + 1} of {n + 1}, {what}"))
        progress(3, 4, "step 4 of 4, rendering, signing and logging HTML, PDF and JSON")
        return body, write_report(body, home() / "reports" / body["report_id"])
    try:
        review.report = widgets.with_progress("building the report", build, key="report_work")
        if review.report:
            body, out = review.report
            st.success(f"Report {body['report_id']} written and logged as audit row {out['log_row']}.")
    except CrnnauditError as e:
        st.error(str(e))
if review.report is not None:
    body, out = review.report
    c1, c2, c3 = st.columns(3)
    for col, kind, mime in ((c1, "html", "text/html"), (c2, "pdf", "application/pdf"),
                            (c3, "json", "application/json")):
        col.download_button(f"Download {kind.upper()}", out[kind].read_bytes(), file_name=f"report.{kind}",
                            mime=mime, key=f"dl_{kind}")
    st.caption("SHA-256: " + ", ".join(f"{k} `{v[:16]}…`" for k, v in out["sha256"].items()))
    with st.container(height=900):  # the report as it was signed, sanitised (no script runs)
        st.html(render_html(body))
