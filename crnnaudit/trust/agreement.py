"""Where two methods agree: rank correlation and top-k overlap of their maps, per frame."""

from __future__ import annotations

import numpy as np

from ..explainers.base import ExplanationSet
from ..lazy import LazyModule
from ..render.maps import upsample

pd = LazyModule("pandas")


def _rank(a: np.ndarray) -> np.ndarray:
    r = np.empty(a.size, np.float64)
    r[np.argsort(a.ravel(), kind="stable")] = np.arange(a.size)
    return r


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two maps of the same shape (ties broken by position)."""
    ra, rb = _rank(a), _rank(b)
    ra -= ra.mean()
    rb -= rb.mean()
    d = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / d) if d > 0 else 0.0


def topk_overlap(a: np.ndarray, b: np.ndarray, fraction: float = 0.1) -> float:
    """Intersection over union of the top ``fraction`` of pixels of two maps."""
    k = max(1, int(round(a.size * fraction)))
    ta = set(np.argsort(a.ravel())[-k:])
    tb = set(np.argsort(b.ravel())[-k:])
    return len(ta & tb) / len(ta | tb)



def agreement_table(expset: ExplanationSet, fraction: float = 0.1) -> pd.DataFrame:
    """Per frame and per pair of spatial methods: rank correlation and top-k overlap.

    Maps are compared at the coarser of the two resolutions.
    """
    spatial = [(n, e) for n, e in expset.items() if e.maps is not None]
    rows = []
    for i, (na, ea) in enumerate(spatial):
        for nb, eb in spatial[i + 1:]:
            size = min(ea.maps.shape[1:], eb.maps.shape[1:], key=lambda s: s[0] * s[1])
            for t in range(ea.maps.shape[0]):
                a, b = upsample(ea.maps[t], size), upsample(eb.maps[t], size)
                rows.append({"frame": t, "method_a": na, "method_b": nb,
                             "spearman": spearman(a, b), "topk_iou": topk_overlap(a, b, fraction)})
    return pd.DataFrame(rows, columns=["frame", "method_a", "method_b", "spearman", "topk_iou"])
