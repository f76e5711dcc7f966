"""The report body: everything a review records, as one JSON-ready dict.

HTML, PDF and JSON are all rendered from this one body, so they cannot disagree, and the
JSON holds what is needed to re-run every explanation in it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import numpy as np

from .. import render, trust
from ..trust import counterfactual
from ..card import card_sha256
from ..decision import ANOMALY, NO_RELIABLE_READING
from ..errors import ReportError
from ..explainers.base import ExplanationSet
from ..explainers.engine import versions
from ..model import AuditedModel, Timeline
from ..model.reading import read_window
from ..footage.video import Clip, Window
from ..vocabulary import DECISIONS
from .facts import blank_maps, fact_sheet, person
from .legal import LEGAL, SCHEMA
from .privacy import blur_faces
from .summary import plain_summary


def build_report(model: AuditedModel, clip: Clip, window: Window, expset: ExplanationSet, *,
                 decision: str, reviewer: str, reason: str = "", timeline: Timeline | None = None,
                 second_reviewer: str | None = None, contest_channel: str | None = None,
                 blur: bool = True, key_frames: int = 3, faithfulness: bool = True,
                 sanity: bool = True, now: datetime | None = None, view: dict | None = None,
                 progress=None, shown_name: str | None = None, shown_at: datetime | None = None,
                 reviewer_person: dict | None = None, language: str | None = None, registry: dict | None = None) -> dict:
    """Build the report body for one reviewed window.

    Args:
        decision: ``confirm``, ``override`` or ``escalate``; ``reason`` is required to override.
        reviewer: who took the decision; ``second_reviewer`` signs off (four eyes).
        blur: blur faces in exported frames (on by default; turning it off is stated).
        faithfulness, sanity: compute those figures (they re-run the model; figures already
            computed for the same window and explanation are reused).
        view: the map settings the auditor had on screen (method, view, opacity, colour map,
            scaling, frame), recorded beside the window, frames, methods and class.
        progress: ``progress(step, steps, what)`` before each step.
        shown_name: the clip's name as the user gave it (an upload's own name); the stored
            name is kept beside it.
        shown_at: when the reviewer first saw this window (the time to decision is recorded).
        reviewer_person: how reports name the reviewer (:func:`crnnaudit.report.facts.person`;
            default: by role). language: the summary's (``en``, ``fr``, ``de``; default
            ``CRNNAUDIT_REPORT_LANGUAGE``). registry: the model's registry pin as the review made it
            (default: the model's own; a model shared between reviews keeps its first loader's).

    Raises:
        ReportError: a missing reviewer, an unknown decision, an override (or any decision on a
            window with no reliable reading) without reasons, or no method that ranks frames.
    """
    language = _language(language)
    output = _output_section(model, window, expset)
    _check_decision(decision, reviewer, reason, output["model_decision"])
    now = now or datetime.now(timezone.utc)
    step = _Steps(progress, 4)
    step("key frames and their maps")
    frames_out, faces_found = _key_frames(clip, window, expset, key_frames, blur, _report_style(view))
    step("faithfulness and sanity figures")
    trust = _trust(model, window, expset, faithfulness, sanity)
    step("what would have changed the outcome")
    changed, cf_faces = _counterfactual_section(model, clip, window, expset, blur, (view or {}).get("method"))
    step("the report's body")
    body = {
        "schema": SCHEMA, "language": language, "report_id": str(uuid.uuid4()), "created": now.isoformat(),
        "clip": _clip_section(clip, window, shown_name), "model": _model_section(model, window, registry),
        "output": output, "timeline": _timeline_section(timeline),
        "explanations": {m: {k: v for k, v in e.summary().items() if k != "provenance"} for m, e in expset.items()},
        "key_frames": frames_out, "blank_maps": blank_maps(window, expset, [f["position"] for f in frames_out]),
        "temporal_plot": render.png_b64(render.temporal_plot(expset, window.indices), 720),
        "trust": trust, "counterfactual": changed, "view": _view_section(window, expset, view),
        "limitations": list(model.card.known_limitations) or ["The model card states no known limitations."],
        "human": dict(_human_section(decision, reason, reviewer, second_reviewer, contest_channel, now, shown_at),
                      reviewer_person=reviewer_person or person(reviewer)),
        "privacy": _privacy(blur, faces_found + cf_faces), "legal": LEGAL,
        "reproduce": _reproduce(model, clip, window, expset),
    }
    body["facts"] = fact_sheet(body)
    body["summary"] = plain_summary(body["facts"])
    return body


def _language(language: str | None) -> str:
    from ..config import setting
    from .messages import LANGUAGES
    language = language or setting("CRNNAUDIT_REPORT_LANGUAGE")
    if language not in LANGUAGES:
        raise ReportError(f"summary language {language!r} is not one of {', '.join(LANGUAGES)}")
    return language


def _clip_section(clip: Clip, window: Window, shown_name: str | None) -> dict:
    return dict(clip.facts(), windows_reviewed=[window.describe()], warnings=clip.warnings(),
                **({"file": shown_name, "stored_as": clip.name} if shown_name else {}))


def _privacy(blur: bool, faces_found: int) -> dict:
    return {"faces_blurred": bool(blur), "faces_found": faces_found,
            "statement": ("Faces in exported frames were blurred; only key frames leave the system."
                          if blur else "The reviewer turned face blurring OFF: exported key frames show faces "
                                       "unblurred.")}


def _report_style(view: dict | None):
    """The auditor's colours, scale and view for the report's frames (side by side becomes the
    heat map alone: the original frame is shown anyway)."""
    shown = (view or {}).get("view")
    return render.MapStyle.from_dict(dict(view or {}, width=480, view=shown if shown == "contour" else "heatmap"))


def _human_section(decision: str, reason: str, reviewer: str, second_reviewer: str | None,
                   contest_channel: str | None, now: datetime, shown_at: datetime | None = None) -> dict:
    return {"decision": decision, "reason": reason, "reviewer": reviewer.strip(), "reviewed_at": now.isoformat(),
            "window_shown_at": shown_at.isoformat() if shown_at else None,
            "seconds_to_decision": round((now - shown_at).total_seconds(), 1) if shown_at else None,
            "second_reviewer": second_reviewer or None,
            "second_signed_at": now.isoformat() if second_reviewer else None,
            "status": "final" if second_reviewer else "awaiting countersignature",
            **_contest(contest_channel)}


def _contest(channel: str | None) -> dict:
    """Who the person concerned writes to, as recorded in the report: the deployment's
    controller and contact (:func:`crnnaudit.report.facts.contest`), the contact replaced by
    ``channel`` where the caller gave one; ``contest_channel`` is both in one line."""
    from .facts import contest
    c = contest()
    if channel and channel.strip():
        c = dict(c, contact=channel.strip(), set=not c["controller"].startswith("[not set"))
    return {"contest": c, "contest_channel": f"{c['controller']}, {c['contact']}"}


class _Steps:
    """Calls ``progress(step, steps, what)`` at the start of each step of a long build."""

    def __init__(self, progress, steps: int):
        self.progress, self.steps, self.done = progress, steps, 0

    def __call__(self, what: str) -> None:
        if self.progress:
            self.progress(self.done, self.steps, what)
        self.done += 1


def _view_section(window: Window, expset: ExplanationSet, view: dict | None) -> dict:
    """What the auditor had on screen when the report was asked for."""
    return {"window": window.index, "frames": [int(window.indices[0]), int(window.indices[-1])],
            "methods": list(expset), "explained_class": expset.target_name, "map_settings": dict(view or {}),
            "statement": "This report documents the window, frames, methods, class and map settings the "
                         "reviewer had on screen when they asked for it."}


def _check_decision(decision: str, reviewer: str, reason: str, model_decision: str) -> None:
    if decision not in DECISIONS:
        raise ReportError(f"decision {decision!r} is not one of {DECISIONS}")
    if not reviewer or not reviewer.strip():
        raise ReportError("the reviewer's name is required: a decision needs a responsible person")
    if decision == "override" and not (reason or "").strip():
        raise ReportError("an override needs the reviewer's reasons")
    if model_decision == NO_RELIABLE_READING and not (reason or "").strip():
        raise ReportError("the model gives no reliable reading on this window (see the training-data and "
                          "image-quality checks): any decision on it needs the reviewer's reasons")


def _key_frames(clip: Clip, window: Window, expset: ExplanationSet, count: int, blur: bool, style):
    """The ``count`` frames the ranking method ranks first, each with every spatial overlay."""
    ranking = expset.ranking()
    if ranking is None:
        raise ReportError(f"the report needs a method that ranks frames; {list(expset)} has none")
    scores = np.asarray(expset[ranking].frame_scores)
    order = np.argsort(-scores, kind="stable")[:count]
    faces_found, out = 0, []
    for t in sorted(int(i) for i in order):
        src = clip.frame(int(window.indices[t]))
        if blur:
            src, n = blur_faces(src)
            faces_found += n
        images = {"original": render.png_b64(src),
                  **{m: render.png_b64(render.show_map(src, expset[m].maps, t, style)) for m in expset.spatial()}}
        out.append({"position": t, "frame": int(window.indices[t]), "time_s": float(window.times[t]),
                    "contribution": float(scores[t]), "ranked_by": ranking, "images": images})
    return out, faces_found


def _counterfactual_section(model, clip: Clip, window: Window, expset: ExplanationSet, blur: bool,
                            method: str | None) -> tuple[dict, int]:
    """The verified counterfactuals (:mod:`crnnaudit.trust.counterfactual`), with each counterfactual
    frame drawn with the region's outline (faces blurred as in the key frames)."""
    method = method if method in expset.spatial() else None
    found = counterfactual.for_window(model, window, expset, method)
    cf, region = found["temporal"], found["region"]
    images, faces = [], 0
    for i, t in enumerate(cf.positions):
        src = clip.frame(int(window.indices[t]))
        if blur:
            src, n = blur_faces(src)
            faces += n
        mask = region.masks[i] if region.found else None
        images.append({"position": t, "frame": int(window.indices[t]),
                       "image": render.png_b64(render.outline(src, mask))})
    return dict(counterfactual.summary(found), images=images), faces


