"""Writing a report: the body rendered as HTML, PDF and JSON, each sealed, and logged."""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2

from ..evidence.log import AuditLog
from ..errors import ReportError
from .facts import fact_sheet
from .pdf import render_pdf
from .sentences import annex
from .summary import plain_summary
from ..evidence.keys import load_signing_key
from ..evidence.signing import seal_bytes, seal_json

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("crnnaudit.report", "."),
                          autoescape=jinja2.select_autoescape(["html"]))


def render_html(body: dict) -> str:
    """The report as one self-contained HTML page: its sentences from the fact sheet."""
    facts = body.get("facts") or fact_sheet(body)
    return _ENV.get_template("template.html").render(r=body, facts=facts, annex=annex(facts))


def report_file(report_id: str, ext: str) -> str:
    """A report's file name: ``report-<id>.<ext>`` (on disk and in downloads)."""
    return f"report-{report_id}.{ext}"


def write_report(body: dict, out_dir: str | Path, log: AuditLog | None | bool = True, kind: str = "review") -> dict:
    """Write ``report-<id>.html``, ``.pdf`` and ``.json`` (each sealed) into ``out_dir`` and
    append the review to the audit log. The fact sheet and the summary are made again from the
    body first, so a countersigned, returned or rejected report says so everywhere.

    Returns:
        ``{"html", "pdf", "json": paths, "sha256": {...}, "log_row": seq or None}``.

    Raises:
        SigningKeyError: no signing key (nothing is written). ReportError: the folder cannot
            be made.
    """
    key = load_signing_key()
    facts = fact_sheet(body)
    body = dict(body, facts=facts, summary=plain_summary(facts), annex=annex(facts))
    body = dict(body, signing_key={"fingerprint": key.fingerprint, "public_key": key.public_b64,
                                   "algorithm": "Ed25519"})
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ReportError(f"{out}: cannot create the report folder ({e.strerror or e})") from e
    if log:
        log = AuditLog() if log is True else log
        body = dict(body, audit_log_head=log.head())  # the log's head when this was written
    files = {"html": seal_bytes(render_html(body).encode(), "html", key),
             "pdf": seal_bytes(render_pdf(body), "pdf", key),
             "json": seal_json(body, key)}
    paths, digests = {}, {}
    for ext, data in files.items():
        path = out / report_file(body["report_id"], ext)
        path.write_bytes(data)
        paths[ext] = path
        digests[ext] = hashlib.sha256(data).hexdigest()
    row = None
    if log:
        row = log.append({"report_id": body["report_id"], "created": body["created"],
                          "clip_sha256": body["clip"]["sha256"], "clip": body["clip"]["file"],
                          "model_sha256": body["model"]["sha256"], "model": body["model"]["name"],
                          "window": body["output"]["window"], "anomaly_score": body["output"]["anomaly_score"],
                          "model_decision": body["output"]["model_decision"],
                          "decision": body["human"]["decision"], "reason": body["human"]["reason"],
                          "reviewer": body["human"]["reviewer"],
                          "seconds_to_decision": body["human"].get("seconds_to_decision"),
                          "second_reviewer": body["human"]["second_reviewer"],
                          "second_signed_at": body["human"].get("second_signed_at"),
                          "status": body["human"].get("status"), "comment": body["human"].get("comment"),
                          "faces_blurred": body["privacy"]["faces_blurred"], "files_sha256": digests,
                          **_registry_row(facts)},
                         kind=kind)["seq"]
    return {**paths, "sha256": digests, "log_row": row}


def _registry_row(facts: dict) -> dict:
    """A registry version's URI and number in the log row (its digest is the row's model_sha256),
    and where its alias pointed at the last check."""
    g = facts["model"].get("registry")
    if not g:
        return {}
    last = g.get("at_decision") or g.get("at_signing") or {}
    return {"model_uri": g["uri"], "model_version": g["version"], "alias_version_at_signing": last.get("alias_version")}
