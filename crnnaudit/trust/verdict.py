"""Each map's own verdict on its window: does deleting what the method ranks first lower the
explained class more than deleting as much at random, under the same perturbation?

The verdict is a Monte Carlo test: the method's deletion is compared with :data:`VERDICT_DRAWS`
random deletions of the same size, at the method's own resolution. Its p-value is the share of
random deletions that lowered the class at least as much, counting the method's own (one more in
numerator and denominator, so it is never 0); the method beats random when p <= 0.05, which
with 20 draws means no random deletion did as much. One verdict per method per window, and it
says its figures: how many of the draws did as much, and the p-value.
"""

from __future__ import annotations

import numpy as np

from ..explainers.base import REGISTRY, ExplanationSet
from ..footage.video import Window
from ..model import AuditedModel
from .memo import content_key, memo
from .perturb import blurred, class_scores, top_share

VERDICT_FRACTION = 0.2  # the share of each frame (or of the window's frames) a verdict deletes
VERDICT_DRAWS = 20  # random deletions per map resolution: the fewest that can reach p <= 0.05
VERDICT_ALPHA = 0.05  # the test's level: a map no better than random passes it at most 1 time in 21
TIE = 1e-6  # a random deletion within this of the method's (probability) counts as doing as much
MIN_EFFECT = 0.01  # a deletion that moves the class by less (probability) is too small to rely on, however rare
TEST = "one-sided Monte Carlo test against random deletions of the same size"


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

    All perturbed windows go through the model in batches of frames. A method beats random
    when its Monte Carlo p-value (see the module) is at most :data:`VERDICT_ALPHA`; a map no
    better than random does so at most one time in ``draws + 1``.

    Returns:
        ``{method: {"kind", "score", "drop", "random_drops", "fraction", "draws", "as_much",
        "p_value", "test", "better_than_random", "verdict", "short"}}``; probabilities, not
        logits. Computed once per content (see :func:`memo`).
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
    """The verdict of one method on its window, with every figure it states."""
    label = REGISTRY[method].label if method in REGISTRY else method
    what = "pixels" if kind == "spatial" else "frames"
    n = len(rand)
    as_much = int(sum(r >= drop - TIE for r in rand))
    p = (1 + as_much) / (n + 1)
    too_small = drop < MIN_EFFECT
    better = p <= VERDICT_ALPHA and not too_small
    effect = (f"deleting the {fraction:.0%} of {what} it ranks first moves {expset.target_name} from {score:.2f} by "
              f"{signed(-drop)}")
    draws = (f"{as_much} of {n} random deletions of {fraction:.0%} of the {what} did as much (p = {p:.2f}, {TEST})"
             + (f"; a change under {MIN_EFFECT} is too small to rely on" if too_small else ""))
    verdict = (f"{label} beats random deletion on this window: {effect}; {draws}." if better else
               f"{label} does not beat random deletion on this window, so do not rely on it: {effect}; {draws}.")
    short = (f"beats random: better than {n - as_much} of {n} random deletions (p = {p:.2f})" if better else
             f"does not beat random ({as_much} of {n} random deletions did as much, p = {p:.2f}"
             + (", too small a change" if too_small else "") + "): do not rely on it")
    return {"kind": kind, "score": score, "drop": drop, "random_drops": rand, "fraction": fraction, "draws": n,
            "as_much": as_much, "p_value": p, "test": TEST, "too_small": bool(too_small),
            "better_than_random": bool(better),
            "verdict": verdict, "short": short}
