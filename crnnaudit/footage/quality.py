"""Is the footage fit to be read? Per-window image-quality checks, calibrated per model.

The training-data check (:mod:`crnnaudit.model.statistics`) asks whether a window's features
look like the training frames'. Degraded footage can pass it: a blurred frame sits closer to
the mean feature than a sharp one. So each window also gets six measures of the frames the
model sees (its input size, before preprocessing), each compared with bounds calibrated on
the clips the model was calibrated on and recorded in its card:

=============  ==============  ======================================================  ==========
check          measure         how                                                      flags when
=============  ==============  ======================================================  ==========
blur           sharpness       variance of the Laplacian of the luminance               too low
exposure       brightness      mean luminance (0-255)                                   too low or high
contrast       contrast        standard deviation of the luminance                      too low
noise          noise           Immerkaer's (1996) noise estimate of the luminance       too high
blockiness     blockiness      mean step across 4-pixel block edges over the mean       too high
                               step inside blocks (compression blocks)
frozen frames  still           share of frames (nearly) identical to the one before    too high
=============  ==============  ======================================================  ==========

A window's value is the median over its frames (``still``: the share over its frame pairs).
Bounds (:func:`calibrate_bounds`): the 0.5th and 99.5th percentiles of the calibration
windows, widened by half their spread and at least by a floor per measure (a factor 1.5 for
the scale measures, 15 levels of brightness, 0.2 of a share), on the side that matters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..lazy import LazyModule
from ..card import check_quality_bounds
from ..errors import CardError

cv2 = LazyModule("cv2")  # imported on first use (see lazy.py)

# name -> (the check it feeds, the side that flags, scale: "log" | "linear" | "share", floor, unit words)
MEASURES: dict[str, tuple[str, str, str, float, str]] = {
    "sharpness": ("blur", "low", "log", np.log(1.5), "sharpness (variance of the Laplacian)"),
    "brightness": ("exposure", "both", "linear", 15.0, "mean brightness"),
    "contrast": ("contrast", "low", "log", np.log(1.5), "contrast (standard deviation of brightness)"),
    "noise": ("noise", "high", "log", np.log(1.5), "noise level"),
    "blockiness": ("blockiness", "high", "log", np.log(1.5), "blockiness (steps at block edges)"),
    "still": ("frozen frames", "high", "share", 0.2, "share of frames identical to the one before"),
}
CHECKS = tuple(dict.fromkeys(v[0] for v in MEASURES.values()))
STILL_LEVEL = 0.05  # mean absolute difference (levels) under which a frame repeats the previous one
BLOCK = 4
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _luma(frames: np.ndarray) -> np.ndarray:
    f = np.asarray(frames, np.float32)
    return f[..., 0] * 0.299 + f[..., 1] * 0.587 + f[..., 2] * 0.114


def frame_measures(frames: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Per frame of ``frames`` (N, H, W, 3) uint8 RGB: sharpness, brightness, contrast, noise,
    blockiness, and the mean absolute difference to the frame before (``previous`` for the
    first; NaN without it). Returns (N, 6) float64."""
    y = _luma(frames)
    n, h, w = y.shape
    out = np.empty((n, 6))
    for i in range(n):
        lap = cv2.Laplacian(y[i], cv2.CV_32F)
        out[i, 0] = float(lap.var())
        out[i, 1] = float(y[i].mean())
        out[i, 2] = float(y[i].std())
        if h > 2 and w > 2:
            conv = cv2.filter2D(y[i], cv2.CV_32F, _NOISE_KERNEL)[1:-1, 1:-1]
            out[i, 3] = float(np.sqrt(np.pi / 2) * np.abs(conv).mean() / 6)
        else:
            out[i, 3] = 0.0
        out[i, 4] = _blockiness(y[i])
    prev = None if previous is None else _luma(previous[None])[0]
    for i in range(n):
        before = y[i - 1] if i else prev
        out[i, 5] = np.nan if before is None else float(np.abs(y[i] - before).mean())
    return out


def _blockiness(y: np.ndarray) -> float:
    """Mean absolute step between columns/rows that lie on a :data:`BLOCK` grid line over the
    mean step inside blocks: about 1 on natural images, higher where compression left blocks."""
    dx = np.abs(np.diff(y, axis=1))
    dy = np.abs(np.diff(y, axis=0))
    on_x = (np.arange(dx.shape[1]) % BLOCK) == BLOCK - 1
    on_y = (np.arange(dy.shape[0]) % BLOCK) == BLOCK - 1
    edge = dx[:, on_x].mean() + dy[on_y].mean() if on_x.any() and on_y.any() else 0.0
    inside = dx[:, ~on_x].mean() + dy[~on_y].mean()
    return float((edge + 1e-3) / (inside + 1e-3))


