"""The audit log: ``audit verify | export | retention`` and ``compliance`` (which legal clauses
this deployment's reports and log answer)."""

from __future__ import annotations

import json
from pathlib import Path

from .common import add_as, confirm_all, signed_in


def cmd_audit(args) -> int:
    from .. import AuditLog
    log = AuditLog(args.db)
    if args.verb == "verify":
        from .. import UNANCHORED, UNANCHORED_EXIT, evidence_anchors as anchors
        res = log.verify()
        print(res.message)
        if res.ok and not anchors() and not args.accept_unanchored:
            print(UNANCHORED)
            return UNANCHORED_EXIT
        return 0 if res.ok else 1
    if args.verb == "retention":
        from ..limits import checked_days
        days = checked_days(args.days)
        signed_in(args.as_user, "retention", "purge the audit log")
        confirm_all(*log.retention_plan(days), "rows of the audit log", args.yes)
        row = log.apply_retention(days, force=args.force, reason=args.reason or "")
        print("nothing expired" if row is None else f"removed {row['payload']} as row {row['seq']}")
        return 0
    text = log.export(args.format)
    if not args.out:
        print(text)
        return 0
    from .. import ModelCard, oversight_rule, reviewer_figures, write_record_of_processing
    out = Path(args.out)
    out.write_text(text, encoding="utf-8")
    record = write_record_of_processing(out.with_name(out.stem + ".record-of-processing.json"),
                          ModelCard.read(args.card) if args.card else None)
    oversight = out.with_name(out.stem + ".oversight.json")
    oversight.write_text(json.dumps({"rule": oversight_rule(), "reviewers": reviewer_figures(log.rows())}, indent=2),
                         encoding="utf-8")
    print(f"{len(log.rows())} rows -> {out}; record of processing (GDPR Art. 30) -> {record}; "
          f"how each reviewer decides (automation bias, AI Act Art. 14(4)(b)) -> {oversight}")
    return 0


def cmd_compliance(args) -> int:
    from .. import NOT_ANSWERED, AuditLog, assess_compliance
    log = AuditLog()
    checked = log.verify()
    result = assess_compliance(log.rows(), checked)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0 if checked.ok else 1
    if not checked.ok:
        print(f"the audit log does not verify: {checked.message}\nno clause can be assessed on a broken log")
        return 1
    for c in result:
        print(f"{c['clause']:<20} {c['status'].upper():<16} {c['asks']}\n{'':<37}{c['why']}")
    missing = sum(c["status"] == NOT_ANSWERED for c in result)
    print(f"\n{len(result) - missing} of {len(result)} clauses answered at least in part by this deployment "
          "(crnnaudit/report/compliance.py maps each to the report and log fields that answer it)")
    return 0


def _db(parser) -> None:
    parser.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: CRNNAUDIT_AUDIT_DB, else "
                                     "CRNNAUDIT_HOME/audit.sqlite)")


def _unanchored(parser) -> None:
    parser.add_argument("--accept-unanchored", action="store_true",
                        help="exit 0 on an intact log although no witness or pinned key rules out a rewind or a "
                             "re-keying (otherwise exit 3)")


def add_commands(sub) -> None:
    """audit verify | export | retention; compliance."""
    group = sub.add_parser("audit", help="the audit log: verify its chain, export it, purge old rows")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="{verify,export,retention}",
                                 parser_class=type(group))
    s = verbs.add_parser("verify", help="walk the chain, check every signature, the checkpoint and the witness "
                                        "(exit 0 intact, 1 broken, 3 intact but unanchored)")
    _db(s)
    _unanchored(s)
    s.set_defaults(fn=cmd_audit)
    s = verbs.add_parser("export", help="the log as JSON or CSV (with --out: also the GDPR Art. 30 record of "
                                        "processing and how each reviewer decides)")
    _db(s)
    s.add_argument("--format", choices=["json", "csv"], default="json", help="the export's format (default json)")
    s.add_argument("--out", help="the file to write (default: print to standard output)")
    s.add_argument("--card", help="the model card the record of processing names")
    s.set_defaults(fn=cmd_audit)
    s = verbs.add_parser("retention", help="purge rows older than the retention period (itself a chained row)")
    _db(s)
    s.add_argument("--days", default="365", help="retention period in days, 1 to 36,500 (default 365)")
    s.add_argument("--force", action="store_true", help="purge below the AI Act's six months")
    s.add_argument("--reason", help="why; required with --force, recorded in the purge row")
    s.add_argument("--yes", action="store_true", help="purge even when that is every row")
    add_as(s, "admin")
    s.set_defaults(fn=cmd_audit)

    s = sub.add_parser("compliance", help="which legal clauses this deployment's reports and log answer "
                                          "(AI Act Art. 12-14, 19, 26(6), 86; GDPR Art. 13-15, 22(3), 30)")
    s.add_argument("--json", action="store_true", help="the assessment as JSON")
    s.set_defaults(fn=cmd_compliance)
