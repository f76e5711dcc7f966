"""Four eyes: a decision is final only when an approver other than its author countersigns.

A report is written (and logged as a ``review`` row) with the status "awaiting
countersignature". An approver countersigns it in the app: the report is written again, sealed,
with both identities and both times and the status "final", and logged as a ``countersign``
row. Both identities come from sign-in, never from a typed name.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from ..evidence.accounts import AccessError, Identity
from ..evidence.chain import payload_or_raw
from ..evidence.keys import load_signing_key
from ..evidence.log import AuditLog
from ..evidence.signing import countersignature
from ..config import home


def reports_dir() -> Path:
    return home() / "reports"


def pending(log: AuditLog | None = None) -> list[dict]:
    """Reviews that wait for a countersignature, oldest first."""
    rows = (log or AuditLog()).rows()
    signed = {payload_or_raw(r).get("report_id") for r in rows if r["kind"] == "countersign"}
    out = []
    for r in rows:
        p = payload_or_raw(r)
        if r["kind"] == "review" and p.get("report_id") and p["report_id"] not in signed:
            out.append({"seq": r["seq"], "ts": r["ts"], **{k: p.get(k) for k in (
                "report_id", "reviewer", "decision", "reason", "clip", "model", "anomaly_score")}})
    return out


def countersign(report: str | Path, approver: Identity, log: AuditLog | None = None,
                now: datetime | None = None) -> dict:
    """Countersign a report as ``approver``: ``report`` is its ``report.json``, or the id of
    one the app wrote (under ``CRNNAUDIT_HOME/reports``); returns write_report's result (the
    countersigned report is written beside the original, in ``countersigned/``).

    Raises:
        AccessError: not an approver, the approver wrote the decision, already countersigned,
            unknown report, or the stored report does not verify.
    """
    from .files import write_report
    from ..evidence.signing import verify_file
    approver.require("countersign", "countersign decisions")
    log = log or AuditLog()
    path = Path(report)
    if path.suffix.lower() != ".json":
        path = reports_dir() / str(report) / "report.json"
    if not path.is_file():
        raise AccessError(f"{report}: no such report (give its report.json, or the id of a report the app wrote)")
    try:
        report_id = json.loads(path.read_text(encoding="utf-8"))["report"]["report_id"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AccessError(f"{path}: not a crnnaudit JSON report ({e})") from e
    waiting = {p["report_id"]: p for p in pending(log)}
    if report_id not in waiting:
        raise AccessError(f"report {report_id}: nothing waits for a countersignature under that id "
                          "(unknown, or countersigned already)")
    author = waiting[report_id]["reviewer"]
    if author == approver.username:
        raise AccessError(f"report {report_id}: {approver.username} wrote this decision; four eyes means "
                          "another approver countersigns it")
    check = verify_file(path, log=log)  # the very file the log recorded, in a chain that verifies
    if not check["ok"]:
        raise AccessError(f"report {report_id}: the stored report does not verify ({check['message']})")
    body = json.loads(path.read_text(encoding="utf-8"))["report"]
    at = (now or datetime.now(timezone.utc)).isoformat()
    seal = countersignature(body, approver.username, at, load_signing_key())  # bound to this report's content
    body["human"] = dict(body["human"], second_reviewer=approver.username, second_signed_at=at, status="final")
    body["countersigns_log_row"] = waiting[report_id]["seq"]
    body["countersignature"] = seal
    return write_report(body, path.parent / "countersigned", log=log, kind="countersign")


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
