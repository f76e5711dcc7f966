"""Justification reports: ``report write`` (as an auditor), ``report countersign`` (as an
approver other than the author), ``report verify`` (anyone: no account, no TensorFlow)."""

from __future__ import annotations

from .common import Progress, add_as, add_model, load, signed_in, window_for
from ..vocabulary import DECISIONS


def cmd_write(args) -> int:
    from .. import build_report, explain, open_clip, write_report
    who = signed_in(args.as_user, "draft_report", "draft reports")
    model = load(args, evidence=True)
    clip = open_clip(args.clip)
    window, timeline = window_for(model, clip, args.window)
    es = explain(model, window, progress=Progress("explaining", "steps"))
    body = build_report(model, clip, window, es, decision=args.decision, reviewer=who.username,
                        reason=args.reason or "", timeline=timeline, contest_channel=args.contest,
                        blur=not args.no_blur)
    out = write_report(body, args.out)
    print(f"report {body['report_id']}: {out['html']}, {out['pdf']}, {out['json']}; "
          f"audit log row {out['log_row']}")
    return 0


def cmd_countersign(args) -> int:
    from ..report.countersign import countersign
    out = countersign(args.report, signed_in(args.as_user, "countersign", "countersign decisions"))
    print(f"countersigned: {out['json'].parent} ; audit log row {out['log_row']}")
    return 0


def cmd_verify(args) -> int:
    from ..evidence.signing import verify_file
    log = None
    if args.log is not None:
        from ..evidence.log import AuditLog
        log = AuditLog(args.log or None)
    res = verify_file(args.file, log=log)
    print(res["message"])
    return 0 if res["ok"] else 1


def add_commands(sub) -> None:
    """report write | countersign | verify."""
    group = sub.add_parser("report", help="justification reports: write one, countersign one, verify a file")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="{write,countersign,verify}",
                                 parser_class=type(group))

    s = verbs.add_parser("write", help="explain a window and write the signed report (HTML, PDF, JSON) as an auditor")
    add_model(s)
    s.add_argument("clip", help="the video file (MP4, MOV, MKV, WebM or AVI)")
    s.add_argument("--decision", choices=DECISIONS, required=True,
                   help="the reviewer's decision about the model's output")
    add_as(s, "auditor")
    s.add_argument("--reason", help="why (required to override, and whenever the model gives no reliable reading)")
    s.add_argument("--contest", help="how a data subject contests the decision (default: the deployment's channel)")
    s.add_argument("--no-blur", action="store_true", help="do not blur faces in exported frames (the report says so)")
    s.add_argument("--window", default="auto", help="'auto' (the most anomalous window) or a window number")
    s.add_argument("--out", required=True, help="the folder for report-<id>.html, .pdf and .json")
    s.set_defaults(fn=cmd_write)

    s = verbs.add_parser("countersign", help="countersign a report as an approver other than its author "
                                             "(the report is sealed again and logged)")
    s.add_argument("report", metavar="REPORT", help="the report's JSON file, or the id of a report the app wrote")
    add_as(s, "approver", ", not the report's author")
    s.set_defaults(fn=cmd_countersign)

    s = verbs.add_parser("verify", help="check a report or instructions file: its hash, its signature, the key "
                                        "(no account needed)")
    s.add_argument("file", help="a report or instructions file (.html, .pdf or .json)")
    s.add_argument("--log", nargs="?", const="", default=None, metavar="DB",
                   help="also find the file's SHA-256 in a row of a log whose chain verifies "
                        "(default log: CRNNAUDIT_AUDIT_DB, else CRNNAUDIT_HOME/audit.sqlite)")
    s.set_defaults(fn=cmd_verify)
