"""The shortcut screen: spectral relevance analysis (SpRAy) over a run's explanation maps.

Lapuschkin et al. 2019 ("Unmasking Clever Hans predictors and assessing what machines really
learn") cluster many explanation maps of one class: a model that learned a shortcut (a
watermark, a timestamp, a logo in a corner) explains many different inputs by the same small
fixed region, and those maps fall into one tight cluster.

Per class (the class each window was explained for), over the windows' relevance maps (each
``GRID x GRID``, summing to 1; see :mod:`.explained`):

1. a k-nearest-neighbour affinity with local scaling (Zelnik-Manor and Perona 2004), the
   symmetric normalised graph Laplacian, the number of clusters from its largest eigengap
   (at most ``max_clusters``), k-means on the row-normalised eigenvectors (Ng, Jordan, Weiss
   2001), seeded;
2. for each cluster: its mean map, its region (the ``area`` share of cells where that mean is
   highest), and its concentration: the mean share of each member's relevance inside that
   region. A uniform map puts ``area`` there;
3. a cluster is **flagged** when its members come from at least ``min_clips`` different clips
   and their relevance concentrates in the region (concentration >= ``concentration``): many
   clips explained by one small fixed place.

A flag is a question for a human, not a verdict: a fixed camera whose events always happen
in one doorway is flagged too. The Dataset page and the run report show each cluster's
members and mean map.
"""

from __future__ import annotations

import numpy as np

from ..limits import MAX_SHORTCUT_WINDOWS


def spectral_clusters(x: np.ndarray, max_clusters: int = 6, neighbours: int = 10, seed: int = 0) -> np.ndarray:
    """Cluster labels ``(n,)`` of the rows of ``x`` by spectral clustering (see the module)."""
    from scipy.cluster.vq import kmeans2
    from scipy.linalg import eigh
    n = len(x)
    if n < 4:
        return np.zeros(n, int)
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
    k = min(neighbours, n - 1)
    order = np.argsort(d2, axis=1)[:, 1:k + 1]
    sigma = np.sqrt(d2[np.arange(n), order[:, -1]]) + 1e-12
    w = np.zeros((n, n))
    rows = np.repeat(np.arange(n), k)
    w[rows, order.ravel()] = np.exp(-d2[rows, order.ravel()] / (sigma[rows] * sigma[order.ravel()]))
    w = np.maximum(w, w.T)
    deg = w.sum(axis=1)
    inv = 1 / np.sqrt(np.maximum(deg, 1e-12))
    lap = np.eye(n) - inv[:, None] * w * inv[None, :]
    top = min(max_clusters, n - 1)
    values, vectors = eigh(lap, subset_by_index=[0, top])
    clusters = int(np.argmax(np.diff(values))) + 1
    if clusters == 1:
        return np.zeros(n, int)
    u = vectors[:, :clusters]
    u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    _, labels = kmeans2(u, clusters, minit="++", seed=seed)
    return np.unique(labels, return_inverse=True)[1]


def describe_cluster(maps: np.ndarray, area: float) -> dict:
    """Mean map, its region and how much of each member's relevance lies there."""
    mean = maps.mean(axis=0)
    cells = max(1, int(np.ceil(area * mean.size)))
    region = np.zeros(mean.size, bool)
    region[np.argsort(mean.ravel())[::-1][:cells]] = True
    inside = maps.reshape(len(maps), -1)[:, region].sum(axis=1)
    peak = np.unravel_index(int(np.argmax(mean)), mean.shape)
    return {"mean_map": mean, "region": region.reshape(mean.shape), "concentration": float(inside.mean()),
            "peak": {"row": (peak[0] + 0.5) / mean.shape[0], "col": (peak[1] + 0.5) / mean.shape[1]}}


def screen(maps: np.ndarray, targets: np.ndarray, rows: list[dict], classes: list[str],
           clip_names: dict[str, str], *, max_clusters: int = 6, area: float = 0.05,
           concentration: float = 0.5, min_clips: int = 3, seed: int = 0) -> dict:
    """The shortcut screen over every explained window (see the module).

    Returns:
        ``{"clusters": [...], "flagged": n, "rule": {...}}``; each cluster names its class,
        members (clip, sha256, window), distinct clips, concentration, peak (row and column
        as shares of the frame), mean map (a list of lists) and whether it is flagged.
    """
    rng = np.random.default_rng(seed)
    out = []
    for k, c in enumerate(classes):
        idx = np.flatnonzero(targets == k)
        if len(idx) < min_clips:
            continue
        if len(idx) > MAX_SHORTCUT_WINDOWS:
            idx = np.sort(rng.choice(idx, MAX_SHORTCUT_WINDOWS, replace=False))
        labels = spectral_clusters(maps[idx].reshape(len(idx), -1).astype(np.float64), max_clusters, seed=seed)
        for j in range(labels.max() + 1):
            members = idx[labels == j]
            info = describe_cluster(maps[members], area)
            shas = sorted({rows[i]["sha256"] for i in members})
            flagged = len(shas) >= min_clips and info["concentration"] >= concentration
            out.append({"class": c, "cluster": j, "windows": int(len(members)), "clips": len(shas),
                        "concentration": round(info["concentration"], 4), "peak": info["peak"],
                        "flagged": bool(flagged), "mean_map": np.round(info["mean_map"], 6).tolist(),
                        "members": [{"sha256": rows[i]["sha256"], "clip": clip_names.get(rows[i]["sha256"], ""),
                                     "window": rows[i]["window"]} for i in members]})
    return {"clusters": out, "flagged": sum(c["flagged"] for c in out),
            "rule": {"area": area, "concentration": concentration, "min_clips": min_clips,
                     "max_clusters": max_clusters, "uniform_concentration": area}}
