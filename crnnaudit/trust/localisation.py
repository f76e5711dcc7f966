"""Against ground truth: the pointing game, energy inside the mask, the temporal hit."""

from __future__ import annotations

import numpy as np

from ..explainers.base import ExplanationSet
from ..footage.truth import GroundTruth
from ..footage.video import Window
from ..render.maps import upsample


def localisation_figures(expset: ExplanationSet, window: Window, truth: GroundTruth) -> dict:
    """Against ground truth: pointing game and energy inside the mask on anomalous frames
    (spatial methods), and whether the top frame falls inside the anomalous interval
    (every method)."""
    anomalous = [t for t, i in enumerate(window.indices) if truth.frame_is_anomalous(int(i))]
    out = {}
    for name, exp in expset.items():
        res = {"top_frame": int(window.indices[int(np.argmax(exp.frame_scores))])}
        res["temporal_hit"] = bool(truth.frame_is_anomalous(res["top_frame"])) if truth.interval else None
        if exp.maps is not None and truth.masks is not None and anomalous:
            hits, energy = [], []
            for t in anomalous:
                mask = truth.masks[int(window.indices[t])]
                m = upsample(exp.maps[t], mask.shape)
                hits.append(bool(mask.ravel()[int(np.argmax(m))]))
                pos = np.maximum(m, 0)
                energy.append(float(pos[mask].sum() / pos.sum()) if pos.sum() > 0 else 0.0)
            res["pointing_game"] = float(np.mean(hits))
            res["energy_inside"] = float(np.mean(energy))
        out[name] = res
    return out
