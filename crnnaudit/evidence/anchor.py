"""What keeps the audit log honest from outside the database: its signed checkpoint.

Every append also writes, outside the database, a note of the row count and the chain's head,
signed with the installation key (:mod:`.keys`): ``CRNNAUDIT_LOG_CHECKPOINT``, else
``CRNNAUDIT_HOME/checkpoints/<log id>.json``. Deleting the tail, emptying or deleting the log,
or rewriting it from some row on leaves the database behind its checkpoint, and
:meth:`crnnaudit.evidence.log.AuditLog.verify` says so. Whoever can write the data folder can
put an older checkpoint back, though: the same note also goes to a witness outside it
(:mod:`.witness`), which is what defeats a rollback.

Kept free of heavy imports: ``crnnaudit audit verify`` starts in well under a second.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path

from ..config import home, setting
from ..errors import AuditLogError


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def log_id(url: str) -> str:
    """A stable name for a log, without its password."""
    safe = url.split("@")[-1] if "@" in url else url
    return hashlib.sha256(safe.encode()).hexdigest()[:16]


def checkpoint_path(url: str) -> Path:
    override = setting("CRNNAUDIT_LOG_CHECKPOINT")
    return Path(override) if override else home() / "checkpoints" / f"{log_id(url)}.json"


def make_checkpoint(url: str, key, seq: int, head_hash: str, ts: str) -> dict:
    """A signed note of the chain's head: ``{"checkpoint", "public_key", "signature"}``."""
    note = {"log": log_id(url), "seq": int(seq), "head_hash": head_hash, "ts": ts}
    return {"checkpoint": note, **key.sign(canonical(note).encode())}


def open_checkpoint(doc, where: str) -> dict:
    """The note of a signed checkpoint document, with the key that signed it
    (``public_key``), once its signature verifies.

    Raises:
        AuditLogError: unreadable, or its signature does not match (forged or altered).
    """
    from .keys import verify
    try:
        note, public, signature = doc["checkpoint"], doc["public_key"], doc["signature"]
        int(note["seq"]), str(note["head_hash"]), str(note["ts"])
    except (KeyError, TypeError, ValueError) as e:
        raise AuditLogError(f"{where}: the audit log's checkpoint is unreadable ({e}); it was damaged "
                            "or replaced") from e
    if not verify(public, signature, canonical(note).encode()):
        raise AuditLogError(f"{where}: the audit log's checkpoint does not match its signature: it was "
                            "forged or altered")
    return dict(note, public_key=public)


def read_checkpoint(url: str) -> dict | None:
    """The data folder's signed checkpoint of the log at ``url`` (see :func:`open_checkpoint`),
    or None when none was ever written.

    Raises:
        AuditLogError: the checkpoint is unreadable or its signature does not match.
    """
    path = checkpoint_path(url)
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AuditLogError(f"{path}: the audit log's checkpoint is unreadable ({e}); it was damaged "
                            "or replaced") from e
    return open_checkpoint(doc, str(path))


def write_checkpoint(url: str, doc: dict) -> None:
    """Record a signed checkpoint unless a later head is already recorded (writers may finish
    out of order); under a file lock, replaced atomically."""
    path = checkpoint_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = read_checkpoint(url)
        except AuditLogError:
            return  # a damaged or forged checkpoint stays as evidence: verify keeps saying so
        if current is not None and int(current["seq"]) >= int(doc["checkpoint"]["seq"]):
            return
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc), encoding="utf-8")
        os.replace(tmp, path)
