"""Four eyes: a decision is final only when an approver other than its author countersigns.

A report is written (and logged as a ``review`` row) with the status "awaiting
countersignature": submitted. An approver other than its author then either

- countersigns it: the report is written again, sealed, with both people and both times and
  the status "final", and logged as a ``countersign`` row;
- returns it to its author with a comment (a ``return`` row; the report is written again with
  the status "returned" and the comment): it reaches its author's Queue, who writes a new one;
- rejects it with reasons (a ``reject`` row; written again with the status "rejected").

Every identity comes from sign-in, never from a typed name (compared as :func:`normalised`
names: "ana " is Ana). A report is not countersigned while the deployment has not said who the
person concerned writes to (``CRNNAUDIT_CONTROLLER``, ``CRNNAUDIT_CONTEST_CONTACT``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..evidence.accounts import AccessError, Identity, normalised
from ..evidence.chain import payload_or_raw
from ..evidence.keys import load_signing_key
from ..evidence.log import AuditLog
from ..evidence.signing import countersignature
from ..config import home


def reports_dir() -> Path:
    return home() / "reports"


#: Log rows that end a submitted report's wait, and the status each writes into it.
DECIDED = {"countersign": "final", "return": "returned", "reject": "rejected"}


def pending(log: AuditLog | None = None) -> list[dict]:
    """Reviews that wait for a second reviewer, oldest first."""
    rows = (log or AuditLog()).rows()
    signed = {payload_or_raw(r).get("report_id") for r in rows if r["kind"] in DECIDED}
    out = []
    for r in rows:
        p = payload_or_raw(r)
        if r["kind"] == "review" and p.get("report_id") and p["report_id"] not in signed:
            out.append({"seq": r["seq"], "ts": r["ts"], **{k: p.get(k) for k in (
                "report_id", "reviewer", "decision", "reason", "clip", "model", "anomaly_score")}})
    return out


def report_path(report: str | Path) -> Path:
    """A report's JSON file: the path given, or the one the app wrote under the data folder for
    that id.

    Raises:
        AccessError: no such file.
    """
    from .files import report_file
    path = Path(report)
    if path.suffix.lower() != ".json":
        path = reports_dir() / str(report) / report_file(str(report), "json")
    if not path.is_file():
        raise AccessError(f"{report}: no such report (give its JSON file, or the id of a report the app wrote)")
    return path


def countersign(report: str | Path, approver: Identity, log: AuditLog | None = None,
                now: datetime | None = None) -> dict:
    """Countersign a report as ``approver``: ``report`` is its JSON file, or the id of one the
    app wrote (under ``CRNNAUDIT_HOME/reports``); returns write_report's result (the
    countersigned report is written beside the original, in ``countersigned/``).

    Raises:
        AccessError: not an approver, the approver wrote the decision, already decided, unknown
            report, the stored report does not verify, or the deployment has not said who the
            person concerned writes to.
    """
    return _decide(report, approver, "countersign", None, log, now)


def send_back(report: str | Path, approver: Identity, comment: str, log: AuditLog | None = None,
              now: datetime | None = None) -> dict:
    """Return a report to its author with ``comment``: it is not final, and it reaches the
    author's Queue. Raises AccessError as :func:`countersign` does, or without a comment."""
    return _decide(report, approver, "return", comment, log, now)


def reject(report: str | Path, approver: Identity, reasons: str, log: AuditLog | None = None,
           now: datetime | None = None) -> dict:
    """Reject a report's decision with ``reasons``: it does not stand. Raises AccessError as
    :func:`countersign` does, or without reasons."""
    return _decide(report, approver, "reject", reasons, log, now)


