"""What keeps the audit log honest from outside the database: its key and its checkpoint.

- **The key.** Every row's hash is an HMAC-SHA256 under a key that is not in the database, so
  whoever can edit the database cannot re-hash a chain they changed or forge a row (a retention
  row included). ``CRNNAUDIT_LOG_KEY`` (text), else the file ``CRNNAUDIT_LOG_KEY_FILE``, else a
  key made on first use in ``CRNNAUDIT_HOME/keys/audit-log.key`` (mode 600). In production keep
  it elsewhere than the database's host (a secret store, a mounted secret).
- **The checkpoint.** Every append also writes, outside the database, a signed note of the row
  count and the chain's head: ``CRNNAUDIT_LOG_CHECKPOINT``, else
  ``CRNNAUDIT_HOME/checkpoints/<log id>.json``. Deleting the tail, emptying or deleting the log,
  or rewriting it from some row on leaves the database behind its checkpoint, and
  :meth:`crnnaudit.evidence.log.AuditLog.verify` says so. Put it on storage the database's
  administrators cannot rewrite (another host, write-once storage) for the strongest guarantee.

Kept free of heavy imports: ``crnnaudit audit verify`` starts in well under a second.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

from ..config import home, setting
from ..errors import AuditLogError


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def log_key() -> bytes:
    """The audit log's HMAC key (see the module's docstring for where it comes from)."""
    text = setting("CRNNAUDIT_LOG_KEY")
    if text:
        return text.encode()
    path = Path(setting("CRNNAUDIT_LOG_KEY_FILE") or home() / "keys" / "audit-log.key")
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        key = path.read_text().strip()
    except FileExistsError:  # another process made it between the check and the open
        key = path.read_text().strip()
    except OSError as e:
        raise AuditLogError(f"{path}: cannot read or create the audit log's key ({e.strerror or e})") from e
    if len(key) < 16:
        raise AuditLogError(f"{path}: the audit log's key is too short (at least 16 characters)")
    return key.encode()


def keyed_hash(key: bytes, fields: list) -> str:
    return hmac.new(key, canonical(fields).encode(), hashlib.sha256).hexdigest()


def log_id(url: str) -> str:
    """A stable name for a log, without its password."""
    safe = url.split("@")[-1] if "@" in url else url
    return hashlib.sha256(safe.encode()).hexdigest()[:16]


def checkpoint_path(url: str) -> Path:
    override = setting("CRNNAUDIT_LOG_CHECKPOINT")
    return Path(override) if override else home() / "checkpoints" / f"{log_id(url)}.json"


def read_checkpoint(url: str, key: bytes) -> dict | None:
    """The signed checkpoint of the log at ``url``, or None when none was ever written.

    Raises:
        AuditLogError: the checkpoint is unreadable or its signature does not match.
    """
    path = checkpoint_path(url)
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        note, mac = doc["checkpoint"], doc["hmac_sha256"]
        int(note["seq"]), str(note["head_hash"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AuditLogError(f"{path}: the audit log's checkpoint is unreadable ({e}); it was damaged "
                            "or replaced") from e
    if not hmac.compare_digest(keyed_hash(key, [note]), str(mac)):
        raise AuditLogError(f"{path}: the audit log's checkpoint is not signed with the log's key: "
                            "it was forged or altered")
    return note


def write_checkpoint(url: str, key: bytes, seq: int, head_hash: str, ts: str) -> None:
    """Record ``seq``/``head_hash`` unless a later head is already recorded (writers may finish
    out of order); under a file lock, replaced atomically."""
    path = checkpoint_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            current = read_checkpoint(url, key)
        except AuditLogError:
            return  # a damaged or forged checkpoint stays as evidence: verify keeps saying so
        if current is not None and int(current["seq"]) >= seq:
            return
        note = {"log": log_id(url), "seq": int(seq), "head_hash": head_hash, "ts": ts}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"checkpoint": note, "hmac_sha256": keyed_hash(key, [note])}), encoding="utf-8")
        os.replace(tmp, path)
