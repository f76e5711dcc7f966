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
import os
from pathlib import Path

from ..audit import canonical
from ..errors import ReportError

KEY_ENV = "CRNNAUDIT_SIGNING_KEY"
#: A report is a few MB (its key frames); anything far larger is not one.
MAX_REPORT_BYTES = 256 << 20
_HTML_MARK = b"\n<!-- crnnaudit-integrity "
_PDF_MARK = b"\n%crnnaudit-integrity "


def _key() -> bytes | None:
    key = os.environ.get(KEY_ENV)
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


def verify_file(path: str | Path) -> dict:
    """Whether a report file is intact (and, with a key, authentic).

    Returns:
        ``{"ok", "sha256", "signed", "signature_ok", "message"}``.

    Raises:
        ReportError: the file is missing or is not a crnnaudit report.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_REPORT_BYTES + 1)
    except (OSError, ValueError) as e:
        raise ReportError(f"{str(path)[:200]}: cannot read ({getattr(e, 'strerror', None) or e})") from e
    if len(data) > MAX_REPORT_BYTES:
        raise ReportError(f"{path}: over {MAX_REPORT_BYTES >> 20} MB; not a crnnaudit report")
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
    digest = hashlib.sha256(payload).hexdigest()
    result = {"ok": digest == seal.get("sha256"), "sha256": seal.get("sha256"),
              "signed": "hmac_sha256" in seal, "signature_ok": None}
    key = _key()
    if result["signed"]:
        if key is None:
            result["message"] = f"signed, but {KEY_ENV} is not set here: only the hash was checked"
        else:
            result["signature_ok"] = hmac.compare_digest(
                hmac.new(key, payload, hashlib.sha256).hexdigest(), seal["hmac_sha256"])
            result["ok"] = result["ok"] and result["signature_ok"]
    if not result["ok"]:
        why = "its content does not match its SHA-256" if digest != seal.get("sha256") else \
            "its HMAC signature does not match (wrong key, or altered and re-hashed)"
        result["message"] = f"{path.name} was altered: {why}"
    else:
        result.setdefault("message", f"{path.name} is intact" + (" and its signature is valid"
                                                                 if result["signature_ok"] else ""))
    return result
