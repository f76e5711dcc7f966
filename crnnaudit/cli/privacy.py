"""GDPR housekeeping: ``erase`` (a clip on request) and ``housekeeping`` (uploads past the
retention period). Each erasure is a chained log row."""

from __future__ import annotations

from .common import add_as, confirm_all, signed_in


def cmd_erase(args) -> int:
    from .. import erase_clip
    signed_in(args.as_user, "retention", "erase clips")
    done = erase_clip(args.sha256)
    print(f"erased clip {done['clip_sha256'][:16]}…: {done['uploads_removed']} upload(s), "
          f"{done['explanations_removed']} cached explanation(s); audit log row {done['log_row']}")
    return 0


def cmd_housekeeping(args) -> int:
    from .. import apply_retention, retention_days, uploads_older_than
    from ..limits import checked_days
    days = checked_days(args.days) if args.days is not None else retention_days()
    signed_in(args.as_user, "retention", "erase uploads")
    confirm_all(*uploads_older_than(days), "uploads", args.yes)
    done = apply_retention(days)
    print(f"{len(done)} upload(s) older than {days:g} days erased" +
          "".join(f"\n  {d['clip_sha256'][:16]}… (audit log row {d['log_row']})" for d in done))
    return 0


def add_commands(sub) -> None:
    """erase, housekeeping."""
    s = sub.add_parser("erase", help="erase an uploaded clip and what was derived from it (GDPR), by its SHA-256")
    s.add_argument("sha256", help="the clip's SHA-256 (as the Review page, the log and reports name it)")
    add_as(s, "admin")
    s.set_defaults(fn=cmd_erase)
    s = sub.add_parser("housekeeping", help="erase uploads older than the retention period (CRNNAUDIT_RETENTION_DAYS)")
    s.add_argument("--days", help="retention period in days, 1 to 36,500 (default: CRNNAUDIT_RETENTION_DAYS, 30)")
    s.add_argument("--yes", action="store_true", help="erase even when that is every upload")
    add_as(s, "admin")
    s.set_defaults(fn=cmd_housekeeping)