def _model_section(model: AuditedModel, window: Window, registry: dict | None) -> dict:
    card, registry = model.card, registry or model.registry
    return {"name": card.name, "version": card.version, "sha256": model.sha256,
            "file": model.source.name if model.source else None, "card": card.to_dict(),
            "card_version": card.version, "card_sha256": card_sha256(card),
            "structure": model.describe(), "verify_max_abs_diff": model.verify(window),
            **({"registry": _registry_at_signing(registry)} if registry else {})}


def _registry_at_signing(pin: dict) -> dict:
    """The registry version reviewed, and (checked now, as the report is signed) where its alias
    points and whether its files still hash as pinned: a report is never signed against
    another version than the one reviewed.

    Raises:
        RegistryError: the registry does not answer, or the version's files changed (named).
    """
    from ..model.registry import check
    return {"pin": pin, "at_signing": check(pin)}


def _output_section(model: AuditedModel, window: Window, expset: ExplanationSet) -> dict:
    """What the model says about the window: its reading (:func:`crnnaudit.model.reading.read`,
    the function every timeline row comes from), from the explanation's own probabilities."""
    reading = read_window(model, window, expset.probabilities, expset.logits)
    return {"window": window.index, "probabilities": reading.probabilities,
            "anomaly_score": reading.anomaly_score, "threshold": reading.threshold,
            "model_decision": reading.decision, "explained_class": expset.target_name,
            "training_data_check": reading.training, "quality_check": reading.quality, "reliable": reading.reliable}


