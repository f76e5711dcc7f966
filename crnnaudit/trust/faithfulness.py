"""Faithfulness: does removing what a method ranks first change the model's output faster than
removing it in another order? Deletion and insertion curves (Petsiuk et al. 2018), and the
temporal deletion of frames against random orders."""

from __future__ import annotations

import numpy as np

from ..explainers.base import ExplanationSet
from ..footage.video import Window
from ..model import AuditedModel
from ..render.maps import upsample
from .memo import content_key, memo
from .perturb import class_scores


def deletion_insertion(model: AuditedModel, window: Window, maps: np.ndarray, target: int,
                       steps: int = 10, batch_frames: int = 64) -> dict:
    """Spatial deletion and insertion (Petsiuk et al. 2018), all frames at once.

    Deletion removes the most relevant pixels first (to a blurred copy) and watches the
    target's probability fall; insertion adds them to the blurred copy and watches it rise.
    A faithful map gives a low deletion AUC and a high insertion AUC.
    """
    import cv2
    frames = window.frames
    T, H, W, _ = frames.shape
    blur = np.stack([cv2.GaussianBlur(f, (0, 0), max(H, W) / 16) for f in frames])
    order = np.stack([np.argsort(-upsample(m, (H, W)).ravel(), kind="stable") for m in maps])
    fracs = np.linspace(0, 1, steps + 1)
    deleted, inserted = [], []
    for fr in fracs:
        k = int(round(fr * H * W))
        mask = np.zeros((T, H * W), bool)
        np.put_along_axis(mask, order[:, :k], True, axis=1)
        mask = mask.reshape(T, H, W, 1)
        deleted.append(np.where(mask, blur, frames))
        inserted.append(np.where(mask, frames, blur))
    seqs = np.stack(deleted + inserted)  # (2(steps+1), T, H, W, 3)
    x = model.prepare(seqs.reshape((-1, H, W, 3)))
    f = np.concatenate([model.frame_features(x[i:i + batch_frames])
                        for i in range(0, len(x), batch_frames)])
    f = f.reshape((len(seqs), T) + model.feature_shape)
    s = class_scores(model, model.head_logits(f), target)
    d, ins = s[: steps + 1], s[steps + 1:]
    return {"deletion_auc": float(np.trapezoid(d, fracs)), "insertion_auc": float(np.trapezoid(ins, fracs)),
            "deletion_curve": d.tolist(), "insertion_curve": ins.tolist(), "fractions": fracs.tolist()}


def temporal_deletion(model: AuditedModel, window: Window, frame_scores: np.ndarray, target: int,
                      seed: int = 0) -> dict:
    """Replace frames by the window's mean feature, most contributing first; compare with a
    random order. A faithful ranking makes the score fall faster than random."""
    x = model.prepare(window.frames)
    f = model.frame_features(x)
    T = f.shape[0]
    base = f.mean(axis=0)

    def curve(order):
        seqs = np.repeat(f[None], T + 1, axis=0)
        for k in range(1, T + 1):
            seqs[k:, order[k - 1]] = base
        return class_scores(model, model.head_logits(seqs), target)
    ranked = curve(np.argsort(-np.asarray(frame_scores), kind="stable"))
    rng = np.random.default_rng(seed)
    randoms = np.mean([curve(rng.permutation(T)) for _ in range(5)], axis=0)
    xs = np.linspace(0, 1, T + 1)
    return {"deletion_auc": float(np.trapezoid(ranked, xs)), "random_auc": float(np.trapezoid(randoms, xs)),
            "curve": ranked.tolist(), "random_curve": randoms.tolist()}



def method_faithfulness(model: AuditedModel, window: Window, expset: ExplanationSet, method: str) -> dict:
    """The faithfulness figures of one method of an explanation set: deletion/insertion AUC of
    a spatial map (5 steps), or deletion AUC against a random frame order for temporal
    contributions. Computed once per content (see :func:`memo`)."""
    e = expset[method]
    if e.maps is not None:
        return memo(("faithfulness", method, expset.target, *content_key(model, window, e.maps)),
                     lambda: deletion_insertion(model, window, e.maps, expset.target, steps=5))
    return memo(("faithfulness", method, expset.target, *content_key(model, window, e.frame_scores)),
                 lambda: temporal_deletion(model, window, e.frame_scores, expset.target))


def faithfulness_table(model: AuditedModel, window: Window, expset: ExplanationSet, progress=None) -> list[dict]:
    """One row per method: deletion/insertion AUC for spatial maps (5 steps), deletion AUC
    against a random frame order for temporal contributions. ``progress(done, total, what)``
    as each method starts (naming it) and once all are done."""
    rows, methods = [], [*expset.spatial(), *expset.temporal(contributions_only=True)]
    for i, m in enumerate(methods):
        if progress:
            progress(i, len(methods), f"{m}, method {i + 1} of {len(methods)}")
        f = method_faithfulness(model, window, expset, m)
        if "insertion_auc" in f:
            rows.append({"method": m, "deletion AUC (lower is better)": f["deletion_auc"],
                         "insertion AUC (higher is better)": f["insertion_auc"]})
        else:
            rows.append({"method": m, "deletion AUC (lower is better)": f["deletion_auc"],
                         "random order AUC": f["random_auc"]})
    if progress:
        progress(len(methods), len(methods), "done")
    return rows
