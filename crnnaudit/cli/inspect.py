"""Looking at a model and a clip: ``info``, ``score``, ``explain``, ``calibrate``. These sign
and log nothing (``calibrate`` writes the card of a model from the models folders)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .common import Progress, add_model, load, positive_int, window_for


def cmd_info(args) -> int:
    model = load(args)
    info = model.describe()
    info["verify_max_abs_diff"] = model.verify()
    info["card"] = model.card.to_dict()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    print(f"model: {model.name}")
    if model.registry:
        print(f"pinned {model.registry['pinned_at']} from {model.registry['tracking_uri']}: the alias or version "
              "was resolved once, and this command used that version throughout")
    print(model.layers_table().to_string(index=False))
    for key in ("sha256", "input", "per_frame_layers", "target_layer", "conv_maps", "feature_shape",
                "recurrent_layers", "outputs", "output_activation", "capabilities"):
        print(f"{key:>18}: {info[key]}")
    print(f"{'verify':>18}: max |original - decomposed| = {info['verify_max_abs_diff']:.3g}")
    return 0


def cmd_score(args) -> int:
    from .. import open_clip
    model = load(args)
    clip = open_clip(args.clip)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    keep = checkpoint_path(out)
    if keep.exists():
        print(f"a checkpoint of an earlier run is there ({keep}): finished windows are taken from it", file=sys.stderr)
    timeline = model.score(clip, stride=args.stride, progress=Progress("scoring", "windows"), checkpoint=keep)
    timeline.table.to_csv(out, index=False)
    if timeline.checkpoint_note:
        print(timeline.checkpoint_note, file=sys.stderr)
    if timeline.resumed_windows:
        print(f"resumed: {timeline.resumed_windows} of {len(timeline.table)} windows came from the checkpoint "
              "of the run that stopped; the rest were scored now")
    for line in timeline_lines(timeline, out):
        print(line)
    return 0


def checkpoint_path(out: Path) -> Path:
    """Where ``score --out OUT`` keeps its finished windows until it completes (``OUT.partial.jsonl``)."""
    return out.with_name(out.name + ".partial.jsonl")


def timeline_lines(timeline, out) -> list[str]:
    """What ``score`` says about a timeline, a sentence per finding."""
    from .. import NO_STATISTICS
    from ..decision import NO_RELIABLE_READING
    t = timeline.table
    top = t.loc[timeline.top_window()]
    lines = [f"{len(t)} windows -> {out}; highest anomaly score {top['anomaly_score']:.3f} "
             f"in window {int(top['window'])} ({top['start_s']:.2f}-{top['end_s']:.2f} s)"]
    if "unlike_training" in t:
        lines.append(f"{int(t['unlike_training'].sum())} of {len(t)} windows are unlike the data the model was "
                     "trained on (column unlike_training): their scores may mean nothing")
    else:
        lines.append(NO_STATISTICS)
    if "quality_flags" in t:
        lines.append(f"{int((t['quality_flags'] != '').sum())} of {len(t)} windows fail an image-quality check "
                     "(column quality_flags)")
    withheld = int((t["decision"] == NO_RELIABLE_READING).sum())
    if withheld:
        lines.append(f"{withheld} of {len(t)} windows have no reliable reading (column decision): no anomaly "
                     "decision is drawn from their scores")
    return lines


def cmd_explain(args) -> int:
    from .. import explain, export_explanations, open_clip
    model = load(args)
    clip = model.sampled(open_clip(args.clip))
    window, _ = window_for(model, clip, args.window)
    methods = args.methods.split(",") if args.methods else None
    target = int(args.target) if args.target is not None and args.target.isdigit() else args.target
    kwargs = {"methods": methods} if methods else {}
    es = explain(model, window, target=target, progress=Progress("explaining", "steps"), **kwargs)
    summary = export_explanations(model, clip, window, es, args.out, counterfactual=args.counterfactual)
    print(f"window {window.index} (frames {int(window.indices[0])}-{int(window.indices[-1])}), target "
          f"{es.target_name}: {', '.join(es)} -> {args.out}")
    for part in ("temporal", "region") if args.counterfactual else ():
        print(summary["counterfactual"][part]["statement"])
    return 0


def cmd_calibrate(args) -> int:
    from .. import allowed_model, calibrate_card, is_registry_uri, store_registry_card
    path = allowed_model(args.model)
    card_path, entry = calibrate_card(path, args.clips, card=args.card,
                                      percentile=args.percentile, progress=Progress("calibrating", "clips"),
                                      frame_rate=args.frame_rate)
    print(f"feature statistics of {entry['frames']} frames from {entry['clips']} clips -> "
          f"{card_path.with_name(entry['file'])}; threshold {entry['threshold']:.3g} "
          f"(percentile {entry['percentile']:g} of held-out windows); card {card_path}")
    if is_registry_uri(args.model) and args.card is None:  # the version's own card: stored back beside its file
        from .. import registry_pin
        pin = registry_pin(path)
        stored = [store_registry_card(pin, card_path.with_name(entry["file"])), store_registry_card(pin, card_path)]
        print(f"stored in the registry as files of {pin.uri} version {pin.version}: {', '.join(stored)}")
    return 0


def add_commands(sub) -> None:
    """info, score, explain, calibrate."""
    s = sub.add_parser("info", help="what was found in a model, and the decomposition check")
    add_model(s)
    s.add_argument("--json", action="store_true", help="print everything as JSON")
    s.set_defaults(fn=cmd_info)

    s = sub.add_parser("score", help="score every window of a clip into a CSV timeline (a run that is stopped "
                                     "resumes from its last finished window: OUT.partial.jsonl)")
    add_model(s)
    s.add_argument("clip", help="the video file (MP4, MOV, MKV, WebM or AVI)")
    s.add_argument("--stride", type=positive_int, help="frames between window starts (default: the card's)")
    s.add_argument("--out", default="timeline.csv", help="the CSV to write (default: timeline.csv)")
    s.set_defaults(fn=cmd_score)

    s = sub.add_parser("explain", help="explain one window of a clip: maps, frame contributions, summary.json")
    add_model(s)
    s.add_argument("clip", help="the video file (MP4, MOV, MKV, WebM or AVI)")
    s.add_argument("--window", default="auto", help="'auto' (the most anomalous window) or a window number")
    s.add_argument("--methods", help="comma-separated methods (default: gradcam,saliency,frame_occlusion,"
                                     "temporal_ig,prefix_score)")
    s.add_argument("--target", help="the class to explain, by name or output index (default: the predicted "
                                    "class, or the anomaly score of a sigmoid model)")
    s.add_argument("--out", required=True, help="the folder for the PNGs, the overlay video and summary.json")
    s.add_argument("--counterfactual", action="store_true", help="also find the smallest set of frames (and "
                   "region) whose removal changes the outcome, verified by re-scoring")
    s.set_defaults(fn=cmd_explain)

    s = sub.add_parser("calibrate", help="statistics of the per-frame features of clips like the training "
                                         "data, written beside the card (for 'unlike the training data')")
    s.add_argument("model", help="the model file, in a models folder (CRNNAUDIT_MODELS_DIR)")
    s.add_argument("clips", nargs="+", help="clip files or folders of clips like the training data")
    s.add_argument("--card", help="the card to update (default: the sidecar beside the model)")
    s.add_argument("--percentile", type=float, default=99.5,
                   help="percentile of held-out windows' distances that sets the threshold (default 99.5)")
    s.add_argument("--frame-rate", type=float, metavar="FPS",
                   help="frames per second the model was trained on, recorded in the card; clips are sampled to "
                        "it by their timestamps (default: the card's; none: every decoded frame)")
    s.set_defaults(fn=cmd_calibrate)
