"""What would have changed the outcome: the smallest set of frames, then the smallest region.

Both are found by search and **verified**: every set and region reported here was removed from
the window and the window scored again through the model. Nothing is estimated from a map.

- :func:`temporal`: the smallest set of frames whose removal changes the model's outcome (the
  decision crosses the card's threshold, or the predicted class changes). A removed frame's
  features are replaced by one of the temporal methods' baselines, named in the result:
  ``previous`` by default (the last frame kept holds, as if the camera had frozen on it).
  ``mean`` (the window's mean frame feature) is weaker here: the mean still carries the frames
  removed, and on the planted-frame drill it found no set in 4 of 33 windows that
  ``previous`` explained. Every set of 1, 2, ... frames is tried while the number of sets
  stays within :data:`EXACT_SETS` (an exact search: the set found is a smallest one); beyond,
  a greedy search grows the best set of the last exact size one frame at a time (each step
  adds the frame whose removal moves the outcome most), then prunes every frame the change
  does not need, and the final set is re-scored (a set found so is verified, but may not be
  the smallest). Only the head runs: the frames' features are computed once.
- :func:`region`: on the counterfactual frames, the smallest top-ranked share of a spatial
  method's map that, blurred (as in the deletion figures), changes the outcome; shares from 5%
  to 50% in steps of 5%, all scored in one batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import time
from itertools import combinations
from math import comb

import numpy as np

from ..decision import decide
from ..errors import ExplanationError
from ..explainers.base import REGISTRY, ExplanationSet
from ..footage.video import Window
from ..limits import COUNTERFACTUAL_FRAME_STEPS, COUNTERFACTUAL_SECONDS
from ..model import AuditedModel
from .memo import content_key, memo
from .perturb import blurred, top_share, window_features

EXACT_SETS = 2000  # the exact search tries every set of k frames while the sets tried stay within this
BASELINES = ("mean", "zero", "previous")
SHARES = tuple(round(0.05 * i, 2) for i in range(1, 11))  # 5% .. 50% of each frame's pixels


def _outcome(model: AuditedModel, probs: np.ndarray) -> dict:
    """What the model says for each row of probabilities: decision, class, score."""
    probs = np.atleast_2d(probs)
    score = model.anomaly_score(probs)
    return {"decision": decide(score, model.card.threshold), "cls": probs.argmax(axis=1), "score": score}


@dataclass
class TemporalCounterfactual:
    """The smallest set of frames whose removal changes the outcome, or why none was found.

    Attributes:
        found: a set was found (and verified by re-scoring).
        positions: the set's positions in the window (0-based); ``frames`` the clip's frame numbers.
        search: ``exact`` (the set is a smallest one) or ``greedy`` (verified, maybe not smallest).
        exact_up_to: every set of up to this many frames was tried.
        max_frames: the largest set considered.
        before, after: the outcome with all frames, and without the set: decision, class, anomaly score
            and class probabilities (``after`` is None when nothing was found).
        changed: what changed (``decision``, ``class`` or both).
        baseline: what a removed frame's features become.
        sets_scored: how many windows the search scored through the head.
        statement: the result in one sentence.
        stopped_at_budget: the search ran out of its budget (frames through the head, seconds)
            before it had tried every size up to ``max_frames``; the statement says so.
    """

    found: bool
    positions: list[int]
    frames: list[int]
    search: str
    exact_up_to: int
    max_frames: int
    before: dict
    after: dict | None
    changed: list[str]
    baseline: str
    sets_scored: int
    statement: str = ""
    stopped_at_budget: bool = False

    def summary(self) -> dict:
        return asdict(self)


@dataclass
class RegionCounterfactual:
    """The smallest top-ranked share of a map that, blurred on the counterfactual frames,
    changes the outcome; ``masks`` (``(k, H, W)`` bool, one per counterfactual frame) outline it."""

    found: bool
    method: str | None
    share: float | None
    positions: list[int]
    after: dict | None
    shares_tried: list[float]
    statement: str
    masks: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "masks"}


def _removed(f: np.ndarray, sets: np.ndarray, baseline: str) -> np.ndarray:
    """Feature sequences ``(n, T, *F)``: ``f`` with the frames of each row of ``sets`` removed."""
    n, T = len(sets), len(f)
    out = np.repeat(f[None], n, axis=0)
    gone = np.zeros((n, T), bool)
    np.put_along_axis(gone, sets, True, axis=1)
    if baseline == "mean":
        out[gone] = f.mean(axis=0)
    elif baseline == "zero":
        out[gone] = 0.0
    else:  # previous: the last kept frame holds; frames before the first kept one take it
        for i in range(n):
            kept = np.flatnonzero(~gone[i])
            if kept.size == 0:
                out[i] = f.mean(axis=0)
                continue
            src = kept[np.clip(np.searchsorted(kept, np.arange(T), side="right") - 1, 0, None)]
            out[i] = f[src]
    return out


class _OutOfBudget(Exception):
    """The search reached its budget (:data:`~crnnaudit.limits.COUNTERFACTUAL_FRAME_STEPS` or
    :data:`~crnnaudit.limits.COUNTERFACTUAL_SECONDS`)."""


class _Scorer:
    """Scores sets of removed frames through the head, counting what it scored, within the
    search's budget: frames run through the head, and seconds."""

    def __init__(self, model: AuditedModel, f: np.ndarray, baseline: str, batch: int):
        self.model, self.f, self.baseline, self.batch, self.scored = model, f, baseline, batch, 0
        self.deadline = time.monotonic() + COUNTERFACTUAL_SECONDS

    def affordable(self, n_sets: int) -> bool:
        return (self.scored + n_sets) * len(self.f) <= COUNTERFACTUAL_FRAME_STEPS

    def probs(self, sets: np.ndarray) -> np.ndarray:
        if not self.affordable(len(sets)):
            raise _OutOfBudget
        out = []
        for i in range(0, len(sets), self.batch):
            if time.monotonic() > self.deadline:
                raise _OutOfBudget
            seqs = _removed(self.f, sets[i:i + self.batch], self.baseline)
            out.append(self.model.probabilities(self.model.head_logits(seqs)))
        self.scored += len(sets)
        return np.concatenate(out)


