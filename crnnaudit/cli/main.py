"""The ``crnnaudit`` command. It calls the public API and prints; it computes nothing itself."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..config import quiet_tensorflow, setting
from .admin import _signed_in, add_admin_commands
from ..vocabulary import DECISIONS
from ..dataset.engines import ENGINES


def _model(args, evidence: bool = False):
    """The model the command names; one whose output is signed or logged must come from where
    models may come (:mod:`crnnaudit.model.places`)."""
    from ..model import load_model
    from ..model.places import allowed_model
    return load_model(allowed_model(args.model) if evidence else args.model, card=getattr(args, "card", None))


def cmd_info(args) -> int:
    model = _model(args)
    info = model.describe()
    info["verify_max_abs_diff"] = model.verify()
    info["card"] = model.card.to_dict()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(model.layers_table().to_string(index=False))
    for key in ("sha256", "input", "per_frame_layers", "target_layer", "conv_maps", "feature_shape",
                "recurrent_layers", "outputs", "output_activation", "capabilities"):
        print(f"{key:>18}: {info[key]}")
    print(f"{'verify':>18}: max |original - decomposed| = {info['verify_max_abs_diff']:.3g}")
    return 0


def _progress(label):
    def report(done, total):
        print(f"\r{label}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    return report


def cmd_score(args) -> int:
    from ..video import open_clip
    model = _model(args)
    clip = open_clip(args.clip)
    timeline = model.score(clip, stride=args.stride, progress=_progress("windows"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    timeline.table.to_csv(out, index=False)
    top = timeline.table.loc[timeline.top_window()]
    print(f"{len(timeline.table)} windows -> {out}; highest anomaly score {top['anomaly_score']:.3f} "
          f"in window {int(top['window'])} ({top['start_s']:.2f}-{top['end_s']:.2f} s)")
    if "unlike_training" in timeline.table:
        print(f"{int(timeline.table['unlike_training'].sum())} of {len(timeline.table)} windows are unlike the "
              "data the model was trained on (column unlike_training): their scores may mean nothing")
    else:
        from ..model.statistics import NO_STATISTICS
        print(NO_STATISTICS)
    if "quality_flags" in timeline.table:
        degraded = int((timeline.table["quality_flags"] != "").sum())
        print(f"{degraded} of {len(timeline.table)} windows fail an image-quality check (column quality_flags)")
    withheld = int((timeline.table["decision"] == "no reliable reading").sum())
    if withheld:
        print(f"{withheld} of {len(timeline.table)} windows have no reliable reading (column decision): no "
              "anomaly decision is drawn from their scores")
    return 0


def cmd_batch(args) -> int:
    from ..dataset.engines import run_batch

    def progress(done, total, rate):
        left = (total - done) / rate if rate > 0 else 0
        bar = "#" * round(24 * done / max(total, 1))
        print(f"\r[{bar:<24}] {done}/{total} clips, {rate:.2f} clips/s, about {left:.0f} s left",
              end="" if done < total else "\n", file=sys.stderr, flush=True)
    summary = run_batch(args.model, args.sources, args.out, engine=args.engine, workers=args.workers,
                        address=args.address, card=args.card, labels=args.labels, explain=args.explain,
                        methods=args.methods, progress=progress)
    report = None
    if args.report:
        from ..dataset.report import write_run_report
        report = write_run_report(args.out)
    if args.json:
        print(json.dumps(summary, indent=2, default=float))
        return 0
    print(batch_summary(summary, args.out, report))
    return 0


def batch_summary(s: dict, out, report) -> str:
    """A few lines a person reads after a run (the whole summary: --json, or RUN/summary.json)."""
    lines = [f"{s['clips']} clips ({s['scored_this_run']} scored now, {s['failed']} could not be read), "
             f"{s['flagged']} flagged over the threshold; engine {s['engine']}"]
    if "accuracy" in s:
        lines.append(f"labelled: accuracy {s['accuracy']:.3f}, detection ROC-AUC {s.get('detection_roc_auc', float('nan')):.3f}"
                     + (f", window ROC-AUC {s['window_roc_auc']:.3f}" if "window_roc_auc" in s else ""))
    lines.append(f"tables: {out}/clips.parquet, {out}/windows.parquet; summary: {out}/summary.json"
                 + (f"; report: {report}" if report else ""))
    return "\n".join(lines)


def cmd_calibrate(args) -> int:
    from ..model.calibration import calibrate_card
    from ..model.places import allowed_model
    card_path, entry = calibrate_card(allowed_model(args.model), args.clips, card=args.card, percentile=args.percentile,
                                      progress=_progress("calibrating"))
    print(f"feature statistics of {entry['frames']} frames from {entry['clips']} clips -> "
          f"{card_path.with_name(entry['file'])}; threshold {entry['threshold']:.3g} "
          f"(percentile {entry['percentile']:g} of held-out windows); card {card_path}")
    return 0


def cmd_synth(args) -> int:
    from ..demo import synthesize
    paths = synthesize(args.out, args.count, args.seed, frames=args.frames)
    for p in paths:
        print(p)
    return 0


def cmd_explain(args) -> int:
    from .. import explain as run_explain
    from ..report.export import export_explanations
    from ..video import open_clip
    model = _model(args)
    clip = open_clip(args.clip)
    window, _ = _window_for(model, clip, args.window)
    methods = args.methods.split(",") if args.methods else None
    target = args.target
    if target is not None and target.isdigit():
        target = int(target)
    kwargs = {"methods": methods} if methods else {}
    es = run_explain(model, window, target=target, progress=_progress("explaining"), **kwargs)
    summary = export_explanations(model, clip, window, es, args.out, counterfactual=args.counterfactual)
    print(f"window {window.index} (frames {int(window.indices[0])}-{int(window.indices[-1])}), target "
          f"{es.target_name}: {', '.join(es)} -> {args.out}")
    for part in ("temporal", "region") if args.counterfactual else ():
        print(summary["counterfactual"][part]["statement"])
    return 0


def _window_for(model, clip, choice):
    from ..errors import ExplanationError
    if choice == "auto":
        timeline = model.score(clip, progress=_progress("scoring"))
        return clip.window(timeline.top_window(), model.window_length, model.card.stride, model.frame_size), timeline
    try:
        k = int(choice)
    except ValueError:
        raise ExplanationError(f"--window must be 'auto' or a window number, got {choice!r}") from None
    return clip.window(k, model.window_length, model.card.stride, model.frame_size), None


def cmd_report(args) -> int:
    if args.model == "verify":  # a hash check: no TensorFlow (signing imports none)
        from ..evidence.signing import verify_file
        if not args.clip:
            print("crnnaudit: error: report verify needs a FILE", file=sys.stderr)
            return 2
        log = None
        if args.log is not None:
            from ..evidence.log import AuditLog
            log = AuditLog(args.log or None)
        res = verify_file(args.clip, log=log)
        print(res["message"])
        return 0 if res["ok"] else 1
    from .. import explain as run_explain
    from ..errors import ReportError
    from ..report import build_report, write_report
    from ..video import open_clip
    if args.model == "countersign":
        from ..report.countersign import countersign
        out = countersign(args.clip or "", _signed_in(args.as_user or "", "countersign", "countersign decisions"))
        print(f"countersigned: {out['json'].parent} ; audit log row {out['log_row']}")
        return 0
    if not args.clip or not args.decision or not args.as_user or not args.out:
        raise ReportError("report MODEL CLIP needs --decision, --as and --out")
    who = _signed_in(args.as_user, "draft_report", "draft reports")
    model = _model(args, evidence=True)
    clip = open_clip(args.clip)
    window, timeline = _window_for(model, clip, args.window)
    es = run_explain(model, window, progress=_progress("explaining"))
    body = build_report(model, clip, window, es, decision=args.decision, reviewer=who.username,
                        reason=args.reason or "", timeline=timeline, contest_channel=args.contest,
                        blur=not args.no_blur)
    out = write_report(body, args.out)
    print(f"report {body['report_id']}: {out['html']}, {out['pdf']}, {out['json']}; "
          f"audit log row {out['log_row']}")
    return 0


def cmd_audit(args) -> int:
    from ..evidence.log import AuditLog
    log = AuditLog(args.db)
    if args.action == "verify":
        res = log.verify()
        print(res.message)
        return 0 if res.ok else 1
    if args.action == "retention":
        from ..limits import checked_days
        from .admin import confirm_all
        days = checked_days(args.days)
        _signed_in(args.as_user, "retention", "purge the audit log")
        confirm_all(*log.retention_plan(days), "rows of the audit log", args.yes)
        row = log.apply_retention(days, force=args.force, reason=args.reason or "")
        print("nothing expired" if row is None else f"removed {row['payload']} as row {row['seq']}")
        return 0
    text = log.export(args.format)
    if args.out:
        from ..card import ModelCard
        from ..evidence.retention import write_record
        out = Path(args.out)
        out.write_text(text, encoding="utf-8")
        record = write_record(out.with_name(out.stem + ".record-of-processing.json"),
                              ModelCard.read(args.card) if args.card else None)
        from ..evidence.oversight import reviewer_figures, rule
        oversight = out.with_name(out.stem + ".oversight.json")
        oversight.write_text(json.dumps({"rule": rule(), "reviewers": reviewer_figures(log.rows())}, indent=2),
                             encoding="utf-8")
        print(f"{len(log.rows())} rows -> {out}; record of processing (GDPR Art. 30) -> {record}; "
              f"how each reviewer decides (automation bias, AI Act Art. 14(4)(b)) -> {oversight}")
    else:
        print(text)
    return 0


def cmd_demo(args) -> int:
    import time
    from ..demo import model as demo
    t0 = time.perf_counter()

    def progress(what, done, total):
        print(f"\r{what}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    if args.rebuild:
        path = demo.build_demo(seed=args.seed, force=True, progress=progress)
        print(f"demo model rebuilt from the recipe in {time.perf_counter() - t0:.0f} s: {path}")
    elif demo.demo_is_current():
        path = demo.demo_model_path()
        print(f"demo model already built: {path}")
    else:
        path = demo.ensure_demo(progress)
        print(f"demo model ready in {time.perf_counter() - t0:.0f} s: {path}")
    if args.evaluate:
        figures = demo.evaluate_and_record(progress, real_clip=args.real_clip)
        print(json.dumps(figures, indent=2, default=float))
    if args.ship:
        from ..demo.shipped import ship
        print(f"shipped weights, card and statistics written to {ship(path)}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage mistakes end like every other failure: one line, exit 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="crnnaudit", description="Audit CNN + RNN video anomaly models.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("info", help="what was found in a model, and the decomposition check")
    s.add_argument("model"), s.add_argument("--card"), s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_info)
    s = sub.add_parser("score", help="score every window of a clip")
    s.add_argument("model"), s.add_argument("clip"), s.add_argument("--card")
    s.add_argument("--stride", type=_positive_int, help="frames between window starts (default: the card's)")
    s.add_argument("--out", default="timeline.csv")
    s.set_defaults(fn=cmd_score)
    s = sub.add_parser("batch", help="score a whole archive of clips (resumable) into RUN: per-clip and "
                                     "per-window Parquet, summary.json with the figures when labelled")
    s.add_argument("model"), s.add_argument("sources", nargs="+", help="folders, globs or clip files")
    s.add_argument("--out", required=True, metavar="RUN"), s.add_argument("--card")
    s.add_argument("--labels", help="CSV with columns clip,label (else <clip>.truth.json beside each clip)")
    s.add_argument("--explain", choices=["none", "flagged", "all"], default="none",
                   help="explain the windows over the threshold, or every window (default: none)")
    s.add_argument("--methods", nargs="+", metavar="METHOD",
                   help="explanation methods (default: gradcam frame_occlusion temporal_ig prefix_score)")
    s.add_argument("--engine", choices=list(ENGINES), default="local",
                   help="local: this process; ray: a Ray Data pipeline of model-holding actors")
    s.add_argument("--address", help="the engine's cluster (Ray: auto, ray://head:10001); default: one started here")
    s.add_argument("--workers", type=_positive_int, help="workers, one model each (ray: default 2)")
    s.add_argument("--no-report", dest="report", action="store_false", help="skip RUN/report.html")
    s.add_argument("--json", action="store_true", help="print the whole summary as JSON")
    s.set_defaults(fn=cmd_batch)
    s = sub.add_parser("calibrate", help="statistics of the per-frame features of clips like the training "
                                         "data, written beside the card (for 'unlike the training data')")
    s.add_argument("model"), s.add_argument("clips", nargs="+", help="clip files or folders of clips")
    s.add_argument("--card", help="the card to update (default: the sidecar beside the model)")
    s.add_argument("--percentile", type=float, default=99.5)
    s.set_defaults(fn=cmd_calibrate)
    s = sub.add_parser("synth", help="write synthetic clips with ground truth")
    s.add_argument("--out", required=True), s.add_argument("--count", type=int, default=4)
    s.add_argument("--seed", type=int, default=0), s.add_argument("--frames", type=int, default=48)
    s.set_defaults(fn=cmd_synth)
    s = sub.add_parser("explain", help="explain one window of a clip")
    s.add_argument("model"), s.add_argument("clip"), s.add_argument("--card")
    s.add_argument("--window", default="auto"), s.add_argument("--methods")
    s.add_argument("--target"), s.add_argument("--out", required=True)
    s.add_argument("--counterfactual", action="store_true", help="also find the smallest set of frames (and "
                   "region) whose removal changes the outcome, verified by re-scoring")
    s.set_defaults(fn=cmd_explain)
    s = sub.add_parser("demo", help="make the demo VGG19 + GRU model ready (from the shipped weights, in "
                                    "seconds); --rebuild trains it from the recipe; --evaluate measures it")
    s.add_argument("--rebuild", "--force", action="store_true", help="train it again from the recipe (minutes)")
    s.add_argument("--evaluate", action="store_true", help="measure its figures through the app's path and "
                                                           "write them into its card")
    s.add_argument("--real-clip", help="real footage whose windows should all read as unlike the training data")
    s.add_argument("--ship", action="store_true", help="(maintainers) copy the weights into the package")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_demo)
    _add_review_and_admin_commands(sub)
    return p


def _add_review_and_admin_commands(sub) -> None:
    """report, audit, user, erase, housekeeping: the commands that decide, check or administer."""
    s = sub.add_parser("report", help="write a justification report as a signed-in account (or: report "
                                      "verify FILE; report countersign REPORT_ID --as APPROVER)")
    s.add_argument("model", help="the model file, or 'verify', or 'countersign'")
    s.add_argument("clip", nargs="?", help="the clip (after verify: the report file; after countersign: the report id)")
    s.add_argument("--card"), s.add_argument("--decision", choices=DECISIONS)
    s.add_argument("--as", dest="as_user", metavar="USER",
                   help="the account the report is written as (password: CRNNAUDIT_PASSWORD or a prompt)")
    s.add_argument("--reason")
    s.add_argument("--contest", help="how a data subject contests the decision")
    s.add_argument("--no-blur", action="store_true", help="do not blur faces (the report says so)")
    s.add_argument("--window", default="auto"), s.add_argument("--out")
    s.add_argument("--log", nargs="?", const="", default=None, metavar="DB",
                   help="(verify) also check the file against the audit log's record of it "
                        "(default log: CRNNAUDIT_HOME/audit.sqlite)")
    s.set_defaults(fn=cmd_report)
    s = sub.add_parser("audit", help="verify or export the audit log")
    s.add_argument("action", choices=["verify", "export", "retention"])
    s.add_argument("--format", choices=["json", "csv"], default="json"), s.add_argument("--out")
    s.add_argument("--days", default="365", help="(retention) retention period in days, 1 to 36,500 (default 365)")
    s.add_argument("--force", action="store_true", help="(retention) purge below the AI Act's six months")
    s.add_argument("--reason", help="(retention) why; required with --force, recorded in the purge row")
    s.add_argument("--yes", action="store_true", help="(retention) purge even when that is every row")
    s.add_argument("--db", help="SQLAlchemy URL or SQLite file (default: CRNNAUDIT_AUDIT_DB, else "
                                "CRNNAUDIT_HOME/audit.sqlite)")
    s.add_argument("--card", help="(export) the model card the record of processing names")
    s.add_argument("--as", dest="as_user", metavar="USER", help="(retention) the admin account it runs as")
    s.set_defaults(fn=cmd_audit)
    add_admin_commands(sub)


def main(argv=None) -> int:
    """Run one command. Every failure ends in one line on stderr and exit status 2: the
    message of a crnnaudit error, else a short notice (``CRNNAUDIT_DEBUG=1`` shows the
    traceback of an unexpected failure instead)."""
    from ..errors import CrnnauditError
    quiet_tensorflow()
    args = build_parser().parse_args(argv)
    try:
        return args.fn(args)
    except CrnnauditError as e:
        print(f"crnnaudit: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except (MemoryError, RecursionError, OSError) as e:
        print(f"crnnaudit: error: {args.command}: {type(e).__name__}: {_one_line(e)}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - one line, never a traceback, unless debugging
        if setting("CRNNAUDIT_DEBUG"):
            raise
        print(f"crnnaudit: error: {args.command} failed unexpectedly ({type(e).__name__}: "
              f"{_one_line(e)}); run with CRNNAUDIT_DEBUG=1 for the traceback and report it",
              file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:2000] or type(e).__name__


if __name__ == "__main__":
    sys.exit(main())
