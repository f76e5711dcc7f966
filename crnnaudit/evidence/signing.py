"""Integrity of exported reports: a SHA-256 and an Ed25519 signature by the installation key.

JSON reports carry ``integrity`` beside the ``report`` body (over the canonical body). HTML and
PDF files end with a trailer of comment lines holding the hash and signature of every byte
before it: ``<!-- crnnaudit-integrity ... -->`` in HTML, ``%crnnaudit-integrity ...`` after the
PDF's ``%%EOF`` (readers ignore it). The public key travels in the seal, and its fingerprint is
printed in the report: anyone can verify a report without any secret, and
``CRNNAUDIT_TRUSTED_KEYS`` says whose key to accept.

A countersignature is bound to the report it countersigns: it signs the report's id, the
content hash of the report as its author wrote it, and the decision, so a countersignature
copied onto another report fails verification.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..config import read_at_most
from ..errors import ReportError
from ..limits import MAX_REPORT_BYTES
from . import keys
from .anchor import canonical

_HTML_MARK = b"\n<!-- crnnaudit-integrity "
_PDF_MARK = b"\n%crnnaudit-integrity "
#: What a countersignature signs, besides who and when: which report (its id and the content hash
#: of its body as its author sealed it), the author's decision and name, and the second
#: reviewer's verdict (countersign, return or reject).
COUNTERSIGNED_FIELDS = ("report_id", "report_sha256", "decision", "reviewer", "verdict")
#: The fields of a report body that a second reviewer's step replaces; their values as the
#: author sealed them travel in ``countersigned_from``, so that the author's body, and its hash,
#: can be rebuilt from the countersigned report alone.
REWRITTEN = ("human", "facts", "summary", "annex", "audit_log_head", "signing_key")


def _seal(data: bytes, key) -> dict:
    return {"sha256": hashlib.sha256(data).hexdigest(), **key.sign(data)}


def seal_json(body: dict, key) -> bytes:
    integrity = _seal(canonical(body).encode(), key)
    return (json.dumps({"report": body, "integrity": integrity}, indent=1, ensure_ascii=False,
                       sort_keys=True) + "\n").encode()


def seal_bytes(data: bytes, kind: str, key) -> bytes:
    mark = _HTML_MARK if kind == "html" else _PDF_MARK
    tail = b" -->\n" if kind == "html" else b"\n"
    return data + mark + json.dumps(_seal(data, key), sort_keys=True).encode() + tail


def body_sha256(body: dict) -> str:
    """The content hash of a report body (what its JSON seal's ``sha256`` is)."""
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def countersignature(body: dict, approver: str, at: str, key, verdict: str = "countersign") -> dict:
    """The countersignature of the report ``body`` (as its author sealed it) by ``approver``."""
    fields = {"report_id": body["report_id"], "report_sha256": body_sha256(body),
              "decision": body["human"]["decision"], "reviewer": body["human"]["reviewer"], "verdict": verdict}
    signed = dict(fields, by=approver, at=at)
    return dict(signed, **key.sign(canonical(signed).encode()))


def verify_file(path: str | Path, log=None) -> dict:
    """Whether a report file is intact and signed by a key that may be trusted here.

    - The SHA-256 must match and the Ed25519 signature verify under the public key in the
      seal; a file without a signature fails (every crnnaudit report is signed).
    - With ``CRNNAUDIT_TRUSTED_KEYS`` set, the signing key must be pinned there; without it, the
      result says whose key signed and that nothing is pinned.
    - A JSON report's countersignature must be bound to this report (id, decision, author).
    - ``log`` (an :class:`~crnnaudit.evidence.log.AuditLog`): the file's SHA-256 must also be
      recorded in a review row of that log, whose chain must verify.

    Returns:
        ``{"ok", "sha256", "signed", "signature_ok", "fingerprint", "trusted", "log_row", "message"}``.

    Raises:
        ReportError: the file is missing or is not a crnnaudit report.
    """
    path = Path(path)
    data = read_at_most(path, MAX_REPORT_BYTES, ReportError, "crnnaudit report")
    body = None
    if path.suffix.lower() == ".json":
        try:
            doc = json.loads(data)
            body, seal = doc["report"], doc["integrity"]
        except (ValueError, KeyError, TypeError) as e:
            raise ReportError(f"{path}: not a crnnaudit JSON report ({e})") from e
        payload = canonical(body).encode()
    else:
        payload, seal = _trailer(path, data)
    if not isinstance(seal, dict):
        raise ReportError(f"{path}: damaged integrity seal (not a mapping)")
    result = _check_seal(path, payload, seal, body if isinstance(body, dict) else None)
    if log is not None and result["ok"]:
        _check_log(path, data, log, result)
    return result


def _trailer(path: Path, data: bytes) -> tuple[bytes, dict]:
    mark = _HTML_MARK if path.suffix.lower() in (".html", ".htm") else _PDF_MARK
    at = data.rfind(mark)
    if at < 0:
        raise ReportError(f"{path}: no crnnaudit integrity trailer; not a crnnaudit report")
    raw = data[at + len(mark):].strip()
    raw = raw[:-3].strip() if raw.endswith(b"-->") else raw
    try:
        return data[:at], json.loads(raw)
    except ValueError as e:
        raise ReportError(f"{path}: damaged integrity trailer ({e})") from e


def _check_seal(path: Path, payload: bytes, seal: dict, body: dict | None) -> dict:
    result = {"ok": False, "sha256": seal.get("sha256"), "signed": "signature" in seal, "signature_ok": None,
              "fingerprint": None, "trusted": None, "log_row": None}
    if hashlib.sha256(payload).hexdigest() != seal.get("sha256"):
        result["message"] = f"{path.name} was altered: its content does not match its SHA-256"
        return result
    if not result["signed"]:
        result["message"] = (f"{path.name} has no signature: every crnnaudit report is signed, so the signature "
                             "was removed or the file was made elsewhere")
        return result
    public = str(seal.get("public_key", ""))
    result["signature_ok"] = keys.verify(public, str(seal["signature"]), payload)
    if not result["signature_ok"]:
        result["message"] = (f"{path.name} was altered: its signature does not match its content (edited and "
                             "re-hashed, or signed with another key than the one it carries)")
        return result
    fp = result["fingerprint"] = keys.fingerprint(public)
    problem = _body_problem(body, fp) if body is not None else None
    if problem:
        result["message"] = f"{path.name}: {problem}"
        return result
    result["trusted"], note = keys.trust_note(fp, keys.trusted_fingerprints())
    result["ok"] = result["trusted"]
    result["message"] = f"{path.name} is intact and its signature is valid; signed by {note}"
    return result


def _body_problem(body: dict, fp: str) -> str | None:
    """What in a JSON report's body contradicts its seal: the key it names, or a
    countersignature that belongs to another report."""
    named = (body.get("signing_key") or {}).get("fingerprint")
    if named and named != fp:
        return f"it names key {named[:16]}… but was signed by key {fp[:16]}…"
    cs = body.get("countersignature")
    if not cs:
        return None
    try:
        signed = {k: cs[k] for k in (*COUNTERSIGNED_FIELDS, "by", "at")}
        valid = keys.verify(cs["public_key"], cs["signature"], canonical(signed).encode())
    except (KeyError, TypeError):
        return "its countersignature is incomplete"
    if not valid:
        return "its countersignature does not match its signature: it was altered"
    mine = {"report_id": body.get("report_id"), "decision": (body.get("human") or {}).get("decision"),
            "reviewer": (body.get("human") or {}).get("reviewer")}
    wrong = [k for k, v in mine.items() if cs.get(k) != v]
    if wrong:
        return (f"its countersignature belongs to another report ({', '.join(wrong)} differ: report "
                f"{cs.get('report_id')}): copied onto this one")
    if (body.get("human") or {}).get("second_reviewer") != cs.get("by"):
        return "its second reviewer is not the one who countersigned"
    if author_body_sha256(body) != cs.get("report_sha256"):
        return ("its countersignature was given to other content: the report it sits in, as its author sealed "
                "it, does not hash to the report the countersignature names")
    return None


def author_body_sha256(body: dict) -> str | None:
    """The content hash of a countersigned report's body as its author sealed it, rebuilt from
    the report alone (``countersigned_from`` holds what the second reviewer's step replaced)."""
    before = body.get("countersigned_from")
    if not isinstance(before, dict):
        return None
    original = {k: v for k, v in body.items() if k not in (*REWRITTEN, "countersignature", "countersigns_log_row",
                                                             "countersigned_from")}
    original.update({k: v for k, v in before.items() if k in REWRITTEN})
    return body_sha256(original)


def _check_log(path: Path, data: bytes, log, result: dict) -> None:
    """Find the file's SHA-256 in a review (or instructions) row of a log whose chain verifies."""
    from .chain import payload_or_raw
    check = log.verify()
    if not check.ok:
        result["ok"] = False
        result["message"] += f"; the audit log does not verify: {check.message}"
        return
    digest = hashlib.sha256(data).hexdigest()
    row = next((r for r in log.rows() if r["kind"] in ("review", "countersign", "return", "reject", "instructions")
                and digest in (payload_or_raw(r).get("files_sha256") or {}).values()), None)
    if row is None:
        result["ok"] = False
        result["message"] += "; the audit log holds no record of this file (SHA-256 " + digest[:16] + "…)"
        return
    result["log_row"] = int(row["seq"])  # the very bytes the log recorded
    result["message"] = (f"{path.name} is the file recorded in audit log row {row['seq']} ({row['ts']}); "
                         f"{result['message'].split('; ', 1)[1]}; the log verifies ({check.message})")
