"""A run folder's seal: what a finished run holds, signed and logged when it is written, checked
before anything is built from it.

``RUN/manifest.json`` names every file of the run (its path inside the folder and SHA-256), the
model's hash and the run's counts, sealed like a report (Ed25519, :func:`seal_json`) and logged
as a ``run`` row. :func:`check_run` re-hashes every file the manifest names and refuses a run
whose seal is missing, foreign or broken, or one of whose files was changed, added among the
tables, or removed: instructions for use and the Dataset page's figures then never rest on a
table someone edited after the run.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from ..errors import CrnnauditError
from ..footage.video import sha256_file
from ..limits import MAX_REPORT_BYTES

MANIFEST = "manifest.json"
SCHEMA = "crnnaudit.run-manifest/1"
#: The files every finished run has; a manifest that does not name them all seals nothing.
REQUIRED = ("clips.parquet", "windows.parquet", "summary.json", "model.json")
#: Pages drawn from the sealed files afterwards (``write_run_report``): not part of the seal.
DERIVED = ("report.html",)


def _files(run: Path) -> dict[str, str]:
    """Every regular file of the run folder (links and the manifest aside), by its path inside it."""
    out = {}
    for p in sorted(run.rglob("*")):
        if (p.name != MANIFEST and p.is_file() and not p.is_symlink() and ".partial" not in p.name
                and p.relative_to(run).as_posix() not in DERIVED):
            out[p.relative_to(run).as_posix()] = sha256_file(p)
    return out


def seal_run(run: str | Path, summary: dict, log=None, by: str | None = None) -> dict:
    """Write ``RUN/manifest.json`` (signed) and log it, naming ``by`` (who ran it; a library call
    that names nobody is said to be one); returns the log row.

    Raises:
        SigningKeyError: no signing key (nothing is written).
    """
    from ..evidence.anchor import canonical
    from ..evidence.keys import load_signing_key
    from ..evidence.log import AuditLog
    from ..evidence.signing import seal_json
    run = Path(run)
    key = load_signing_key()
    by = by or "a library call (run_batch, no account named)"
    body = {"schema": SCHEMA, "run": run.name, "by": by, "sealed_at": datetime.now(timezone.utc).isoformat(),
            "model_sha256": summary.get("model_sha256"), "clips": summary.get("clips"),
            "files": _files(run)}
    data = seal_json(body, key)
    (run / MANIFEST).write_bytes(data)
    return (log or AuditLog()).append({"action": "run sealed", "run": run.name, "by": by,
                                       "model_sha256": body["model_sha256"],
                                       "clips": body["clips"], "files": len(body["files"]),
                                       "manifest_sha256": hashlib.sha256(canonical(body).encode()).hexdigest()},
                                      kind="run")


def check_run(run: str | Path) -> dict:
    """The run's manifest, once its seal verifies and every file it names hashes as sealed.

    Raises:
        CrnnauditError: no manifest, a seal that does not verify (or a key not pinned here), a
            file changed, removed, or a table the manifest does not name; the message names
            the run and the file.
    """
    from ..evidence.anchor import canonical
    from ..evidence.keys import fingerprint, trusted_fingerprints, verify
    run = Path(run)
    path = run / MANIFEST
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_REPORT_BYTES:
            raise OSError("missing, not a regular file, or too large")
        doc = json.loads(path.read_text(encoding="utf-8"))
        body, seal = doc["report"], doc["integrity"]
        ok = verify(seal["public_key"], seal["signature"], canonical(body).encode())
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CrnnauditError(f"{run}: the run is not sealed ({MANIFEST}: {e}); re-run `crnnaudit batch` on the same "
                             "clips into this folder to seal it") from e
    pinned = trusted_fingerprints()
    if not ok or body.get("schema") != SCHEMA or (pinned is not None and fingerprint(seal["public_key"]) not in pinned):
        raise CrnnauditError(f"{run}: the run's seal ({MANIFEST}) does not verify, or its key is not pinned here: "
                             "nothing is built from it")
    files = body.get("files") or {}
    missing = [f for f in REQUIRED if f not in files]
    if missing:
        raise CrnnauditError(f"{run}: the run's seal does not name {', '.join(missing)}")
    now = _files(run)
    for name, digest in files.items():
        if now.get(name) != digest:
            what = "was removed" if name not in now else "was changed"
            raise CrnnauditError(f"{run}: {name} {what} after the run was sealed: an edited run, refused")
    extra = [n for n in now if n not in files and (n.endswith((".parquet", ".npz")) or n.startswith("clips/"))]
    if extra:
        raise CrnnauditError(f"{run}: {extra[0]} was added after the run was sealed: an edited run, refused")
    return body
