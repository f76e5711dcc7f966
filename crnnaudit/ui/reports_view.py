"""What an approver sees of a stored report, and decides on it (the Countersign page).

Every sentence shown comes from the report's own fact sheet (:mod:`crnnaudit.report.sentences`,
the sections the HTML and the PDF print), beside the images the author saw: the key frames
with each map and its verdict, the counterfactual frames, the temporal chart. The full report
is one click away (downloads named ``report-<id>.*``, and the signed HTML itself).
"""

from __future__ import annotations

import base64
import json

import streamlit as st

from ..errors import CrnnauditError, ReportError

#: What each decision button does, for its confirmation line.
DONE = {"countersign": "Countersigned: report {id} is final (audit log row {row}).",
        "return": "Returned: report {id} goes back to {author}'s Queue with your comment (audit log row {row}).",
        "reject": "Rejected: report {id}'s decision does not stand (audit log row {row})."}


def _stored(report_id: str) -> tuple[dict, dict]:
    """The stored report's body and the check of its file.

    Raises:
        ReportError: the file is not under the data folder.
    """
    from ..evidence.signing import verify_file
    from ..report.countersign import report_path
    from ..evidence.accounts import AccessError
    try:
        path = report_path(report_id)
    except AccessError as e:
        raise ReportError(f"report {report_id}: its file is not under the data folder") from e
    check = verify_file(path)
    body = json.loads(path.read_text(encoding="utf-8"))["report"]
    return body, dict(check, path=path)


def _sentences(lines: list[str]) -> None:
    for line in lines:
        (st.warning if line.startswith(("WARNING", "PLACEHOLDER")) else st.markdown)(_plain(line))


def _plain(text: str) -> str:
    """Text shown as written: no Markdown or HTML read from a report's words."""
    return "".join("\\" + c if c in "\\`*_{}[]()#+-.!|<>$~" else c for c in text)


def report_evidence(report_id: str) -> dict:
    """Everything the author saw, from the stored report: its sections (decision and reasons,
    who to write to, the model's output with its reliability and quality checks), the key frames
    with every map and each map's verdict, the counterfactual, the trust figures, the summary
    for the person concerned, and the full report. Returns the body.

    Raises:
        CrnnauditError: the report is missing.
    """
    from ..report.sentences import annex
    body, check = _stored(report_id)
    (st.caption if check["ok"] else st.error)(f"Report file: {check['message']}")
    facts = body.get("facts")
    if not facts:
        raise ReportError(f"report {report_id}: written by an older version, with no fact sheet; open its HTML")
    sections = dict(annex(facts))
    _sentences(sections["Decision"])
    _sentences(sections["Output"])
    for warning in body.get("clip", {}).get("warnings", []):
        st.warning(_plain(warning))
    st.markdown("**Key frames, with the maps the author saw**")
    _key_frames(body, facts)
    _sentences(sections["Key frames"])
    st.markdown("**What would have changed the outcome**")
    _sentences(sections["What would have changed the outcome"])
    images = (body.get("counterfactual") or {}).get("images") or []
    if images:
        cols = st.columns(len(images))
        for col, im in zip(cols, images):
            col.image(base64.b64decode(im["image"]), caption=f"frame {im['frame']} (counterfactual)", width="stretch")
    if body.get("temporal_plot"):
        st.image(base64.b64decode(body["temporal_plot"]), caption="Per-frame contributions over the window")
    st.markdown("**How far to trust the explanations**")
    _sentences(sections["How far to trust the explanations"])
    st.markdown("**Contesting this decision**")
    _sentences(sections["Contesting this decision"])
    with st.expander(f"Summary for the person concerned ({body['summary']['language']})"):
        st.markdown(_plain(body["summary"]["text"]))
    _full_report(body, check["path"])
    return body


def _key_frames(body: dict, facts: dict) -> None:
    verdicts = facts.get("verdicts", {})
    blank = {(b["frame"], b["method"]) for b in facts.get("blank_maps", [])}
    for frame in body.get("key_frames", []):
        cols = st.columns(len(frame["images"]))
        for col, (name, b64) in zip(cols, frame["images"].items()):
            words = [f"frame {frame['frame']} · {name}"]
            if (frame["frame"], name) in blank:
                words.append("points nowhere on this frame (the same value everywhere)")
            elif name in verdicts:
                v = verdicts[name]
                words.append(("beats" if v["beats"] else "does NOT beat") + f" random deletion (p = {v['p_value']:.2f})")
            col.image(base64.b64decode(b64), caption=" · ".join(words), width="stretch")


