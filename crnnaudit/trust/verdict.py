"""Each map's own verdict on its window: does deleting what the method ranks first lower the
explained class more than deleting as much at random, under the same perturbation?"""

from __future__ import annotations

import numpy as np

from ..explainers.base import REGISTRY, ExplanationSet
from ..footage.video import Window
from ..model import AuditedModel
from .memo import content_key, memo
from .perturb import blurred, class_scores, top_share

VERDICT_FRACTION = 0.2  # the share of each frame (or of the window's frames) a verdict deletes
VERDICT_DRAWS = 3  # random deletions per map resolution: a random map beats all of them 1 time in 4
VERDICT_MARGIN = 0.01  # a drop this much larger than the largest random one counts (probability)


def verdicts(model: AuditedModel, window: Window, expset: ExplanationSet, fraction: float = VERDICT_FRACTION,
             draws: int = VERDICT_DRAWS, seed: int = 0, batch_frames: int = 64) -> dict[str, dict]:
    """Each method's own evidence on this window: does deleting what it ranks highest lower the
    explained class's probability more than deleting as much at random, under the same
    perturbation?

    - A spatial map: the top ``fraction`` of each frame's pixels (the map upsampled as shown)
      is replaced by a blurred copy of the frame, as in :func:`~crnnaudit.trust.faithfulness.deletion_insertion`; the random
      baseline deletes the top ``fraction`` of ``draws`` random maps drawn at the method's own
      resolution (so a coarse Grad-CAM is compared with coarse random blobs, a pixel-level
      saliency map with scattered pixels).
    - A temporal contribution: the top ``fraction`` of the window's frames are replaced by the
      window's mean frame feature, as in :func:`~crnnaudit.trust.faithfulness.temporal_deletion`; the baseline deletes as many
      frames chosen at random (``draws`` times, the head only).

    All perturbed windows go through the model in one batch of frames. A method counts as
    better than random when its drop exceeds the largest random drop by
    :data:`VERDICT_MARGIN`; a random map does so about one time in ``draws + 1``.

    Returns:
        ``{method: {"kind", "drop", "random_drops", "score", "better_than_random", "verdict"}}``;
        probabilities, not logits. Computed once per content (see :func:`memo`).
    """
    spatial = expset.spatial()
    temporal = expset.temporal(contributions_only=True)
    arrays = [expset[m].maps for m in spatial] + [expset[m].frame_scores for m in temporal]
    key = ("verdicts", tuple(spatial), tuple(temporal), expset.target, fraction, draws, seed,
           *content_key(model, window, *arrays))
    return memo(key, lambda: _verdicts(model, window, expset, spatial, temporal, fraction, draws, seed,
                                        batch_frames))


def _verdicts(model, window, expset, spatial, temporal, fraction, draws, seed, batch_frames) -> dict:
    rng = np.random.default_rng(seed)
    frames = window.frames
    T, H, W, _ = frames.shape
    target = expset.target
    out: dict[str, dict] = {}
    f = None  # the window's own frame features, once
    if spatial:
        blur = blurred(frames)
        masks, owners = [], []  # owners: (method, or ("random", resolution))
        for m in spatial:
            masks.append(top_share(expset[m].maps, (H, W), fraction))
            owners.append(m)
        for res in sorted({expset[m].maps.shape[1:3] for m in spatial}):
            for _ in range(draws):
                masks.append(top_share(rng.random((T, *res)), (H, W), fraction))
                owners.append(("random", res))
        seqs = np.concatenate([frames[None], np.stack([np.where(mk, blur, frames) for mk in masks])])
        x = model.prepare(seqs.reshape((-1, H, W, 3)))
        fs = np.concatenate([model.frame_features(x[i:i + batch_frames])
                             for i in range(0, len(x), batch_frames)]).reshape((len(seqs), T) + model.feature_shape)
        f = fs[0]
        s = class_scores(model, model.head_logits(fs), target)
        drops = s[0] - s[1:]
        for i, m in enumerate(spatial):
            res = expset[m].maps.shape[1:3]
            rand = [float(d) for d, o in zip(drops, owners) if o == ("random", res)]
            out[m] = _verdict(expset, m, "spatial", float(s[0]), float(drops[i]), rand, fraction)
    if temporal:
        if f is None:
            f = model.frame_features(model.prepare(frames))
        base = f.mean(axis=0)
        k = max(1, int(round(fraction * T)))
        sets = [np.argsort(-np.asarray(expset[m].frame_scores), kind="stable")[:k] for m in temporal]
        sets += [rng.choice(T, k, replace=False) for _ in range(draws)]
        seqs = np.repeat(f[None], len(sets) + 1, axis=0)
        for i, chosen in enumerate(sets):
            seqs[i + 1, chosen] = base
        s = class_scores(model, model.head_logits(seqs), target)
        drops = s[0] - s[1:]
        rand = [float(d) for d in drops[len(temporal):]]
        for i, m in enumerate(temporal):
            out[m] = _verdict(expset, m, "temporal", float(s[0]), float(drops[i]), rand, fraction)
    return out


def signed(value: float, digits: int = 2) -> str:
    """A change with its sign, rounded first: never "-0.00" for a change that rounds to nothing."""
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def _verdict(expset: ExplanationSet, method: str, kind: str, score: float, drop: float, rand: list[float],
             fraction: float) -> dict:
    label = REGISTRY[method].label if method in REGISTRY else method
    what = "pixels" if kind == "spatial" else "frames"
    better = drop > max(rand) + VERDICT_MARGIN
    figures = (f"deleting its top {fraction:.0%} of {what} moves {expset.target_name} from {score:.2f} by "
               f"{signed(-drop)}; deleting {fraction:.0%} at random, by {signed(-float(np.mean(rand)))} on average "
               f"({len(rand)} draws)")
    verdict = (f"{label} does better than random on this window: {figures}." if better else
               f"{label} does no better than random on this window: do not rely on it ({figures}).")
    return {"kind": kind, "score": score, "drop": drop, "random_drops": rand, "fraction": fraction,
            "better_than_random": bool(better), "verdict": verdict}
