"""Integrity of exported reports: SHA-256 always, HMAC-SHA256 when a key is configured.

JSON reports carry ``integrity`` beside the ``report`` body (hash over the canonical body).
HTML and PDF files end with a trailer of comment lines holding the hash (and HMAC) of every
byte before it: ``<!-- crnnaudit-integrity ... -->`` in HTML, ``%crnnaudit-integrity ...`` after
the PDF's ``%%EOF`` (readers ignore it). Set ``CRNNAUDIT_SIGNING_KEY`` to sign.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

from .anchor import canonical
from ..config import read_at_most, setting
from ..errors import ReportError
from ..limits import MAX_REPORT_BYTES

KEY_ENV = "CRNNAUDIT_SIGNING_KEY"
_HTML_MARK = b"\n<!-- crnnaudit-integrity "
_PDF_MARK = b"\n%crnnaudit-integrity "


def _key() -> bytes | None:
    key = setting(KEY_ENV)
    return key.encode() if key else None


def _seal(data: bytes) -> dict:
    key = _key()
    out = {"sha256": hashlib.sha256(data).hexdigest()}
    if key:
        out["hmac_sha256"] = hmac.new(key, data, hashlib.sha256).hexdigest()
    return out


def seal_json(body: dict) -> bytes:
    integrity = _seal(canonical(body).encode())
    return (json.dumps({"report": body, "integrity": integrity}, indent=1, ensure_ascii=False,
                       sort_keys=True) + "\n").encode()


def seal_bytes(data: bytes, kind: str) -> bytes:
    mark = _HTML_MARK if kind == "html" else _PDF_MARK
    tail = b" -->\n" if kind == "html" else b"\n"
    return data + mark + json.dumps(_seal(data), sort_keys=True).encode() + tail


def verify_file(path: str | Path, log=None) -> dict:
    """Whether a report file is intact and authentic.

    - With ``CRNNAUDIT_SIGNING_KEY`` set, a report passes only with a valid HMAC: an unsigned
      file, or one whose signature was removed or does not match, fails and says why.
    - Without the key, a signed report cannot be checked (an edited copy, re-hashed, keeping
      its old HMAC, looks the same): it fails unless the log vouches for it.
    - ``log`` (an :class:`~crnnaudit.evidence.log.AuditLog`): the file's SHA-256 must be recorded in a
      review row of that log, whose keyed, anchored chain must verify. A file the log vouches
      for is authentic whatever the key situation here.

    Returns:
        ``{"ok", "sha256", "signed", "signature_ok", "log_row", "message"}``.

    Raises:
        ReportError: the file is missing or is not a crnnaudit report.
    """
    path = Path(path)
    data = read_at_most(path, MAX_REPORT_BYTES, ReportError, "crnnaudit report")
    if path.suffix == ".json":
        try:
            doc = json.loads(data)
            body, seal = doc["report"], doc["integrity"]
        except (ValueError, KeyError, TypeError) as e:
            raise ReportError(f"{path}: not a crnnaudit JSON report ({e})") from e
        payload = canonical(body).encode()
    else:
        mark = _HTML_MARK if path.suffix in (".html", ".htm") else _PDF_MARK
        at = data.rfind(mark)
        if at < 0:
            raise ReportError(f"{path}: no crnnaudit integrity trailer; not a crnnaudit report")
        payload = data[:at]
        raw = data[at + len(mark):].strip()
        raw = raw[:-3].strip() if raw.endswith(b"-->") else raw
        try:
            seal = json.loads(raw)
        except ValueError as e:
            raise ReportError(f"{path}: damaged integrity trailer ({e})") from e
    if not isinstance(seal, dict):
        raise ReportError(f"{path}: damaged integrity seal (not a mapping)")
    result = _check_seal(path, payload, seal)
    if log is not None:
        _check_log(path, data, log, result)
    return result


def _check_seal(path: Path, payload: bytes, seal: dict) -> dict:
    digest = hashlib.sha256(payload).hexdigest()
    hashed = digest == seal.get("sha256")
    signed = "hmac_sha256" in seal
    result = {"ok": False, "sha256": seal.get("sha256"), "signed": signed, "signature_ok": None, "log_row": None}
    key = _key()
    if not hashed:
        result["message"] = f"{path.name} was altered: its content does not match its SHA-256"
    elif key is not None and not signed:
        result["message"] = (f"{path.name} has no signature, but {KEY_ENV} is set here and every report "
                             "written with it is signed: the signature was removed, or the file was made elsewhere")
    elif key is not None:
        result["signature_ok"] = hmac.compare_digest(hmac.new(key, payload, hashlib.sha256).hexdigest(),
                                                     str(seal["hmac_sha256"]))
        result["ok"] = result["signature_ok"]
        result["message"] = (f"{path.name} is intact and its signature is valid" if result["ok"] else
                             f"{path.name} was altered: its HMAC signature does not match (wrong key, or "
                             "altered and re-hashed)")
    elif signed:
        result["message"] = (f"{path.name}: signed, but {KEY_ENV} is not set here, so the signature cannot "
                             "be checked, and an altered copy with its SHA-256 recomputed would look the same: "
                             "verify with the key, or against the audit log (--log)")
    else:
        result["ok"] = True
        result["message"] = (f"{path.name} matches its SHA-256 (unsigned: anyone can re-hash an altered copy; "
                             "check it against the audit log with --log)")
    return result


def _check_log(path: Path, data: bytes, log, result: dict) -> None:
    """Find the file's SHA-256 in a review row of a log whose chain verifies."""
    from .log import payload_or_raw
    check = log.verify()
    if not check.ok:
        result["ok"] = False
        result["message"] += f"; the audit log does not verify: {check.message}"
        return
    digest = hashlib.sha256(data).hexdigest()
    row = next((r for r in log.rows() if r["kind"] in ("review", "countersign")
                and digest in (payload_or_raw(r).get("files_sha256") or {}).values()), None)
    if row is None:
        result["ok"] = False
        result["message"] += "; the audit log holds no record of this file (SHA-256 " + digest[:16] + "…)"
        return
    result["log_row"] = int(row["seq"])  # the very bytes the log recorded: authentic
    result["ok"] = True
    result["message"] = (f"{path.name} is the file recorded in audit log row {row['seq']} ({row['ts']}); "
                         f"the log's chain verifies ({check.message})")
