"""The report model: everything a review records, as one JSON-ready dict.

HTML, PDF and JSON are all rendered from this one body, so they cannot disagree, and the
JSON holds what is needed to re-run every explanation in it.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timezone

import cv2
import numpy as np

from .. import metrics, render
from ..errors import ReportError
from ..explainers.base import REGISTRY, ExplanationSet
from ..explainers.engine import versions
from ..model import AuditedModel, Timeline
from ..video import Clip, Window
from .privacy import blur_faces

DECISIONS = ("confirm", "override", "escalate")
SCHEMA = "crnnaudit.report/1"

LEGAL = [
    {"article": "GDPR Art. 15(1)(h)", "topic": "Meaningful information about the logic involved",
     "where": "Model, Output, Explanations, Key frames",
     "plain": "This report says which model looked at the video, what it concluded, how sure it "
              "was, and which moments and image regions drove that conclusion."},
    {"article": "GDPR Art. 22(3)", "topic": "Human intervention and the right to contest",
     "where": "Human review, Contesting this decision",
     "plain": "A person reviewed the model's output and took the decision recorded here. You may "
              "contest it through the channel given below."},
    {"article": "EU AI Act Art. 12", "topic": "Record-keeping (logs)",
     "where": "Integrity, Reproduce",
     "plain": "This review is recorded in a tamper-evident log; the report's fingerprint "
              "(SHA-256) lets anyone check it has not been changed."},
    {"article": "EU AI Act Art. 13", "topic": "Transparency and information to deployers",
     "where": "Model card, Known limitations, How far to trust the explanations",
     "plain": "The model's intended use, training data and known limitations are stated, with "
              "figures on how reliable each explanation is."},
    {"article": "EU AI Act Art. 14", "topic": "Human oversight",
     "where": "Human review",
     "plain": "The reviewer could confirm, override or escalate the model's output, and did so "
              "after seeing the explanations."},
    {"article": "EU AI Act Art. 86", "topic": "Right to an explanation of individual decisions",
     "where": "the whole report",
     "plain": "This document is the explanation of the decision taken about this video."},
]


def png_b64(rgb: np.ndarray, max_width: int = 480) -> str:
    if rgb.shape[1] > max_width:
        h = int(rgb.shape[0] * max_width / rgb.shape[1])
        rgb = cv2.resize(rgb, (max_width, h), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return base64.b64encode(buf.tobytes()).decode()


def temporal_plot(expset: ExplanationSet, indices, width=720, height=240) -> np.ndarray:
    """A plain line chart of per-frame contributions (scaled), drawn without a browser."""
    img = np.full((height, width, 3), 255, np.uint8)
    pad = 40
    cv2.line(img, (pad, height - pad), (width - 10, height - pad), (0, 0, 0), 1)
    cv2.line(img, (pad, 10), (pad, height - pad), (0, 0, 0), 1)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
    T = len(indices)
    xs = [pad + int(i * (width - pad - 20) / max(T - 1, 1)) for i in range(T)]
    row = 0
    for k, (name, exp) in enumerate(expset.items()):
        s = np.asarray(exp.frame_scores, float)
        if exp.maps is not None:
            continue
        if name == "prefix_score":
            ys = s  # probability, already 0..1
        else:
            ys = (s / (np.max(np.abs(s)) or 1.0) + 1) / 2
        pts = np.array([[x, int(height - pad - y * (height - pad - 20))] for x, y in zip(xs, ys)], np.int32)
        c = colours[k % len(colours)]
        cv2.polylines(img, [pts], False, c, 2)
        cv2.putText(img, name, (pad + 8, 22 + 16 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.45, c, 1, cv2.LINE_AA)
        row += 1
    for i in range(0, T, max(1, T // 8)):
        cv2.putText(img, str(int(indices[i])), (xs[i] - 8, height - pad + 16), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "frame", (width // 2, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return img


def _reading(name: str, faith: dict | None, sanity: dict | None) -> str:
    label = REGISTRY[name].label if name in REGISTRY else name
    parts = []
    if faith and "insertion_auc" in faith:
        gap = faith["insertion_auc"] - faith["deletion_auc"]
        verdict = "the highlighted regions matter to the model" if gap > 0.05 else \
            "removing the highlighted regions changed the score little more than adding them: weak evidence"
        parts.append(f"{label}: deletion AUC {faith['deletion_auc']:.2f}, insertion AUC "
                     f"{faith['insertion_auc']:.2f}; {verdict}.")
    if faith and "random_auc" in faith:
        better = faith["deletion_auc"] < faith["random_auc"] - 0.01
        parts.append(f"{label}: removing the frames it ranks first lowers the score "
                     f"{'faster' if better else 'no faster'} than removing frames at random "
                     f"(AUC {faith['deletion_auc']:.2f} vs {faith['random_auc']:.2f})"
                     f"{'' if better else ': treat its frame ranking with caution'}.")
    if sanity is not None:
        sim = sanity["final_similarity"].get(name)
        if sim is not None:
            if sanity["flagged"].get(name):
                parts.append(f"WARNING: {label}'s maps barely change when the model's weights are "
                             f"randomised (similarity {sim:.2f}); they may show the image, not the model.")
            else:
                parts.append(f"{label}'s maps change when the model's weights are randomised "
                             f"(similarity {sim:.2f}): they depend on what the model learned.")
    return " ".join(parts)


def build_report(model: AuditedModel, clip: Clip, window: Window, expset: ExplanationSet, *,
                 decision: str, reviewer: str, reason: str = "", timeline: Timeline | None = None,
                 second_reviewer: str | None = None, contest_channel: str | None = None,
                 blur: bool = True, key_frames: int = 3, faithfulness: bool = True,
                 sanity: bool = True, now: datetime | None = None) -> dict:
    """Build the report body for one reviewed window.

    Args:
        decision: ``confirm``, ``override`` or ``escalate``; ``reason`` is required to override.
        reviewer: who took the decision; ``second_reviewer`` signs off (four eyes).
        blur: blur faces in exported frames (on by default; turning it off is stated).
        faithfulness, sanity: compute those figures (they re-run the model).

    Raises:
        ReportError: a missing reviewer, an unknown decision, an override without reasons.
    """
    if decision not in DECISIONS:
        raise ReportError(f"decision {decision!r} is not one of {DECISIONS}")
    if not reviewer or not reviewer.strip():
        raise ReportError("the reviewer's name is required: a decision needs a responsible person")
    if decision == "override" and not (reason or "").strip():
        raise ReportError("an override needs the reviewer's reasons")
    now = now or datetime.now(timezone.utc)
    card = model.card
    probs = expset.probabilities
    score = float(model.anomaly_score(probs[None])[0])
    temporal = [n for n, e in expset.items() if e.maps is None and n != "prefix_score"]
    spatial = [n for n, e in expset.items() if e.maps is not None]
    ranking_source = temporal[0] if temporal else (spatial[0] if spatial else None)
    if ranking_source is None:
        raise ReportError("the report needs at least one explanation method besides prefix_score")
    order = np.argsort(-np.asarray(expset[ranking_source].frame_scores), kind="stable")[:key_frames]
    faces_found = 0
    frames_out = []
    for t in sorted(int(i) for i in order):
        src = clip.frame(int(window.indices[t]))
        if blur:
            src, n = blur_faces(src)
            faces_found += n
        images = {m: png_b64(render.overlay(src, expset[m].maps[t])) for m in spatial}
        images["original"] = png_b64(src)
        frames_out.append({"position": t, "frame": int(window.indices[t]), "time_s": float(window.times[t]),
                           "contribution": float(expset[ranking_source].frame_scores[t]),
                           "ranked_by": ranking_source, "images": images})
    faith, sane = {}, None
    if faithfulness:
        for m in temporal:
            faith[m] = metrics.temporal_deletion(model, window, expset[m].frame_scores, expset.target)
        for m in spatial:
            faith[m] = metrics.deletion_insertion(model, window, expset[m].maps, expset.target, steps=5)
    if sanity and spatial:
        sane = metrics.sanity_randomisation(model, window, spatial, checkpoints=3)
    trust = {"faithfulness": {m: {k: v for k, v in f.items() if "curve" not in k and k != "fractions"}
                              for m, f in faith.items()},
             "sanity": sane, "reading": [r for m in expset if (r := _reading(m, faith.get(m), sane))]}
    body = {
        "schema": SCHEMA,
        "report_id": str(uuid.uuid4()),
        "created": now.isoformat(),
        "clip": dict(clip.facts(), windows_reviewed=[window.describe()]),
        "model": {"name": card.name, "version": card.version, "sha256": model.sha256,
                  "file": model.source.name if model.source else None, "card": card.to_dict(),
                  "structure": model.describe(), "verify_max_abs_diff": model.verify(window)},
        "output": {"window": window.index, "probabilities": dict(zip(card.classes, map(float, probs))),
                   "anomaly_score": score, "threshold": card.threshold,
                   "model_decision": "anomaly" if score >= card.threshold else "normal",
                   "explained_class": expset.target_name},
        "timeline": None if timeline is None else {
            "windows": len(timeline.table), "max_anomaly_score": float(timeline.table["anomaly_score"].max()),
            "windows_over_threshold": int((timeline.table["decision"] == "anomaly").sum())},
        "explanations": {m: {k: v for k, v in e.summary().items() if k != "provenance"}
                         for m, e in expset.items()},
        "key_frames": frames_out,
        "temporal_plot": png_b64(temporal_plot(expset, window.indices), 720),
        "trust": trust,
        "limitations": list(card.known_limitations) or ["The model card states no known limitations."],
        "human": {"decision": decision, "reason": reason, "reviewer": reviewer.strip(),
                  "reviewed_at": now.isoformat(), "second_reviewer": second_reviewer or None,
                  "second_signed_at": now.isoformat() if second_reviewer else None,
                  "contest_channel": contest_channel or "Write to the data protection officer of "
                                                        "the organisation operating the camera."},
        "privacy": {"faces_blurred": bool(blur), "faces_found": faces_found,
                    "statement": ("Faces in exported frames were blurred; only key frames leave the system."
                                  if blur else "The reviewer turned face blurring OFF: exported key "
                                               "frames show faces unblurred.")},
        "legal": LEGAL,
        "reproduce": {"model_sha256": model.sha256, "clip_sha256": clip.sha256, "window": window.describe(),
                      "methods": list(expset), "params": {m: e.params for m, e in expset.items()},
                      "target": expset.target, "versions": versions(),
                      "command": f"crnnaudit explain MODEL CLIP --window {window.index} --methods "
                                 f"{','.join(expset)} --target {expset.target} --out DIR"},
    }
    return body
