"""Export of one window's explanations as files: arrays, a summary with the trust figures,
one overlay PNG per method and frame, and an overlay video (what ``crnnaudit explain``
writes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import render, trust
from ..errors import ExplanationError
from ..explainers.base import ExplanationSet
from ..model import AuditedModel
from ..footage.video import Clip, Window


def export_explanations(model: AuditedModel, clip: Clip, window: Window, expset: ExplanationSet,
                        out: str | Path, counterfactual: bool = False) -> dict:
    """Write ``explanations.npz``, ``summary.json``, ``<method>_frame<i>.png`` and
    ``overlays.mp4`` (spatial methods side by side) into ``out``; with ``counterfactual``, also
    the verified counterfactuals (``summary["counterfactual"]``) and each counterfactual frame
    with the region outlined (``counterfactual_frame<i>.png``).

    Returns:
        The summary (also written as ``summary.json``).

    Raises:
        ExplanationError: ``out`` cannot be created.
    """
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ExplanationError(f"{out}: cannot create the output folder ({e.strerror or e})") from e
    arrays = {f"{m}_frame_scores": e.frame_scores for m, e in expset.items()}
    arrays.update({f"{m}_maps": expset[m].maps for m in expset.spatial()})
    arrays["frame_indices"] = window.indices
    np.savez_compressed(out / "explanations.npz", **arrays)
    summary = explanation_summary(model, clip, window, expset)
    if counterfactual:
        summary["counterfactual"] = _write_counterfactual(model, clip, window, expset, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    _write_overlays(clip, window, expset, out)
    return summary


def explanation_summary(model: AuditedModel, clip: Clip, window: Window, expset: ExplanationSet) -> dict:
    """Facts, prediction, each explanation's summary and the figures that say how far to
    trust them (each method's evidence against random deletion, temporal deletion, agreement,
    localisation when the clip has ground truth)."""
    summary = {"clip": clip.facts(), "model": model.describe(), "card": model.card.to_dict(),
               "window": window.describe(), "target": expset.target_name,
               "probabilities": dict(zip(model.card.classes, map(float, expset.probabilities))),
               "explanations": {m: e.summary() for m, e in expset.items()}, "metrics": {}}
    summary["metrics"]["evidence"] = trust.verdicts(model, window, expset)
    for m in expset.temporal(contributions_only=True):
        summary["metrics"][f"{m}_temporal_deletion"] = trust.temporal_deletion(
            model, window, expset[m].frame_scores, expset.target)
    agree = trust.agreement_table(expset)
    if len(agree):
        summary["metrics"]["agreement"] = agree.groupby(["method_a", "method_b"])[
            ["spearman", "topk_iou"]].mean().reset_index().to_dict("records")
    if clip.ground_truth is not None:
        summary["metrics"]["localisation"] = trust.localisation_figures(expset, window, clip.ground_truth)
    return summary


def _write_counterfactual(model, clip: Clip, window: Window, expset: ExplanationSet, out: Path) -> dict:
    from ..trust import counterfactual
    found = counterfactual.for_window(model, window, expset)
    region = found["region"]
    for i, t in enumerate(found["temporal"].positions):
        src = clip.frame(int(window.indices[t]))
        render.write_png(out / f"counterfactual_frame{int(window.indices[t]):05d}.png",
                         render.outline(src, region.masks[i] if region.found else None))
    return counterfactual.summary(found)


def _write_overlays(clip: Clip, window: Window, expset: ExplanationSet, out: Path) -> None:
    spatial = expset.spatial()
    if not spatial:
        return
    video_frames = []
    for t in range(window.length):
        src = clip.frame(int(window.indices[t]))
        tiles = []
        for m in spatial:
            img = render.show_map(src, expset[m].maps, t, render.MapStyle(width=src.shape[1]))
            render.write_png(out / f"{m}_frame{int(window.indices[t]):05d}.png", img)
            tiles.append(img)
        video_frames.append(np.concatenate(tiles, axis=1))
    render.write_video(out / "overlays.mp4", video_frames, fps=min(clip.fps, 10))
