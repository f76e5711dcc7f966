"""GDPR housekeeping: uploaded clips, and what was derived from them, are erased after a
retention period and on request; each erasure is a chained row of the audit log that keeps the
clip's hash, never its content. And the Art. 30-style record of processing.

    CRNNAUDIT_RETENTION_DAYS   how long uploads are kept (default 30)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..config import home, number
from ..errors import CrnnauditError
from ..limits import checked_days

def retention_days() -> float:
    """How long uploads are kept: ``CRNNAUDIT_RETENTION_DAYS`` (30)."""
    return checked_days(number("CRNNAUDIT_RETENTION_DAYS"), "CRNNAUDIT_RETENTION_DAYS")


def uploads_older_than(days: float, now: float | None = None) -> tuple[int, int]:
    """``(how many uploads a purge at ``days`` would erase, how many there are)``."""
    cutoff = (now or time.time()) - checked_days(days) * 86400
    files = [p for p in _uploads().iterdir() if p.is_file()] if _uploads().is_dir() else []
    return sum(p.stat().st_mtime < cutoff for p in files), len(files)


def _uploads() -> Path:
    return home() / "uploads"


def _sha256(path: Path) -> str:
    from ..footage.video import sha256_file
    return sha256_file(path)


def erase_clip(clip_sha256: str, reason: str = "request", log=None, also: tuple = ()) -> dict:
    """Erase the uploaded clip with this SHA-256, its cached explanations and frames, and
    record the erasure in the audit log (hashes and counts only).

    Raises:
        CrnnauditError: not a SHA-256.
    """
    from .log import AuditLog
    from ..explainers.cache import ExplanationCache
    sha = clip_sha256.strip().lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise CrnnauditError(f"{clip_sha256!r}: a clip is named by its SHA-256 (64 hexadecimal digits)")
    files = [p for p in _uploads().glob(f"*-{sha[:16]}.*") if p.is_file() and _sha256(p) == sha] \
        if _uploads().is_dir() else []
    files += [Path(p) for p in also if Path(p) not in files]
    for p in files:
        p.unlink(missing_ok=True)
    explanations = ExplanationCache.default().erase_clip(sha)
    entry = {"clip_sha256": sha, "reason": reason, "uploads_removed": len(files),
             "explanations_removed": explanations}
    row = (log or AuditLog()).append(entry, kind="erasure")
    return dict(entry, log_row=row["seq"])


def apply_retention(days: float | None = None, now: float | None = None, log=None) -> list[dict]:
    """Erase every upload older than ``days`` (default: CRNNAUDIT_RETENTION_DAYS), one
    logged erasure per clip."""
    days = retention_days() if days is None else checked_days(days)
    cutoff = (now or time.time()) - days * 86400
    if not _uploads().is_dir():
        return []
    old: dict[str, list[Path]] = {}
    for p in _uploads().iterdir():
        if p.is_file() and p.stat().st_mtime < cutoff:  # a stale .partial too
            old.setdefault(_sha256(p), []).append(p)
    return [erase_clip(sha, reason=f"retention ({days:g} days)", log=log, also=tuple(paths))
            for sha, paths in sorted(old.items())]


def record_of_processing(card=None) -> dict:
    """The Art. 30 GDPR-style record of processing, from the model card and the configuration."""
    from .anchor import checkpoint_path
    from .store import default_url
    card = card.to_dict() if card is not None else {}
    url = default_url()
    return {
        "controller": card.get("owner") or "the organisation operating crnnaudit (fill in)",
        "purposes": ["human review of automated video anomaly detections (GDPR Art. 22(3), "
                     "EU AI Act Art. 14 human oversight)",
                     card.get("intended_use") or "as stated in the model card"],
        "categories_of_data_subjects": ["people visible in the reviewed camera footage"],
        "categories_of_personal_data": ["video frames (images of people)", "derived explanation maps",
                                        "reviewers' names and decisions"],
        "recipients": ["reviewers and approvers of this installation", "data subjects who contest a decision",
                       "supervisory authorities on request"],
        "retention": {"uploaded_clips_and_derived_data_days": retention_days(),
                      "audit_log": "kept; purged only by a recorded retention run (crnnaudit audit retention)"},
        "security_measures": ["uploads checked and bounded before parsing; models loaded in a sandbox",
                              "faces blurred in exported frames unless the reviewer turns it off",
                              "reports sealed with SHA-256, signed with HMAC-SHA256 when a key is set",
                              "audit log: keyed hash chain, signed checkpoint outside the database",
                              "erasure on request by clip hash, logged without content"],
        "systems": {"audit_log": url.split("@")[-1], "checkpoint": str(checkpoint_path(url)),
                    "model": {k: card.get(k) for k in ("name", "version", "classes", "training_data")}},
    }


def write_record(path: str | Path, card=None) -> Path:
    path = Path(path)
    path.write_text(json.dumps(record_of_processing(card), indent=2, ensure_ascii=False), encoding="utf-8")
    return path
