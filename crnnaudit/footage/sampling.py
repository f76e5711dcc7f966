"""A model's frame rate: which of a clip's frames a model trained at some rate sees.

A model trained on frames sampled at 12 fps, fed every frame of a 25 or 50 fps recording, sees
windows that span a fraction of the time it was trained on, and does 2-4x the work. The card's
``frame_rate`` names the rate; :func:`at_rate` gives the clip as the model sees it, which
:meth:`crnnaudit.footage.video.Clip.at_rate` returns: frames taken by their timestamps,
variable frame rate included, at each tick ``1/rate`` s apart from the first frame the frame on
screen then (the last one shown at or before the tick). Windows, strides and frame numbers then
count these frames; times stay the file's own seconds. A clip within :data:`RATE_TOLERANCE` of
the rate, or slower, is taken frame for frame (slower: flagged, ``below_model_rate``). Decoding a
sampled clip converts only the frames it takes.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

RATE_TOLERANCE = 0.05  # a clip within 5% of a model's rate is taken frame for frame


def sample_plan(times: np.ndarray, rate: float) -> np.ndarray:
    """Which frames (by index) a model trained at ``rate`` fps sees of frames shown at ``times``
    (seconds, in presentation order): at each tick ``k / rate`` after the first frame, up to the
    last frame's time, the frame on screen then (the last shown at or before the tick)."""
    t = np.asarray(times, np.float64) - float(times[0])
    ticks = np.arange(0.0, t[-1] + 1e-9, 1.0 / rate)
    idx = np.searchsorted(t, ticks + 1e-9, side="right") - 1
    return np.unique(np.clip(idx, 0, len(t) - 1))


def at_rate(clip, rate: float | None):
    """The clip as a model trained on ``rate`` fps sees it (see :meth:`Clip.at_rate`)."""
    raw = clip._source or clip
    if raw.model_rate is not None:
        raw = replace(raw, model_rate=None)
    if rate is None:
        return raw
    rate = float(rate)
    if clip.model_rate == rate:
        return clip
    if raw.fps <= rate * (1 + RATE_TOLERANCE) or raw.frame_count < 2:
        return replace(raw, model_rate=rate)
    made = raw.__dict__.setdefault("_sampled", {})  # once per clip and rate: the review asks on every rerun
    if rate not in made:
        times = np.array([raw.time_of(i) for i in range(raw.frame_count)], np.float64)
        plan = sample_plan(times, rate)
        pts = [raw._pts[i] for i in plan] if raw._pts else []
        made[rate] = replace(raw, frame_count=len(plan), fps=rate, _pts=pts, model_rate=rate, _source=raw, _plan=plan)
    return made[rate]