def _decide(report, approver: Identity, kind: str, words: str | None, log, now) -> dict:
    from .facts import contest, person
    from .files import write_report
    from ..evidence.signing import verify_file
    approver.require("countersign", "countersign, return or reject decisions")
    if kind != "countersign" and not (words or "").strip():
        raise AccessError(f"to {kind} a report, say why: the author reads it")
    log = log or AuditLog()
    path = report_path(report)
    try:
        report_id = json.loads(path.read_text(encoding="utf-8"))["report"]["report_id"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AccessError(f"{path}: not a crnnaudit JSON report ({e})") from e
    waiting = {p["report_id"]: p for p in pending(log)}
    if report_id not in waiting:
        raise AccessError(f"report {report_id}: nothing waits for a second reviewer under that id "
                          "(unknown, or decided already)")
    author = waiting[report_id]["reviewer"]
    if normalised(author) == normalised(approver.username):
        raise AccessError(f"report {report_id}: {approver.username} wrote this decision; four eyes means "
                          "another approver decides on it")
    if kind == "countersign" and not contest()["set"]:
        raise AccessError("a report is final only once the person concerned is told who to write to: set "
                          "CRNNAUDIT_CONTROLLER and CRNNAUDIT_CONTEST_CONTACT, then countersign")
    check = verify_file(path, log=log)  # the very file the log recorded, in a chain that verifies
    if not check["ok"]:
        raise AccessError(f"report {report_id}: the stored report does not verify ({check['message']})")
    body = json.loads(path.read_text(encoding="utf-8"))["report"]
    pin = (body["model"].get("registry") or {}).get("pin")
    registry_now = _registry_now(pin) if pin else None  # before anything is signed: a failure changes nothing
    at = (now or datetime.now(timezone.utc)).isoformat()
    seal = countersignature(body, approver.username, at, load_signing_key(), kind)  # bound to this content
    from ..evidence.signing import REWRITTEN
    body["countersigned_from"] = {k: body[k] for k in REWRITTEN if k in body}
    body["human"] = dict(body["human"], second_reviewer=approver.username, second_signed_at=at,
                         status=DECIDED[kind], second_person=person(approver),
                         **({"registry_at_decision": registry_now} if registry_now else {}),
                         **({"comment": words.strip()} if words else {}))
    if kind == "countersign":  # a final report names who to write to as the deployment says now
        c = contest()
        body["human"].update(contest=c, contest_channel=f"{c['controller']}, {c['contact']}")
    body["countersigns_log_row"] = waiting[report_id]["seq"]
    body["countersignature"] = seal
    folder = {"countersign": "countersigned", "return": "returned", "reject": "rejected"}[kind]
    out = write_report(body, path.parent / folder, log=log, kind=kind)
    if pin and kind == "countersign":
        out["registry_tags"] = _tag_version(pin, report_id, body["facts"]["outcome"]["outcome"] if "facts" in body
                                            else kind)
    return out


def _registry_now(pin: dict) -> dict:
    """Where the reviewed version's alias points as the second reviewer decides, and whether its
    files still hash as pinned (:func:`crnnaudit.model.registry.check`).

    Raises:
        RegistryError: the registry does not answer, or the version's files changed.
    """
    from ..model.registry import check
    return check(pin)


def _tag_version(pin: dict, report_id: str, outcome: str) -> str:
    """With ``CRNNAUDIT_REGISTRY_TAGS=1``, the final report's id and outcome as tags on the version
    it concerns. The report is final whatever the registry answers: a failure is said, not raised."""
    from ..errors import RegistryError
    from ..model.registry import write_tags
    try:
        written = write_tags(pin, {"crnnaudit.last_report": report_id, "crnnaudit.last_outcome": outcome})
    except RegistryError as e:
        return f"not written: {e}"
    return "written" if written else "off (CRNNAUDIT_REGISTRY_TAGS)"


def returned_to(author: Identity, log: AuditLog | None = None) -> list[dict]:
    """The reports an approver returned to ``author``, newest first, with the comment."""
    rows = (log or AuditLog()).rows()
    out = []
    for r in rows:
        p = payload_or_raw(r)
        if r["kind"] == "return" and normalised(p.get("reviewer")) == normalised(author.username):
            out.append({"seq": r["seq"], "ts": r["ts"], "report_id": p.get("report_id"), "clip": p.get("clip"),
                        "window": p.get("window"), "comment": p.get("comment"), "by": p.get("second_reviewer")})
    return out[::-1]


def review_status(rows: list[dict]) -> dict[str, str]:
    """Per clip SHA-256, where its review stands in the log: ``decided`` (a review row,
    awaiting countersignature) or ``countersigned``; clips absent were not reviewed."""
    signed = {payload_or_raw(r).get("report_id") for r in rows if r["kind"] == "countersign"}
    out: dict[str, str] = {}
    for r in rows:
        p = payload_or_raw(r)
        if r["kind"] == "review" and p.get("clip_sha256"):
            done = p.get("report_id") in signed
            if out.get(p["clip_sha256"]) != "countersigned":
                out[p["clip_sha256"]] = "countersigned" if done else "decided"
    return out