def _timeline_section(timeline: Timeline | None) -> dict | None:
    if timeline is None:
        return None
    t = timeline.table
    return {"windows": len(t), "max_anomaly_score": float(t["anomaly_score"].max()),
            "windows_over_threshold": int((t["decision"] == ANOMALY).sum())}


def _trust(model, window, expset: ExplanationSet, faithfulness: bool, sanity: bool) -> dict:
    """Faithfulness (re-running the model on masked inputs) and the randomisation check."""
    faith, sane = {}, None
    spatial = expset.spatial()
    if faithfulness:
        for m in [*expset.temporal(contributions_only=True), *spatial]:
            faith[m] = trust.method_faithfulness(model, window, expset, m)  # what Compare computed, reused
    if sanity and spatial:
        sane = trust.sanity_randomisation(model, window, spatial, checkpoints=3)
    evidence = trust.verdicts(model, window, expset)  # always: the pages showed it beside each map
    return {"faithfulness": {m: {k: v for k, v in f.items() if "curve" not in k and k != "fractions"}
                             for m, f in faith.items()},
            "evidence": evidence, "sanity": sane}


def _reproduce(model, clip, window, expset: ExplanationSet) -> dict:
    return {"model_sha256": model.sha256, "clip_sha256": clip.sha256, "window": window.describe(),
            "methods": list(expset), "params": {m: e.params for m, e in expset.items()},
            "target": expset.target, "versions": versions(),
            "command": f"crnnaudit explain MODEL CLIP --window {window.index} --methods "
                       f"{','.join(expset)} --target {expset.target} --out DIR"}