def _change(model, before: dict, probs: np.ndarray, by_class: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per row: did the outcome change, and how far is it from changing (lower is closer; <= 0
    once changed)."""
    now = _outcome(model, probs)
    thr, c0 = model.card.threshold, int(before["cls"][0])
    changed = now["decision"] != before["decision"][0]
    margin = now["score"] - thr if before["decision"][0] == "anomaly" else thr - now["score"]
    if by_class and probs.shape[1] > 1:
        changed |= now["cls"] != c0
        others = np.delete(probs, c0, axis=1)
        margin = np.minimum(margin, probs[:, c0] - others.max(axis=1))
    return changed, margin


def _describe(model: AuditedModel, probs: np.ndarray) -> dict:
    o = _outcome(model, probs)
    classes = model.card.classes
    return {"decision": str(o["decision"][0]), "class": classes[int(o["cls"][0])],
            "anomaly_score": float(o["score"][0]), "probabilities": dict(zip(classes, map(float, probs[0])))}


def temporal(model: AuditedModel, window: Window, *, features: np.ndarray | None = None, baseline: str = "previous",
             max_frames: int | None = None, by_class: bool = True, exact_sets: int | None = None,
             batch: int = 512) -> TemporalCounterfactual:
    """The smallest set of frames whose removal changes the model's outcome on ``window``.

    Args:
        features: the window's frame features when already computed (else one CNN pass).
        baseline: what a removed frame becomes: ``previous`` (the last frame kept holds; frames
            before the first kept one take it), ``mean`` (the window's mean frame feature) or ``zero``.
        max_frames: the largest set to consider (default: half the window).
        by_class: a change of predicted class counts, not only a decision crossing the threshold.
        exact_sets: the exact search's budget in sets scored (default :data:`EXACT_SETS`).

    Raises:
        ExplanationError: an unknown baseline or a max_frames outside 1..T.
    """
    if baseline not in BASELINES:
        raise ExplanationError(f"counterfactual baseline {baseline!r} is not one of {BASELINES}")
    exact_sets = EXACT_SETS if exact_sets is None else exact_sets
    f = window_features(model, window) if features is None else np.asarray(features, np.float32)
    T = len(f)
    max_frames = max(1, T // 2) if max_frames is None else max_frames
    if isinstance(max_frames, bool) or not isinstance(max_frames, (int, np.integer)) or not 1 <= max_frames <= T:
        raise ExplanationError(f"counterfactual max_frames must be a whole number from 1 to {T}, got {max_frames!r}")
    scorer = _Scorer(model, f, baseline, batch)
    p0 = model.probabilities(model.head_logits(f[None]))
    before = _outcome(model, p0)
    found, k, best, stopped = None, 0, np.zeros((1, 0), int), False
    try:
        while (found is None and k < max_frames and scorer.scored + comb(T, k + 1) <= exact_sets
               and scorer.affordable(comb(T, k + 1))):
            sets = np.array(list(combinations(range(T), k + 1)), int)
            changed, margin = _change(model, before, scorer.probs(sets), by_class)
            k += 1  # every set of k frames was scored
            if changed.any():
                found = sets[np.flatnonzero(changed)[np.argmin(margin[changed])]]
            best = sets[[int(np.argmin(margin))]]
    except _OutOfBudget:
        stopped = True
    exact_up_to, search = k, "exact"
    if found is None and k < max_frames and not stopped:
        try:
            found, search = _greedy(model, before, scorer, best[0], T, max_frames, by_class), "greedy"
        except _OutOfBudget:
            stopped, search = True, "greedy"
    result = _result(model, window, scorer, p0, before, found, search, exact_up_to, max_frames, baseline, by_class)
    if stopped and not result.found:
        budget = (f"the search's budget ({COUNTERFACTUAL_FRAME_STEPS:,} frames through the head, "
                  f"{COUNTERFACTUAL_SECONDS:g} s; {scorer.scored:,} sets of {T} frames scored)")
        result.stopped_at_budget = True
        result.statement = (f"No counterfactual was searched to the end: {budget} ran out before every single "
                            f"frame of this {T}-frame window was tried." if k == 0 else
                            result.statement.rstrip(".") + f"; then {budget} ran out before sets of {max_frames} "
                            "frames: a larger set may still change it.")
    return result


def _greedy(model, before, scorer: _Scorer, start: np.ndarray, T: int, max_frames: int, by_class: bool):
    chosen = list(int(t) for t in start)
    while len(chosen) < max_frames:
        rest = [t for t in range(T) if t not in chosen]
        sets = np.array([sorted(chosen + [t]) for t in rest], int)
        changed, margin = _change(model, before, scorer.probs(sets), by_class)
        if changed.any():
            return _prune(model, before, scorer, sets[np.flatnonzero(changed)[np.argmin(margin[changed])]], by_class)
        chosen.append(rest[int(np.argmin(margin))])
    return None


def _prune(model, before, scorer: _Scorer, found: np.ndarray, by_class: bool) -> np.ndarray:
    """Drop every frame the change does not need (one at a time, re-scored)."""
    s = list(int(t) for t in found)
    for t in list(s):
        if len(s) > 1:
            trial = np.array([[u for u in s if u != t]], int)
            if _change(model, before, scorer.probs(trial), by_class)[0][0]:
                s.remove(t)
    return np.array(s, int)


def _result(model, window, scorer, p0, before, found, search, exact_up_to, max_frames, baseline, by_class):
    b = _describe(model, p0)
    label = {"mean": "the window's mean frame feature", "zero": "zeros",
             "previous": "the last frame kept"}[baseline]
    if found is None:
        beyond = f"; a greedy search up to {max_frames} frames found none either" if exact_up_to < max_frames else ""
        return TemporalCounterfactual(
            False, [], [], search, exact_up_to, max_frames, b, None, [], baseline, scorer.scored,
            f"Removing any set of up to {exact_up_to} frame{'s' if exact_up_to != 1 else ''} (each replaced by "
            f"{label}) leaves the model's answer "
            f"unchanged ({b['decision']}; most likely class {b['class']}): every such set was tried{beyond}.")
    pa = scorer.probs(found[None])  # the verification: the set removed, the window scored again
    changed, _ = _change(model, before, pa, by_class)
    if not changed[0]:  # cannot happen unless the head is not deterministic
        raise ExplanationError("the counterfactual set did not change the outcome when re-scored")
    a = _describe(model, pa)
    what = [w for w, x, y in (("decision", b["decision"], a["decision"]), ("class", b["class"], a["class"])) if x != y]
    frames = [int(window.indices[t]) for t in found]
    how = ("the smallest such set (every smaller set tried)" if search == "exact" else
           f"found by greedy search and verified (no set of up to {exact_up_to} frames does it)")
    statement = (f"Without {frame_words(frames)} (replaced by {label}), the model would have said {a['decision']} "
                 f"(anomaly score {a['anomaly_score']:.3f}; most likely class {a['class']}) instead of "
                 f"{b['decision']} (anomaly score {b['anomaly_score']:.3f}; most likely class {b['class']}): {how}.")
    return TemporalCounterfactual(True, [int(t) for t in found], frames, search, exact_up_to, max_frames, b, a,
                                  what, baseline, scorer.scored, statement)


def frame_words(frames: list[int]) -> str:
    """"frame 34", "frames 34 and 36", "frames 1, 2 and 3"."""
    words = [str(f) for f in frames]
    return f"frame {words[0]}" if len(words) == 1 else "frames " + ", ".join(words[:-1]) + " and " + words[-1]


def region(model: AuditedModel, window: Window, cf: TemporalCounterfactual, expset: ExplanationSet,
           method: str | None = None, *, features: np.ndarray | None = None, by_class: bool = True,
           shares: tuple[float, ...] = SHARES) -> RegionCounterfactual:
    """On the counterfactual frames, the smallest top-ranked share of ``method``'s map (default:
    the set's first spatial method) that, blurred, changes the outcome; verified by re-scoring.

    Raises:
        ExplanationError: ``method`` is not a spatial method of ``expset``.
    """
    spatial = expset.spatial()
    method = method or (spatial[0] if spatial else None)
    if method is not None and method not in spatial:
        raise ExplanationError(f"region counterfactual: {method!r} is not a spatial method of this explanation "
                               f"({spatial or 'none'})")
    if not cf.found or method is None:
        why = ("no frame set changes the outcome" if not cf.found else "no spatial method was asked for")
        return RegionCounterfactual(False, method, None, [], None, list(shares), f"No region counterfactual: {why}.")
    label = REGISTRY[method].label if method in REGISTRY else method
    S = np.array(cf.positions, int)
    f = window_features(model, window) if features is None else np.asarray(features, np.float32)
    frames = window.frames[S]
    H, W = frames.shape[1:3]
    blur = blurred(frames)
    masks = [top_share(expset[method].maps[S], (H, W), q) for q in shares]
    x = model.prepare(np.concatenate([np.where(m, blur, frames) for m in masks]))
    fs = model.frame_features(x).reshape((len(shares), len(S)) + f.shape[1:])
    seqs = np.repeat(f[None], len(shares), axis=0)
    seqs[:, S] = fs
    probs = model.probabilities(model.head_logits(seqs))
    before = _outcome(model, model.probabilities(model.head_logits(f[None])))
    changed, _ = _change(model, before, probs, by_class)
    where = ", ".join(map(str, cf.frames))
    if not changed.any():
        return RegionCounterfactual(False, method, None, cf.positions, None, list(shares),
                                    f"Blurring up to {max(shares):.0%} of what {label} ranks highest on frames "
                                    f"{where} does not change the outcome: none up to {max(shares):.0%}.")
    i = int(np.flatnonzero(changed)[0])
    after = _describe(model, probs[i:i + 1])
    return RegionCounterfactual(True, method, float(shares[i]), cf.positions, after, list(shares),
                                f"Blurring the {shares[i]:.0%} of each of frames {where} that {label} ranks "
                                f"highest changes the outcome to {after['decision']} ({after['class']}, "
                                f"anomaly score {after['anomaly_score']:.2f}).", masks[i][..., 0])


def for_window(model: AuditedModel, window: Window, expset: ExplanationSet, method: str | None = None,
               max_frames: int | None = None) -> dict:
    """What would have changed the outcome of this window, as pages and reports show it: the
    frame counterfactual (default baseline) and, on its frames, the region one for ``method``
    (default: the set's first spatial method). One CNN pass for the features; computed once
    per content (:func:`crnnaudit.trust.memo.memo`).

    Returns:
        ``{"temporal": TemporalCounterfactual, "region": RegionCounterfactual}``.
    """
    spatial = expset.spatial()
    chosen = method or (spatial[0] if spatial else None)
    arrays = [expset[chosen].maps] if chosen in spatial else []

    def compute():
        f = window_features(model, window)
        cf = temporal(model, window, features=f, max_frames=max_frames)
        return {"temporal": cf, "region": region(model, window, cf, expset, chosen, features=f)}
    return memo(("counterfactual", chosen, max_frames, *content_key(model, window, *arrays)), compute)


def summary(found: dict) -> dict:
    """:func:`for_window`'s result as JSON-ready dicts (the masks left out)."""
    return {"temporal": found["temporal"].summary(), "region": found["region"].summary()}
