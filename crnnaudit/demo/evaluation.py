"""Held-out figures of the demo model, measured through the public API end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import CrnnauditError
from .paths import FRAMES, demo_dir, demo_model_path, render_clips
from .synth import CLASSES


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve by ranks (Mann-Whitney U), ties averaged."""
    from scipy.stats import rankdata
    pos = y_true.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def classification_figures(y: np.ndarray, probs: np.ndarray) -> dict:
    aucs = {c: roc_auc(y == k, probs[:, k]) for k, c in enumerate(CLASSES)}
    return {"clips": int(len(y)), "accuracy": float((probs.argmax(1) == y).mean()),
            "macro_roc_auc": float(np.nanmean(list(aucs.values()))), "roc_auc": aucs}


def evaluate_demo(path: Path | None = None, seed: int = 0, heldout_clips: int = 100,
                  progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Held-out figures of the demo model, through the public API end to end: classification
    (macro one-vs-rest ROC-AUC, accuracy) and whether explanations point at the anomaly
    (Grad-CAM pointing game on anomalous frames, top ``frame_occlusion`` frame inside the
    anomalous interval)."""
    from .. import metrics
    from ..explainers import explain
    from ..model import load_model
    from ..video import open_clip
    path = path or demo_model_path()
    if not path.exists():
        raise CrnnauditError(f"{path}: no demo model yet; run `crnnaudit demo` first")
    model = load_model(path)
    held = render_clips(demo_dir() / "heldout", heldout_clips, seed + 1, None, "held-out")
    probs, y, pointing, pointing_sal, hits = [], [], [], [], []
    for i, (clip_path, label) in enumerate(held):
        clip = open_clip(clip_path)
        window = clip.window(0, FRAMES, FRAMES, model.frame_size)
        methods = ["gradcam", "saliency", "frame_occlusion"] if label else ["frame_occlusion"]
        es = explain(model, window, methods, target=CLASSES[label] if label else None, cache=False)
        logits = np.asarray(es.logits)
        probs.append(model.probabilities(logits[None])[0])
        y.append(label)
        if CLASSES[label] != "normal":
            loc = metrics.localisation(es, window, clip.ground_truth)
            if "pointing_game" in loc["gradcam"]:
                pointing.append(loc["gradcam"]["pointing_game"])
                pointing_sal.append(loc["saliency"]["pointing_game"])
            hits.append(bool(loc["frame_occlusion"]["temporal_hit"]))
        if progress:
            progress("evaluating held-out clips", i + 1, len(held))
    figures = classification_figures(np.array(y), np.stack(probs))
    figures.update({"gradcam_pointing_game": float(np.mean(pointing)),
                    "saliency_pointing_game": float(np.mean(pointing_sal)),
                    "frame_occlusion_top_frame_in_interval": float(np.mean(hits)),
                    "anomalous_clips": len(hits), "verify_max_abs_diff": model.verify()})
    return figures

