"""How far an explanation can be trusted: faithfulness, agreement, sanity, localisation.

Every figure here is computed by re-running the model (or its head) on modified inputs;
nothing is read off the maps alone.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
import pandas as pd

from .errors import ExplanationError
from .explainers import explain
from .explainers.base import REGISTRY, ExplanationSet
from .model import AuditedModel
from .model.backend import to_numpy
from .render import upsample
from .video import GroundTruth, Window


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


def _scores(model: AuditedModel, logits: np.ndarray, target: int) -> np.ndarray:
    return model.probabilities(logits)[:, target]


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
    s = _scores(model, model.head_logits(f), target)
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
        return _scores(model, model.head_logits(seqs), target)
    ranked = curve(np.argsort(-np.asarray(frame_scores), kind="stable"))
    rng = np.random.default_rng(seed)
    randoms = np.mean([curve(rng.permutation(T)) for _ in range(5)], axis=0)
    xs = np.linspace(0, 1, T + 1)
    return {"deletion_auc": float(np.trapezoid(ranked, xs)), "random_auc": float(np.trapezoid(randoms, xs)),
            "curve": ranked.tolist(), "random_curve": randoms.tolist()}


EVIDENCE_FRACTION = 0.2  # the share of each frame (or of the window's frames) an evidence test deletes
EVIDENCE_DRAWS = 3  # random deletions per map resolution: a random map beats all of them 1 time in 4
EVIDENCE_MARGIN = 0.01  # a drop this much larger than the largest random one counts (probability)


def blurred(frames: np.ndarray) -> np.ndarray:
    """The deletion figures' "removed" pixels: each frame Gaussian-blurred (sigma a sixteenth of its size)."""
    import cv2
    H, W = frames.shape[1:3]
    return np.stack([cv2.GaussianBlur(f, (0, 0), max(H, W) / 16) for f in frames])


def top_share(maps: np.ndarray, size: tuple[int, int], fraction: float) -> np.ndarray:
    """Per frame, the ``fraction`` of pixels where ``maps`` (upsampled to ``size``) is highest."""
    H, W = size
    k = int(round(fraction * H * W))
    order = np.stack([np.argsort(-upsample(m, (H, W)).ravel(), kind="stable")[:k] for m in maps])
    mask = np.zeros((len(maps), H * W), bool)
    np.put_along_axis(mask, order, True, axis=1)
    return mask.reshape(len(maps), H, W, 1)


def evidence(model: AuditedModel, window: Window, expset: ExplanationSet, fraction: float = EVIDENCE_FRACTION,
             draws: int = EVIDENCE_DRAWS, seed: int = 0, batch_frames: int = 64) -> dict[str, dict]:
    """Each method's own evidence on this window: does deleting what it ranks highest lower the
    explained class's probability more than deleting as much at random, under the same
    perturbation?

    - A spatial map: the top ``fraction`` of each frame's pixels (the map upsampled as shown)
      is replaced by a blurred copy of the frame, as in :func:`deletion_insertion`; the random
      baseline deletes the top ``fraction`` of ``draws`` random maps drawn at the method's own
      resolution (so a coarse Grad-CAM is compared with coarse random blobs, a pixel-level
      saliency map with scattered pixels).
    - A temporal contribution: the top ``fraction`` of the window's frames are replaced by the
      window's mean frame feature, as in :func:`temporal_deletion`; the baseline deletes as many
      frames chosen at random (``draws`` times, the head only).

    All perturbed windows go through the model in one batch of frames. A method counts as
    better than random when its drop exceeds the largest random drop by
    :data:`EVIDENCE_MARGIN`; a random map does so about one time in ``draws + 1``.

    Returns:
        ``{method: {"kind", "drop", "random_drops", "score", "better_than_random", "verdict"}}``;
        probabilities, not logits. Computed once per content (see :func:`memo`).
    """
    spatial = expset.spatial()
    temporal = expset.temporal(contributions_only=True)
    arrays = [expset[m].maps for m in spatial] + [expset[m].frame_scores for m in temporal]
    key = ("evidence", tuple(spatial), tuple(temporal), expset.target, fraction, draws, seed,
           *content_key(model, window, *arrays))
    return memo(key, lambda: _evidence(model, window, expset, spatial, temporal, fraction, draws, seed,
                                        batch_frames))


def _evidence(model, window, expset, spatial, temporal, fraction, draws, seed, batch_frames) -> dict:
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
        s = _scores(model, model.head_logits(fs), target)
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
        s = _scores(model, model.head_logits(seqs), target)
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
    better = drop > max(rand) + EVIDENCE_MARGIN
    figures = (f"deleting its top {fraction:.0%} of {what} moves {expset.target_name} from {score:.2f} by "
               f"{signed(-drop)}; deleting {fraction:.0%} at random, by {signed(-float(np.mean(rand)))} on average "
               f"({len(rand)} draws)")
    verdict = (f"{label} does better than random on this window: {figures}." if better else
               f"{label} does no better than random on this window: do not rely on it ({figures}).")
    return {"kind": kind, "score": score, "drop": drop, "random_drops": rand, "fraction": fraction,
            "better_than_random": bool(better), "verdict": verdict}


