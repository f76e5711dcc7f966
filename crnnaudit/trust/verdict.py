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

import functools
import hashlib

import numpy as np

from ..errors import ExplanationError
from ..explainers.base import REGISTRY, ExplanationSet
from ..footage.video import Window
from ..model import AuditedModel
from .memo import content_key, known, memo
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
      is replaced by a blurred copy of the frame, as in
      :func:`~crnnaudit.trust.faithfulness.deletion_insertion`; the random baseline deletes the
      top ``fraction`` of ``draws`` random maps drawn at the method's own resolution (so a
      coarse Grad-CAM is compared with coarse random blobs, a pixel-level saliency map with
      scattered pixels). Each frame's random maps are drawn from the frame
      itself (its clip, its source frame and the seed: :func:`random_maps`), so a frame that
      two windows hold is deleted the same way in both (:func:`verdicts_many` runs it once).
    - A temporal contribution: the top ``fraction`` of the window's frames are replaced by the
      window's mean frame feature, as in :func:`~crnnaudit.trust.faithfulness.temporal_deletion`;
      the baseline deletes as many frames chosen at random (``draws`` times, the head only).

    All perturbed windows go through the model in batches of frames. A method beats random
    when its Monte Carlo p-value (see the module) is at most :data:`VERDICT_ALPHA`; a map no
    better than random does so at most one time in ``draws + 1``.

    Returns:
        ``{method: {"kind", "score", "drop", "random_drops", "fraction", "draws", "as_much",
        "p_value", "test", "better_than_random", "verdict", "short"}}``; probabilities, not
        logits. Computed once per content (see :func:`memo`).
    """
    return verdicts_many(model, [window], [expset], fraction, draws, seed, batch_frames)[0]


def verdicts_many(model: AuditedModel, windows: list[Window], expsets: list[ExplanationSet],
                  fraction: float = VERDICT_FRACTION, draws: int = VERDICT_DRAWS, seed: int = 0,
                  batch_frames: int = 64) -> list[dict[str, dict]]:
    """:func:`verdicts` for many windows (of one clip or several) in the same CNN passes: each
    window's verdicts are those :func:`verdicts` gives it alone, but a perturbed frame that
    several windows hold (the unperturbed frame, and each random deletion of it) goes through
    the CNN once. With 20-frame windows every 10 frames, the random deletions (most of the cost)
    halve per window as the batch grows. Windows whose verdicts are known are served from the memo."""
    if len(windows) != len(expsets):
        raise ExplanationError(f"verdicts_many: {len(windows)} windows but {len(expsets)} explanation sets; "
                               "give one explanation set per window")
    keys = [_memo_key(model, w, es, fraction, draws, seed) for w, es in zip(windows, expsets)]
    out: list = [known(k) for k in keys]
    todo = [i for i, v in enumerate(out) if v is None]
    for group in _groups(model, todo, expsets, draws):
        found = _group_verdicts(model, [windows[i] for i in group], [expsets[i] for i in group],
                                fraction, draws, seed, batch_frames)
        for i, v in zip(group, found):
            out[i] = memo(keys[i], lambda v=v: v)
    return out


# Perturbed frames' features one group of windows keeps at once (float32), bounding memory.
GROUP_FEATURE_BYTES = 256 << 20


def _memo_key(model, window, expset, fraction, draws, seed) -> tuple:
    spatial = expset.spatial()
    temporal = expset.temporal(contributions_only=True)
    arrays = [expset[m].maps for m in spatial] + [expset[m].frame_scores for m in temporal]
    return ("verdicts", tuple(spatial), tuple(temporal), expset.target, fraction, draws, seed,
            *content_key(model, window, *arrays))


def _groups(model, todo: list[int], expsets, draws: int) -> list[list[int]]:
    """Consecutive windows whose perturbed frames' features fit :data:`GROUP_FEATURE_BYTES`."""
    groups, size, row_bytes = [[]], 0, 4 * int(np.prod(model.feature_shape))
    for i in todo:
        es = expsets[i]
        resolutions = {tuple(es[m].maps.shape[1:3]) for m in es.spatial()}
        cost = row_bytes * model.window_length * (1 + len(es.spatial()) + len(resolutions) * draws)
        if groups[-1] and size + cost > GROUP_FEATURE_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(i)
        size += cost
    return [g for g in groups if g]


def random_maps(window: Window, t: int, res: tuple[int, int], draws: int, seed: int) -> np.ndarray:
    """The ``draws`` random maps ``(draws, *res)`` of frame ``t`` of ``window``, drawn from the
    seed and where the frame comes from (:func:`_origin`): every window that holds a frame draws
    the same maps for it, and a window's frames draw independently of each other."""
    return _draws(_origin(window, t), res, draws, seed)


def _draws(origin: tuple[int, int, int], res: tuple[int, int], draws: int, seed: int) -> np.ndarray:
    return np.random.default_rng([int(seed), *origin, *map(int, res)]).random((draws, *res))


