"""Spatial methods: one map per frame.

The first four read the shared pass only (no extra work). The costly three batch their
passes, report progress and can be cancelled.
"""

from __future__ import annotations

import numpy as np

from ..lazy import LazyModule
from .base import register
from .engine import Context

cv2 = LazyModule("cv2")  # imported on first use (see lazy.py)

EPS = 1e-7


@register("saliency", "Saliency (gradient magnitude)", "spatial", shared=True, input_grad=True,
          reference="Simonyan, Vedaldi, Zisserman 2014, Deep Inside Convolutional Networks")
def saliency(ctx: Context):
    maps = np.abs(ctx.shared.grad_input).max(axis=-1)
    return maps, maps.sum(axis=(1, 2)), {}


@register("grad_x_input", "Gradient x input", "spatial", shared=True, input_grad=True,
          reference="Shrikumar et al. 2016, Not Just a Black Box")
def grad_x_input(ctx: Context):
    maps = (ctx.shared.grad_input * ctx.x).sum(axis=-1)
    return maps, maps.sum(axis=(1, 2)), {}


def _cam(maps: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return np.maximum((maps * weights[:, None, None, :]).sum(axis=-1), 0.0)


@register("gradcam", "Grad-CAM (per frame)", "spatial", shared=True, needs=("spatial_cam",),
          defaults={"pooled": False},
          reference="Selvaraju et al. 2017, Grad-CAM; per-frame weights as in Poirier 2024 "
                    "(arXiv 2411.04707)")
def gradcam(ctx: Context, pooled: bool):
    a, g = ctx.shared.maps, ctx.shared.grad_maps
    weights = g.mean(axis=(1, 2))  # (T, c): each frame's own channel weights
    if pooled:  # the still-image libraries' way: one set of weights for the whole clip
        weights = np.broadcast_to(weights.mean(axis=0, keepdims=True), weights.shape)
    maps = _cam(a, weights)
    return maps, maps.sum(axis=(1, 2)), {}


@register("gradcam_pp", "Grad-CAM++ (per frame)", "spatial", shared=True, needs=("spatial_cam",),
          reference="Chattopadhay et al. 2018, Grad-CAM++")
def gradcam_pp(ctx: Context):
    a = ctx.shared.maps.astype(np.float64)
    g = ctx.shared.grad_maps.astype(np.float64)
    # alpha = g^2 / (2 g^2 + sum(A) g^3) = 1 / (2 + sum(A) g) where g != 0: the same value
    # without cubing gradients of order 1e-3, which loses float32 precision.
    denom = 2 + a.sum(axis=(1, 2), keepdims=True) * g
    alpha = np.where(g != 0, 1 / np.where(np.abs(denom) < EPS, EPS, denom), 0.0)
    weights = (alpha * np.maximum(g, 0)).sum(axis=(1, 2))
    maps = _cam(a, weights).astype(np.float32)
    return maps, maps.sum(axis=(1, 2)), {}


def _batched_input_grads(ctx: Context, windows_fn, n: int, batch: int, what: str) -> np.ndarray:
    """Mean gradient over ``n`` perturbed windows built by ``windows_fn(i0, i1)``."""
    total = np.zeros_like(ctx.x, dtype=np.float64)
    for i in range(0, n, batch):
        xb = windows_fn(i, min(i + batch, n))
        g, _ = ctx.input_grads(xb)
        total += g.sum(axis=0)
        ctx.progress(min(i + batch, n), n, what)
    return (total / n).astype(np.float32)


@register("smoothgrad", "SmoothGrad", "spatial", costly=True,
          defaults={"samples": 16, "noise": 0.15, "batch": 2, "seed": 0},
          reference="Smilkov et al. 2017, SmoothGrad")
def smoothgrad(ctx: Context, samples: int, noise: float, batch: int, seed: int):
    rng = np.random.default_rng(seed)
    sigma = noise * float(ctx.x.max() - ctx.x.min())

    def noisy(i0, i1):
        return ctx.x[None] + rng.normal(0, sigma, (i1 - i0,) + ctx.x.shape).astype(np.float32)
    g = _batched_input_grads(ctx, noisy, samples, batch, "smoothgrad")
    maps = np.abs(g).max(axis=-1)
    return maps, maps.sum(axis=(1, 2)), {}


def _baseline_frames(frames: np.ndarray, kind: str) -> np.ndarray:
    if kind == "black":
        return np.zeros_like(frames)
    if kind == "blur":
        k = max(3, (min(frames.shape[1:3]) // 8) | 1)
        return np.stack([cv2.GaussianBlur(f, (k, k), 0) for f in frames])
    from ..errors import ExplanationError
    raise ExplanationError(f"baseline '{kind}' is not one of 'black', 'blur'")


@register("integrated_gradients", "Integrated gradients (pixels)", "spatial", costly=True,
          defaults={"steps": 16, "baseline": "black", "batch": 2}, convergence="completeness_gap",
          reference="Sundararajan, Taly, Yan 2017, Axiomatic Attribution for Deep Networks")
def integrated_gradients(ctx: Context, steps: int, baseline: str, batch: int):
    b = ctx.model.prepare(_baseline_frames(ctx.frames, baseline))
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # exact for smooth paths
    alphas, w = (nodes + 1) / 2, weights / 2
    total = np.zeros_like(ctx.x, dtype=np.float64)
    for i in range(0, steps, batch):
        a = alphas[i:i + batch].astype(np.float32)[:, None, None, None, None]
        g, _ = ctx.input_grads(b[None] + a * (ctx.x - b)[None])
        total += (g * w[i:i + batch, None, None, None, None]).sum(axis=0)
        ctx.progress(min(i + batch, steps), steps, "integrated gradients")
    attr = (ctx.x - b) * total
    maps = attr.sum(axis=-1)
    fb = ctx.run_cnn(b)
    y_base = float(ctx.run_head(fb[None])[0, ctx.target])
    diff = ctx.target_logit - y_base
    gap = abs(float(attr.sum()) - diff) / max(abs(diff), EPS)
    return maps, maps.sum(axis=(1, 2)), {"completeness_gap": gap, "score_difference": diff}


@register("occlusion", "Occlusion (sliding patch)", "spatial", costly=True,
          defaults={"patch": 16, "stride": 16, "batch": 64},
          reference="Zeiler and Fergus 2014, Visualizing and Understanding Convolutional Networks")
def occlusion(ctx: Context, patch: int, stride: int, batch: int):
    """Occluding a patch of frame t changes only f_t, so each occluded frame goes through the
    CNN alone and the head re-runs on the sequence with f_t replaced: T times cheaper than
    occluding the whole window."""
    T, H, W, _ = ctx.x.shape
    fill = ctx.x.mean(axis=(1, 2))  # per frame, per channel
    ys = list(range(0, max(H - patch, 0) + 1, stride))
    xs = list(range(0, max(W - patch, 0) + 1, stride))
    boxes = [(y, x) for y in ys for x in xs]
    f = ctx.features
    y_full = ctx.target_logit
    heat = np.zeros((T, H, W), np.float64)
    count = np.zeros((T, H, W), np.float64)
    jobs = [(t, y, x) for t in range(T) for (y, x) in boxes]
    for j in range(0, len(jobs), batch):
        chunk = jobs[j:j + batch]
        xb = np.stack([ctx.x[t] for t, _, _ in chunk])
        for k, (t, y, x) in enumerate(chunk):
            xb[k, y:y + patch, x:x + patch] = fill[t]
        fo = ctx.model.frame_features(xb)
        seqs = np.repeat(f[None], len(chunk), axis=0)
        for k, (t, _, _) in enumerate(chunk):
            seqs[k, t] = fo[k]
        drops = y_full - ctx.run_head(seqs)[:, ctx.target]
        for k, (t, y, x) in enumerate(chunk):
            heat[t, y:y + patch, x:x + patch] += drops[k]
            count[t, y:y + patch, x:x + patch] += 1
        ctx.progress(min(j + batch, len(jobs)), len(jobs), "occlusion")
    maps = heat / np.maximum(count, 1)
    return maps, maps.sum(axis=(1, 2)), {}
