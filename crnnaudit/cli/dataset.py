"""Dataset audits: ``batch`` (a whole archive, resumable) and ``instructions`` (AI Act Art. 13
instructions for use, from a labelled run)."""

from __future__ import annotations

import json

from .common import Progress, add_as, positive_int, signed_in


def cmd_batch(args) -> int:
    from .. import run_batch
    who = signed_in(args.as_user, "review", "run dataset audits")  # the run's seal names who ran it
    bar = Progress("auditing", "clips")
    summary = run_batch(args.model, args.sources, args.out, executor=args.executor, workers=args.workers,
                        address=args.address, card=args.card, labels=args.labels, explain=args.explain,
                        methods=args.methods, progress=lambda done, total, rate: bar(done, total), by=who.username)
    report = None
    if args.report:
        from .. import write_run_report
        report = write_run_report(args.out)
    if args.json:
        print(json.dumps(summary, indent=2, default=float))
        return 0
    print(batch_summary(summary, args.out, report))
    return 0


def batch_summary(s: dict, out, report) -> str:
    """A few lines a person reads after a run (the whole summary: --json, or RUN/summary.json)."""
    lines = [f"{s['clips']} clips ({s['scored_this_run']} scored now, {s['failed']} could not be read), "
             f"{s['flagged']} flagged over the threshold; executor {s['executor']}"]
    if "accuracy" in s:
        lines.append(f"labelled: accuracy {s['accuracy']:.3f}, detection ROC-AUC {s.get('detection_roc_auc', float('nan')):.3f}"
                     + (f", window ROC-AUC {s['window_roc_auc']:.3f}" if "window_roc_auc" in s else ""))
    lines.append(f"tables: {out}/clips.parquet, {out}/windows.parquet; summary: {out}/summary.json"
                 + (f"; report: {report}" if report else ""))
    return "\n".join(lines)


def cmd_instructions(args) -> int:
    from .. import build_instructions, write_instructions
    who = signed_in(args.as_user, "manage_models", "write instructions for use")
    body = build_instructions(args.run, args.conditions, author=who.username)
    out = write_instructions(body, args.out)
    f = body["figures"]["accuracy"]
    print(f"accuracy {f['rate']:.1%} (95% CI {f['low']:.1%} to {f['high']:.1%}) on {f['n']} labelled clips; "
          f"{len(body['conditions'])} condition column(s)")
    print(f"instructions for use -> {out['html']}, {out['pdf'].name}, {out['json'].name} (signed; audit log row "
          f"{out['log_row']})")
    return 0


def add_commands(sub) -> None:
    """batch, instructions."""
    from .. import EXECUTORS
    s = sub.add_parser("batch", help="score a whole archive of clips (resumable) into RUN: per-clip and "
                                     "per-window Parquet, summary.json with the figures when labelled")
    s.add_argument("model", help="the model file (.keras or .h5)")
    s.add_argument("sources", nargs="+", help="folders, globs or clip files")
    s.add_argument("--out", required=True, metavar="RUN", help="the run folder (a rerun skips clips already done)")
    s.add_argument("--card", help="the model card (default: MODEL.card.json or .yaml beside the model)")
    s.add_argument("--labels", help="CSV with columns clip,label (else <clip>.truth.json beside each clip)")
    s.add_argument("--explain", choices=["none", "flagged", "all"], default="none",
                   help="explain the windows over the threshold, or every window (default: none)")
    s.add_argument("--methods", nargs="+", metavar="METHOD",
                   help="explanation methods (default: gradcam frame_occlusion temporal_ig prefix_score)")
    s.add_argument("--executor", choices=list(EXECUTORS), default="local",
                   help="local: this process; ray: a Ray Data pipeline of model-holding actors")
    s.add_argument("--address", help="the executor's cluster (Ray: auto, ray://head:10001); default: one started here")
    s.add_argument("--workers", type=positive_int, help="workers, one model each (ray: default 2)")
    s.add_argument("--no-report", dest="report", action="store_false", help="skip RUN/report.html")
    s.add_argument("--json", action="store_true", help="print the whole summary as JSON")
    add_as(s, "auditor")
    s.set_defaults(fn=cmd_batch)

    s = sub.add_parser("instructions", help="instructions for use (AI Act Art. 13) from a labelled batch run: "
                                            "accuracy and per-class figures with 95%% intervals, per condition")
    s.add_argument("run", help="a finished, labelled run folder (crnnaudit batch ... --labels)")
    s.add_argument("--conditions", help="a CSV with a 'clip' column and condition columns (camera, light, crowd...)")
    s.add_argument("--out", required=True, help="the folder for instructions.html, .pdf and .json")
    add_as(s, "admin")
    s.set_defaults(fn=cmd_instructions)
