"""Report: record the human decision and export the signed justification report."""

import streamlit as st

from crnnaudit.config import setting
from crnnaudit.decision import NO_RELIABLE_READING
from crnnaudit.ui import auth, session, widgets
from crnnaudit.ui.session import bound
from crnnaudit.vocabulary import DECISIONS, SUMMARY_LANGUAGES as LANGUAGES

who = auth.require_page("report")

st.title("Justification report")
review = session.current(who)
session.show_refusal()
held = widgets.require_explanation(review, "Explain a window on the Review page first: the report documents that "
                                           "review.")
screen, reading, model = review.screen(), review.reading(), review.model()
st.write(f"{screen.clip_name}, window {screen.window} (frames {screen.first_frame}-{screen.last_frame}, "
         f"{screen.start_s:.2f}-{screen.end_s:.2f} s): model says **{reading.decision}** "
         f"(anomaly score {reading.anomaly_score:.3f}, threshold {reading.threshold:.2f}).")
if not reading.reliable:
    for statement in (reading.training["statement"], reading.quality["statement"]):
        st.warning(statement)
if reading.decision == NO_RELIABLE_READING:
    st.error("The model gives no reliable reading here: whatever you decide, give your reasons.")

draft, about = review.state.draft, widgets.explained(review.state)  # what the report would document
with st.form("decision_form"):
    st.radio("Your decision", DECISIONS, horizontal=True, **bound("decision", draft.decision, list(DECISIONS)))
    st.text_area("Reasons (required to override, and whenever the model gives no reliable reading)",
                 **bound("reason", draft.reason))
    st.caption(f"Reviewer: **{who.username}** (signed in). The decision is final once an approver other than you "
               "countersigns it (Countersign page).")
    languages = list(LANGUAGES)
    st.selectbox("Language of the summary for the person concerned", languages, format_func=LANGUAGES.get,
                 **bound("language", draft.language or setting("CRNNAUDIT_REPORT_LANGUAGE"), languages))
    st.checkbox("Blur faces in exported frames", **bound("blur", draft.blur))
    st.checkbox("Include faithfulness and sanity figures (re-runs the model)", **bound("checks", draft.checks))
    # the draft first (the fields then show it); the request outlives a run cut short while it waits its turn
    widgets.ask_button("Build the report", "report", about, submit=True, type="primary",
                       on_click=lambda: session.send(review.draft, **{
                           k: st.session_state[k] for k in ("decision", "reason", "language", "blur", "checks")}))
done = widgets.run_asked("report", about, "building the report",
                         lambda progress, cancel: review.build_report(progress), unit="section",
                         label="Build the report")
if done is not None:
    st.success(f"Report {done['report_id']} written and logged as audit row {done['log_row']}.")
report = review.state.report
if report is not None:
    c1, c2, c3 = st.columns(3)
    for col, kind, mime in ((c1, "html", "text/html"), (c2, "pdf", "application/pdf"),
                            (c3, "json", "application/json")):
        path = report["files"][kind]
        col.download_button(f"Download {kind.upper()}", open(path, "rb").read(), file_name=path.rsplit("/", 1)[-1],
                            mime=mime, key=f"dl_{kind}")
    st.caption("SHA-256: " + ", ".join(f"{k} `{v[:16]}…`" for k, v in report["sha256"].items()))
    with st.container(height=900):  # the report as it was signed, sanitised (no script runs)
        st.html(review.report_html())