def _full_report(body: dict, json_path) -> None:
    """The full report: its three files to download, under their own names, and the signed HTML."""
    from ..report.files import report_file
    cols = st.columns(3)
    for col, (ext, mime) in zip(cols, (("html", "text/html"), ("pdf", "application/pdf"),
                                       ("json", "application/json"))):
        path = json_path.with_name(report_file(body["report_id"], ext))
        if path.is_file():
            col.download_button(f"Full report ({ext.upper()})", path.read_bytes(), file_name=path.name, mime=mime,
                                key=f"full_{ext}_{body['report_id']}")
    with st.expander("The full report as signed"):
        from ..report.files import render_html
        with st.container(height=700):
            st.html(render_html(body))


def countersign_page(who) -> None:
    """The Countersign page below its title: every decision that waits, all its evidence, and
    the three things an approver may do: countersign, return it with a comment, reject it."""
    from ..report.countersign import pending
    from ..report.facts import contest
    st.caption("A decision is final only when an approver other than its author countersigns it. You may also "
               "return it to its author with a comment, or reject it with your reasons. Each is signed and logged.")
    done = st.session_state.pop("countersign_done", None)
    if done:
        st.success(done)
    try:
        waiting = pending()
    except CrnnauditError as e:
        st.error(str(e))
        st.stop()
    if not contest()["set"]:
        st.warning("No report can be made final yet: the deployment has not said who the person concerned writes "
                   "to. An administrator sets CRNNAUDIT_CONTROLLER and CRNNAUDIT_CONTEST_CONTACT.")
    if not waiting:
        st.info("Nothing waits for a second reviewer.")
        st.stop()
    for item in waiting:
        with st.container(border=True):
            _decide_on(item, who, contest()["set"])


def _decide_on(item: dict, who, contact_set: bool) -> None:
    from ..evidence.accounts import normalised
    rid = item["report_id"]
    st.subheader(f"{item['clip']} · {item['decision']} by {item['reviewer']}")
    st.caption(f"Report {rid} · written {item['ts'][:19].replace('T', ' ')} UTC · model {item['model']}")
    try:
        report_evidence(rid)  # what is being decided on, before the buttons
    except CrnnauditError as e:
        st.error(f"The stored report cannot be shown: {e}")
        return
    mine = normalised(item["reviewer"]) == normalised(who.username)
    if mine:
        st.info("You wrote this decision: another approver decides on it (four eyes).")
    words = st.text_area("Comment for the author, or your reasons to reject (required for both)", key=f"why_{rid}",
                         disabled=mine)
    c1, c2, c3 = st.columns(3)
    action = None
    if c1.button("Countersign", key=f"cs_{rid}", type="primary", disabled=mine or not contact_set,
                 help=None if contact_set else "Set CRNNAUDIT_CONTROLLER and CRNNAUDIT_CONTEST_CONTACT first"):
        action = "countersign"
    if c2.button("Return to author", key=f"ret_{rid}", disabled=mine):
        action = "return"
    if c3.button("Reject", key=f"rej_{rid}", disabled=mine):
        action = "reject"
    if action:
        _act(action, rid, item["reviewer"], who, words)


def _act(action: str, rid: str, author: str, who, words: str) -> None:
    from ..report.countersign import countersign, reject, send_back
    try:
        if action == "countersign":
            out = countersign(rid, who)
        elif action == "return":
            out = send_back(rid, who, words)
        else:
            out = reject(rid, who, words)
    except CrnnauditError as e:
        st.error(str(e))
        return
    st.session_state["countersign_done"] = DONE[action].format(id=rid, row=out["log_row"], author=author)
    st.rerun()


def returned_section(who) -> None:
    """On the Queue: the reports an approver returned to the signed-in person, with the comment."""
    from ..report.countersign import returned_to
    try:
        back = returned_to(who)
    except CrnnauditError as e:
        st.error(str(e))
        return
    if not back:
        return
    st.subheader(f"Returned to you ({len(back)})")
    for r in back:
        st.warning(_plain(f"{r['by']} returned your report {r['report_id']} on {r['clip']} (window {r['window']}) "
                          f"at {r['ts'][:19].replace('T', ' ')} UTC: \u201c{r['comment']}\u201d"))
    st.caption("Open the clip in Review, look again, and build a new report: the returned one stays in the log.")