_MEMO: OrderedDict = OrderedDict()
_MEMO_SIZE = 256


def memo(key: tuple, compute):
    """Figures already computed for the same model, window, method and explanation (keyed by
    content: hashes, never object identity) are served again: the Compare page's figures and
    the report's are one computation."""
    if key in _MEMO:
        _MEMO.move_to_end(key)
        return _MEMO[key]
    value = compute()
    _MEMO[key] = value
    while len(_MEMO) > _MEMO_SIZE:
        _MEMO.popitem(last=False)
    return value


def content_key(model: AuditedModel, window: Window, *arrays) -> tuple:
    digest = hashlib.sha256(np.ascontiguousarray(window.indices).tobytes())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return model.sha256, window.clip_sha256, window.index, window.stride, digest.hexdigest()


def faithfulness(model: AuditedModel, window: Window, expset: ExplanationSet, method: str) -> dict:
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
    against a random frame order for temporal contributions. ``progress(done, total)`` after
    each method."""
    rows, methods = [], [*expset.spatial(), *expset.temporal(contributions_only=True)]
    for m in expset.spatial():
        if progress:
            progress(len(rows), len(methods))
        f = faithfulness(model, window, expset, m)
        rows.append({"method": m, "deletion AUC (lower is better)": f["deletion_auc"],
                     "insertion AUC (higher is better)": f["insertion_auc"]})
    for m in expset.temporal(contributions_only=True):
        if progress:
            progress(len(rows), len(methods))
        f = faithfulness(model, window, expset, m)
        rows.append({"method": m, "deletion AUC (lower is better)": f["deletion_auc"],
                     "random order AUC": f["random_auc"]})
    return rows


def agreement(expset: ExplanationSet, fraction: float = 0.1) -> pd.DataFrame:
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


def _weighted_layers(model) -> list:
    import keras
    out = []
    for layer in model.layers:
        inner = getattr(layer, "layer", None)
        inner = inner if inner is not None else layer
        if isinstance(inner, keras.Model):
            out.extend(_weighted_layers(inner))
        elif layer.weights:
            out.append(layer)
    return out


def sanity_randomisation(model: AuditedModel, window: Window, methods=("gradcam", "saliency"),
                         checkpoints: int = 4, seed: int = 0, threshold: float = 0.5, progress=None) -> dict:
    """Cascading model-parameter randomisation (Adebayo et al. 2018, Sanity Checks for
    Saliency Maps).

    A copy of the model is randomised layer by layer from the output down; after each of
    ``checkpoints`` stages the maps are recomputed and compared (Spearman, mean over
    frames) with the trained model's. A method whose maps still correlate above
    ``threshold`` once every layer is random does not depend on what the model learned: it
    is flagged. The user's model is never touched. ``progress(done, total)`` after each stage.
    """
    methods = tuple(m for m in methods if REGISTRY[m].unavailable_on(model) is None)
    if not methods:
        raise ExplanationError("no spatial method to check on this model")
    return memo(("sanity", methods, checkpoints, seed, threshold, *content_key(model, window)),
                 lambda: _randomise(model, window, methods, checkpoints, seed, threshold, progress))


def _randomise(model: AuditedModel, window: Window, methods: tuple, checkpoints: int, seed: int,
               threshold: float, progress=None) -> dict:
    import keras
    clone = keras.models.clone_model(model.model)
    clone.set_weights(model.model.get_weights())
    copy = AuditedModel(clone, model.card, sha256=model.sha256 + ":randomised",
                        target_layer=model.target_layer)
    original = explain(model, window, methods, cache=False)
    target = original.target
    layers = list(reversed(_weighted_layers(clone)))
    cuts = sorted({max(1, round(len(layers) * (k + 1) / checkpoints)) for k in range(checkpoints)})
    rng = np.random.default_rng(seed)
    done = 0
    stages = []
    for cut in cuts:
        if progress:
            progress(len(stages), len(cuts))
        for layer in layers[done:cut]:
            for v in layer.weights:
                w = to_numpy(v)
                scale = float(w.std()) or 0.05
                v.assign(rng.normal(0, scale, w.shape).astype(w.dtype))
        done = cut
        rand = explain(copy, window, methods, target=target, cache=False)
        stage = {"randomised_layers": [x.name for x in layers[:cut]][-3:], "count": cut}
        for m in methods:
            a, b = original[m].maps, rand[m].maps
            stage[m] = float(np.mean([spearman(a[t], b[t]) for t in range(a.shape[0])]))
        stages.append(stage)
    final = stages[-1]
    flags = {m: bool(abs(final[m]) > threshold) for m in methods}
    return {"stages": stages, "final_similarity": {m: final[m] for m in methods},
            "flagged": flags, "threshold": threshold, "layers": len(layers)}


def localisation(expset: ExplanationSet, window: Window, truth: GroundTruth) -> dict:
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