def _origin(window: Window, t: int) -> tuple[int, int, int]:
    """Frame ``t``'s clip (a number from its hash), source frame index, and how many times that
    index came before it in the window (a padded window repeats frames)."""
    source = int(window.indices[t])
    repeat = int(np.sum(np.asarray(window.indices[:t]) == source))
    clip = int.from_bytes(hashlib.sha256(str(window.clip_sha256).encode()).digest()[:8], "big")
    return clip, source, repeat


def _group_verdicts(model, windows, expsets, fraction, draws, seed, batch_frames) -> list[dict]:
    rows = _Rows(model, batch_frames)
    plans = [_spatial_plan(rows, pos, w, es, fraction, draws, seed)
             for pos, (w, es) in enumerate(zip(windows, expsets))]
    features = rows.features()
    return [_window_verdicts(model, w, es, plan, features, fraction, draws, seed)
            for w, es, plan in zip(windows, expsets, plans)]


class _Rows:
    """The distinct perturbed frames of a group of windows, each through the CNN once."""

    def __init__(self, model, batch_frames: int):
        self.model, self.batch_frames = model, batch_frames
        self.index: dict[tuple, int] = {}
        self.makers: list = []  # per distinct row: () -> the perturbed frame (H, W, 3) uint8

    def add(self, key: tuple, make) -> int:
        if key not in self.index:
            self.index[key] = len(self.makers)
            self.makers.append(make)
        return self.index[key]

    def features(self) -> np.ndarray:
        out = []
        for i in range(0, len(self.makers), self.batch_frames):
            x = self.model.prepare(np.stack([make() for make in self.makers[i:i + self.batch_frames]]))
            out.append(self.model.frame_features(x))
        return np.concatenate(out) if out else np.zeros((0, *self.model.feature_shape), np.float32)


def _spatial_plan(rows: _Rows, pos: int, window, expset, fraction, draws, seed) -> dict:
    """Row numbers, per frame, of the window's unperturbed frames, each method's deletion and
    each random deletion (``{"frames": [T], "methods": {m: [T]}, "random": {res: [draws][T]}}``)."""
    frames = window.frames
    T, H, W, _ = frames.shape
    spatial = expset.spatial()
    content = [hashlib.blake2b(np.ascontiguousarray(f).tobytes(), digest_size=16).digest() for f in frames]
    blur: dict[int, np.ndarray] = {}

    def blurred_frame(t):
        if t not in blur:
            blur[t] = blurred(frames[t:t + 1])[0]
        return blur[t]

    def deleted(t, mask_of):
        return lambda: np.where(mask_of()[0], blurred_frame(t), frames[t])

    plan = {"frames": [rows.add(("frame", content[t]), lambda t=t: frames[t]) for t in range(T)],
            "methods": {}, "random": {}}
    if not spatial:
        return plan
    for m in spatial:
        maps = expset[m].maps
        plan["methods"][m] = [rows.add(("method", pos, m, t), deleted(
            t, lambda t=t, maps=maps: top_share(maps[t:t + 1], (H, W), fraction))) for t in range(T)]
    for res in sorted({tuple(expset[m].maps.shape[1:3]) for m in spatial}):
        grid = [[None] * T for _ in range(draws)]
        for t in range(T):
            origin = _origin(window, t)
            # drawn once, and only if a deletion of this frame is not already a row
            maps = functools.cache(lambda origin=origin, res=res: _draws(origin, res, draws, seed))
            for d in range(draws):
                key = ("random", content[t], origin, res, d, seed)
                grid[d][t] = rows.add(key, deleted(
                    t, lambda maps=maps, d=d: top_share(maps()[d:d + 1], (H, W), fraction)))
        plan["random"][res] = grid
    return plan


def _window_verdicts(model, window, expset, plan, features, fraction, draws, seed) -> dict:
    spatial = expset.spatial()
    temporal = expset.temporal(contributions_only=True)
    target = expset.target
    T = window.frames.shape[0]
    f = features[plan["frames"]]
    out: dict[str, dict] = {}
    if spatial:
        seqs = [plan["frames"]] + [plan["methods"][m] for m in spatial]
        owners = []
        for res, grid in plan["random"].items():
            seqs += grid
            owners += [res] * len(grid)
        s = class_scores(model, model.head_logits(features[np.asarray(seqs)]), target)
        drops = s[0] - s[1:]
        random_drops = drops[len(spatial):]
        for i, m in enumerate(spatial):
            res = tuple(expset[m].maps.shape[1:3])
            rand = [float(d) for d, o in zip(random_drops, owners) if o == res]
            out[m] = _verdict(expset, m, "spatial", float(s[0]), float(drops[i]), rand, fraction)
    if temporal:
        rng = np.random.default_rng(seed)
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