def window_values(measures: np.ndarray) -> dict[str, float]:
    """A window's values from its frames' :func:`frame_measures` rows (T, 6)."""
    m = np.asarray(measures, float)
    steps = m[:, 5][~np.isnan(m[:, 5])]
    vals = {name: float(np.median(m[:, k])) for k, name in enumerate(list(MEASURES)[:5])}
    vals["still"] = float((steps < STILL_LEVEL).mean()) if len(steps) else 0.0
    return vals


def _to_scale(name: str, v: float) -> float:
    return float(np.log(max(v, 1e-6))) if MEASURES[name][2] == "log" else float(v)


def _from_scale(name: str, v: float) -> float:
    return float(np.exp(v)) if MEASURES[name][2] == "log" else float(v)


@dataclass
class QualityBounds:
    """Calibrated bounds per measure (``None`` where a side does not flag)."""

    low: dict[str, float | None]
    high: dict[str, float | None]
    windows: int = 0
    method: str = field(default="")

    def check(self, values: dict[str, float]) -> list[dict]:
        """The checks that fire on one window's values, each with why."""
        fired = []
        for name, (check, _, _, _, words) in MEASURES.items():
            v = values.get(name)
            if v is None or not np.isfinite(v):
                continue
            lo, hi = self.low.get(name), self.high.get(name)
            if lo is not None and v < lo:
                fired.append({"check": check, "measure": name, "value": v, "bound": lo, "side": "below",
                              "why": f"{words} {v:.3g}, below the calibrated {lo:.3g}"})
            elif hi is not None and v > hi:
                fired.append({"check": check, "measure": name, "value": v, "bound": hi, "side": "above",
                              "why": f"{words} {v:.3g}, above the calibrated {hi:.3g}"})
        return fired

    def to_dict(self) -> dict:
        return {"low": self.low, "high": self.high, "windows": self.windows, "method": self.method}

    @classmethod
    def from_dict(cls, data, source: str = "model card") -> "QualityBounds":
        """Bounds from a card's ``calibration.quality``.

        Raises:
            CardError: not a mapping of numeric bounds per known measure.
        """
        check_quality_bounds(data, source)
        return cls({k: (None if v is None else float(v)) for k, v in data["low"].items()},
                   {k: (None if v is None else float(v)) for k, v in data["high"].items()},
                   int(data.get("windows") or 0), str(data.get("method") or ""))


def calibrate_bounds(windows: list[dict[str, float]], margin: float = 0.5) -> QualityBounds:
    """Bounds from the values of calibration windows (see the module's docstring).

    Raises:
        CardError: no window to calibrate on.
    """
    if not windows:
        raise CardError("image-quality calibration: no window to calibrate on")
    low: dict[str, float | None] = {}
    high: dict[str, float | None] = {}
    for name, (_, side, _, floor, _) in MEASURES.items():
        v = np.array([_to_scale(name, w[name]) for w in windows if np.isfinite(w.get(name, np.nan))])
        p_lo, p_hi = np.percentile(v, [0.5, 99.5]) if len(v) else (0.0, 0.0)
        widen = max(margin * (p_hi - p_lo), floor)
        low[name] = _from_scale(name, p_lo - widen) if side in ("low", "both") else None
        high[name] = _from_scale(name, p_hi + widen) if side in ("high", "both") else None
        if name == "still":
            high[name] = min(high[name], 0.99)  # a window of one repeated frame always flags
    return QualityBounds(low, high, len(windows),
                         f"0.5th and 99.5th percentiles of {len(windows)} calibration windows, widened by "
                         f"{margin:g} of their spread and at least by a floor per measure (crnnaudit.footage.quality)")


def statement(fired: list[dict]) -> str:
    """What the quality check says, in an auditor's words."""
    if not fired:
        return "The footage passes the image-quality checks calibrated for this model."
    checks = ", ".join(dict.fromkeys(f["check"] for f in fired))
    return (f"Degraded footage ({checks}): " + "; ".join(f["why"] for f in fired)
            + ". The model was calibrated on clearer footage; its score may mean nothing here.")
