"""Explanations in a dataset audit: per clip what each explained window shows, per run what
they show together.

Per clip (``RUN/explained/<sha256>.npz``): for every explained window its index, the class
explained (its own predicted class), each spatial method's map averaged over the window's
frames, resized to ``GRID x GRID`` and scaled to sum 1 (where the relevance lies, as a
share), and each temporal method's per-frame numbers. The full explanations go into the
content-keyed explanation cache, where the Review page finds them.

Per run (:func:`summarize`): per class and spatial method the mean map (where the model looks
on average), the distribution of the temporal peak's position in the window, agreement
between methods (Spearman rank correlation of maps, and of frame contributions), and the
shortcut screen (:mod:`.shortcuts`).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import cv2
import numpy as np

GRID = 16  # maps are compared at 16 x 16 cells
PEAK_BINS = 8


def window_summary(eset, T: int) -> dict:
    """What one explained window keeps for the run: maps as shares of relevance on the grid,
    frame numbers per temporal method."""
    out = {"target": int(eset.target), "maps": {}, "scores": {}}
    for m in eset.spatial():
        out["maps"][m] = relevance_grid(eset[m].maps)
    for m in eset.temporal():
        out["scores"][m] = np.asarray(eset[m].frame_scores, np.float32)[:T]
    return out


def relevance_grid(maps: np.ndarray) -> np.ndarray:
    """Per-frame maps ``(T, h, w)`` -> one ``GRID x GRID`` map summing to 1 (positive part;
    all zero when the window has no positive relevance)."""
    m = np.maximum(np.asarray(maps, np.float64), 0).sum(axis=0)
    m = cv2.resize(m.astype(np.float32), (GRID, GRID),
                   interpolation=cv2.INTER_AREA if m.shape[0] >= GRID else cv2.INTER_LINEAR)
    m = np.maximum(m, 0)
    total = float(m.sum())
    return (m / total if total > 0 else m).astype(np.float32)


def save_clip(path: Path, windows: list[int], summaries: list[dict]) -> None:
    """The explained windows of one clip as one ``.npz`` (written whole, then renamed)."""
    arrays = {"windows": np.asarray(windows, np.int32),
              "targets": np.asarray([s["target"] for s in summaries], np.int32)}
    if summaries:
        for m in summaries[0]["maps"]:
            arrays[f"map__{m}"] = np.stack([s["maps"][m] for s in summaries])
        for m in summaries[0]["scores"]:
            arrays[f"scores__{m}"] = np.stack([s["scores"][m] for s in summaries])
    tmp = path.with_name(path.name + ".partial.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)


def load_run(out: Path) -> dict:
    """Every explained window of a run: ``sha256``, ``window``, ``target`` per row, and
    ``maps[method]`` / ``scores[method]`` stacked in the same order."""
    rows, maps, scores = [], {}, {}
    for p in sorted((out / "explained").glob("*.npz")):
        with np.load(p, allow_pickle=False) as z:
            n = len(z["windows"])
            if not n:
                continue
            rows += [{"sha256": p.stem, "window": int(w), "target": int(t)} for w, t in zip(z["windows"], z["targets"])]
            for key in z.files:
                kind, _, m = key.partition("__")
                if kind in ("map", "scores"):
                    (maps if kind == "map" else scores).setdefault(m, []).append(z[key])
    return {"rows": rows, "maps": {m: np.concatenate(v) for m, v in maps.items()},
            "scores": {m: np.concatenate(v) for m, v in scores.items()}}


def summarize(out: Path, classes: list[str], clip_names: dict[str, str]) -> dict:
    """The run's figures over every explained window; mean maps go to ``RUN/mean_maps.npz``."""
    from . import shortcuts
    from ..explainers import REGISTRY
    run = load_run(out)
    if not run["rows"]:
        return {"windows": 0}
    targets = np.array([r["target"] for r in run["rows"]])
    means = {}
    per_class = {}
    for k, c in enumerate(classes):
        sel = targets == k
        if not sel.any():
            continue
        entry = {"windows": int(sel.sum())}
        for m, stack in run["maps"].items():
            means[f"{c}__{m}"] = stack[sel].mean(axis=0)
        temporal = [m for m in run["scores"] if REGISTRY[m].contribution]
        if temporal:
            peaks = run["scores"][temporal[0]][sel].argmax(axis=1)
            T = run["scores"][temporal[0]].shape[1]
            entry["temporal_peak"] = {"method": temporal[0], "frames": T,
                                      "histogram": np.bincount(peaks, minlength=T).tolist(),
                                      "mean_position": float(peaks.mean() / max(T - 1, 1))}
        per_class[c] = entry
    np.savez_compressed(out / "mean_maps.npz", **means)
    screen = {}
    spatial = list(run["maps"])
    if spatial:
        screen = shortcuts.screen(run["maps"][spatial[0]], targets, run["rows"], classes, clip_names)
        screen["method"] = spatial[0]
    return {"windows": len(run["rows"]), "per_class": per_class, "agreement": agreement(run),
            "shortcut_screen": screen}


def agreement(run: dict) -> dict:
    """Mean Spearman rank correlation per pair of spatial methods (on the grid maps) and per
    pair of temporal contribution methods (on the frame numbers), over explained windows."""
    from scipy.stats import spearmanr

    from ..explainers import REGISTRY
    out = {}
    temporal = {m: v for m, v in run["scores"].items() if REGISTRY[m].contribution}
    for group in (run["maps"], temporal):
        for a, b in combinations(sorted(group), 2):
            rhos = [spearmanr(x.ravel(), y.ravel()).statistic for x, y in zip(group[a], group[b])]
            rhos = [r for r in rhos if np.isfinite(r)]
            out[f"{a} ~ {b}"] = float(np.mean(rhos)) if rhos else None
    return out
