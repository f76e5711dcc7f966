"""Temporal methods: one number per frame, computed on the cached per-frame features.

They re-run only the head (the recurrent part and the MLP), so they cost almost nothing
next to one pass through the CNN.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExplanationError
from .base import register
from .engine import Context

EPS = 1e-7


def _baseline_features(f: np.ndarray, kind: str) -> np.ndarray:
    if kind == "mean":
        return np.broadcast_to(f.mean(axis=0, keepdims=True), f.shape).copy()
    if kind == "zero":
        return np.zeros_like(f)
    if kind == "previous":
        return np.concatenate([f[:1], f[:-1]], axis=0)
    raise ExplanationError(f"baseline '{kind}' is not one of 'mean', 'zero', 'previous'")


@register("frame_occlusion", "Leave-one-frame-out", "temporal", defaults={"baseline": "mean"},
          reference="Zeiler and Fergus 2014 (occlusion), applied to frames; Poirier 2024")
def frame_occlusion(ctx: Context, baseline: str):
    """Score drop when frame t's features are replaced by a baseline (one head call, batch T)."""
    f = ctx.features
    base = _baseline_features(f, baseline)
    T = f.shape[0]
    seqs = np.repeat(f[None], T, axis=0)
    seqs[np.arange(T), np.arange(T)] = base
    drops = ctx.target_logit - ctx.run_head(seqs)[:, ctx.target]
    return None, drops, {}


@register("temporal_ig", "Integrated gradients over frames", "temporal",
          defaults={"steps": 8, "baseline": "zero", "tolerance": 0.01, "max_steps": 64},
          convergence="completeness_gap",
          reference="Sundararajan et al. 2017, on the per-frame feature sequence")
def temporal_ig(ctx: Context, steps: int, baseline: str, tolerance: float, max_steps: int):
    """Attributions sum to logit(clip) - logit(baseline); the gap is reported.

    Gauss-Legendre nodes on the straight path make the integral exact for polynomial paths
    and far more accurate than a Riemann sum at the same cost. ``steps`` nodes first; while
    the completeness gap is above ``tolerance`` the node count doubles, up to ``max_steps``
    (``steps_used`` and ``converged`` say where it stopped). The baseline's logit rides in
    the first batch, so a converged run is one call to the head.
    """
    if not (isinstance(steps, (int, np.integer)) and isinstance(max_steps, (int, np.integer))
            and 1 <= steps <= max_steps):
        raise ExplanationError(f"temporal_ig: steps ({steps!r}) and max_steps ({max_steps!r}) must be "
                               "whole numbers with 1 <= steps <= max_steps")
    if not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        raise ExplanationError(f"temporal_ig: tolerance must be a number >= 0, got {tolerance!r}")
    f = ctx.features
    b = _baseline_features(f, baseline)
    n, base_logit = int(steps), None
    while True:
        nodes, weights = np.polynomial.legendre.leggauss(n)
        alphas, w = ((nodes + 1) / 2).astype(np.float32), (weights / 2).astype(np.float32)
        path = b[None] + alphas.reshape((-1,) + (1,) * f.ndim) * (f - b)[None]
        if base_logit is None:
            path = np.concatenate([path, b[None]])
        grads, logits = ctx.head_grads(path.astype(np.float32))
        if base_logit is None:
            base_logit, grads = float(logits[-1, ctx.target]), grads[:-1]
        mean_grad = np.tensordot(w, grads, axes=1)
        attr = ((f - b) * mean_grad).reshape(f.shape[0], -1).sum(axis=1)
        diff = ctx.target_logit - base_logit
        gap = abs(float(attr.sum()) - diff) / max(abs(diff), EPS)
        if gap <= tolerance or n >= max_steps:
            break
        ctx.progress.check("temporal_ig")
        n = min(2 * n, int(max_steps))
    return None, attr, {"completeness_gap": gap, "score_difference": diff, "steps_used": n,
                        "converged": bool(gap <= tolerance)}


@register("prefix_score", "Running score over prefixes", "temporal", contribution=False,
          ranks_frames=False,
          reference="Poirier 2024 (arXiv 2411.04707): when does the model become confident")
def prefix_score(ctx: Context):
    """The target's probability after frames 1..t. Exact when the head takes any length;
    for a head fixed at T frames, the prefix is held (its last frame repeated), flagged."""
    f = ctx.features
    T = f.shape[0]
    model = ctx.model
    probs, exact = [], True
    if model.window_length_fixed is None:
        for t in range(1, T + 1):
            probs.append(model.probabilities(ctx.run_head(f[None, :t]))[0])
    else:
        exact = False
        seqs = np.stack([np.concatenate([f[:t], np.repeat(f[t - 1:t], T - t, axis=0)])
                         for t in range(1, T + 1)])
        probs = list(model.probabilities(ctx.run_head(seqs)))
    probs = np.stack(probs)
    return None, probs[:, ctx.target], {"exact": exact, "anomaly_score": model.anomaly_score(probs),
                                        "probabilities": probs.astype(np.float32)}
