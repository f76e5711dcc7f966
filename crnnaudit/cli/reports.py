"""Justification reports: ``report write`` (as an auditor); ``report countersign``, ``report
return`` and ``report reject`` (as an approver other than the author); ``report verify``
(anyone: no account, no TensorFlow)."""

from __future__ import annotations

from .common import Progress, add_as, add_model, signed_in, window_number
from ..vocabulary import DECISIONS


def cmd_write(args) -> int:
    """The review the app holds, driven from the command line: the same service, the same
    transitions (open the clip, its window, explain, draft, build) and the same checks."""
    from .. import allowed_model
    from ..review import ReviewSession, World
    who = signed_in(args.as_user, "draft_report", "draft reports")
    model = str(allowed_model(args.model))
    review = ReviewSession(World(default_model=model, default_card=args.card), who)
    review.open_clip(args.clip)
    review.settle(Progress("scoring", "windows"))
    if args.window != "auto":
        review.select_window(window_number(args.window))
    review.explain(Progress("explaining", "methods"))
    review.draft(decision=args.decision, reason=args.reason or "", language=args.language, blur=not args.no_blur)
    report = review.build_report(Progress("building the report", "sections"), out=args.out)
    files = report["files"]
    print(f"report {report['report_id']} of window {report['window']}: {files['html']}, {files['pdf']}, "
          f"{files['json']}; audit log row {report['log_row']}")
    return 0


def cmd_countersign(args) -> int:
    from .. import countersign
    out = countersign(args.report, signed_in(args.as_user, "countersign", "countersign decisions"))
    print(f"countersigned: {out['json'].parent} ; audit log row {out['log_row']}")
    return 0


def cmd_return(args) -> int:
    from .. import return_report
    out = return_report(args.report, signed_in(args.as_user, "countersign", "return decisions"), args.comment)
    print(f"returned to its author: {out['json'].parent} ; audit log row {out['log_row']}")
    return 0


def cmd_reject(args) -> int:
    from .. import reject_report
    out = reject_report(args.report, signed_in(args.as_user, "countersign", "reject decisions"), args.reasons)
    print(f"rejected: {out['json'].parent} ; audit log row {out['log_row']}")
    return 0


def cmd_verify(args) -> int:
    from .. import verify_report
    log = None
    if args.log is not None:
        from .. import AuditLog
        log = AuditLog(args.log or None)
    from .. import UNANCHORED, UNANCHORED_EXIT, evidence_anchors as anchors
    res = verify_report(args.file, log=log)
    print(res["message"])
    if res["ok"] and not anchors(with_witness=log is not None) and not args.accept_unanchored:
        print(UNANCHORED)
        return UNANCHORED_EXIT
    return 0 if res["ok"] else 1


def add_commands(sub) -> None:
    """report write | countersign | return | reject | verify."""
    group = sub.add_parser("report", help="justification reports: write one; countersign, return or reject one; "
                                          "verify a file")
    verbs = group.add_subparsers(dest="verb", required=True, metavar="{write,countersign,return,reject,verify}",
                                 parser_class=type(group))

    s = verbs.add_parser("write", help="explain a window and write the signed report (HTML, PDF, JSON) as an auditor")
    add_model(s)
    s.add_argument("clip", help="the video file (MP4, MOV, MKV, WebM or AVI)")
    s.add_argument("--decision", choices=DECISIONS, required=True,
                   help="the reviewer's decision about the model's output")
    add_as(s, "auditor")
    s.add_argument("--reason", help="why (required to override, and whenever the model gives no reliable reading)")
    s.add_argument("--language", choices=["en", "fr", "de"], default=None,
                   help="the language of the summary for the person concerned (default: CRNNAUDIT_REPORT_LANGUAGE)")
    s.add_argument("--no-blur", action="store_true", help="do not blur faces in exported frames (the report says so)")
    s.add_argument("--window", default="auto", help="'auto' (the most anomalous window) or a window number")
    s.add_argument("--out", required=True, help="the folder for report-<id>.html, .pdf and .json")
    s.set_defaults(fn=cmd_write)

    s = verbs.add_parser("countersign", help="countersign a report as an approver other than its author "
                                             "(the report is sealed again and logged)")
    s.add_argument("report", metavar="REPORT", help="the report's JSON file, or the id of a report the app wrote")
    add_as(s, "approver", ", not the report's author")
    s.set_defaults(fn=cmd_countersign)

    s = verbs.add_parser("return", help="return a report to its author with a comment (not final; it reaches "
                                        "their Queue)")
    s.add_argument("report", metavar="REPORT", help="the report's JSON file, or the id of a report the app wrote")
    s.add_argument("--comment", required=True, help="what the author should look at again (they read it)")
    add_as(s, "approver", ", not the report's author")
    s.set_defaults(fn=cmd_return)

    s = verbs.add_parser("reject", help="reject a report's decision with reasons (it does not stand)")
    s.add_argument("report", metavar="REPORT", help="the report's JSON file, or the id of a report the app wrote")
    s.add_argument("--reasons", required=True, help="why the decision does not stand (the author reads them)")
    add_as(s, "approver", ", not the report's author")
    s.set_defaults(fn=cmd_reject)

    s = verbs.add_parser("verify", help="check a report or instructions file: its hash, its signature, the key "
                                        "(no account needed)")
    s.add_argument("file", help="a report or instructions file (.html, .pdf or .json)")
    s.add_argument("--log", nargs="?", const="", default=None, metavar="DB",
                   help="also find the file's SHA-256 in a row of a log whose chain verifies "
                        "(default log: CRNNAUDIT_AUDIT_DB, else CRNNAUDIT_HOME/audit.sqlite)")
    s.add_argument("--accept-unanchored", action="store_true",
                   help="exit 0 on an intact file although no pinned key (or, with --log, no witness) rules out a "
                        "re-keying (otherwise exit 3)")
    s.set_defaults(fn=cmd_verify)
