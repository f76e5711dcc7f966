"""Is this clip like the data the model was trained on? Statistics of the per-frame features.

A score means little on footage unlike anything the model saw. Calibration (:mod:`.calibration`) reads clips
the model was trained or calibrated on (streaming, frame by frame through the CNN) and keeps
the mean and the (shrunk) covariance of the per-frame features ``f_t``. A window's distance
is the mean over its frames of the squared Mahalanobis distance divided by the feature
dimension (about 1 for frames like the calibration frames). The threshold is a high
percentile of the distances of windows from clips held out of the mean and covariance, so
that about ``100 - percentile`` % of in-distribution windows cross it by chance.

The statistics live in a file beside the card (``<model>.features.npz``); the card names
it, its SHA-256, the threshold and how it was made (``ModelCard.calibration``).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from ..errors import CardError, ModelError

FULL_COVARIANCE_MAX_DIM = 2048  # above: a diagonal covariance (memory, and too few frames)
SHRINKAGE = 0.05


@dataclass
class FeatureStats:
    """Mean and precision of per-frame features, and the distance threshold."""

    mean: np.ndarray  # (F,)
    precision: np.ndarray  # (F, F), or (F,) for a diagonal covariance
    threshold: float
    percentile: float
    frames: int

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance / F of each frame's features ``(N, *F)``."""
        d = features.reshape(len(features), -1).astype(np.float64) - self.mean
        if self.precision.ndim == 1:
            return (d * d * self.precision).sum(axis=1) / d.shape[1]
        return np.einsum("nf,fg,ng->n", d, self.precision, d) / d.shape[1]

    def window_distance(self, features: np.ndarray) -> float:
        """The mean frame distance of one window's features ``(T, *F)``."""
        return float(self.distances(features).mean())

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, mean=self.mean, precision=self.precision, threshold=self.threshold,
                 percentile=self.percentile, frames=self.frames)
        return buf.getvalue()

    @classmethod
    def from_file(cls, path: Path, sha256: str | None = None) -> "FeatureStats":
        """Read the statistics a card names, checking the hash it records.

        Raises:
            CardError: the file is missing, altered (hash) or not such statistics.
        """
        try:
            data = path.read_bytes()
        except OSError as e:
            raise CardError(f"{path}: the card's feature statistics cannot be read ({e.strerror or e})") from e
        if sha256 and hashlib.sha256(data).hexdigest() != sha256:
            raise CardError(f"{path}: the feature statistics do not match the SHA-256 the card records; "
                            "run `crnnaudit calibrate` again")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                return cls(z["mean"], z["precision"], float(z["threshold"]), float(z["percentile"]),
                           int(z["frames"]))
        except (OSError, KeyError, ValueError) as e:
            raise CardError(f"{path}: not crnnaudit feature statistics ({e})") from e


class _Moments:
    """Running sums for a mean and covariance, one batch of frames at a time."""

    def __init__(self):
        self.n, self.total, self.outer = 0, None, None

    def add(self, f: np.ndarray) -> None:
        f = f.reshape(len(f), -1).astype(np.float64)
        full = f.shape[1] <= FULL_COVARIANCE_MAX_DIM
        if self.total is None:
            self.total = np.zeros(f.shape[1])
            self.outer = np.zeros((f.shape[1],) * (2 if full else 1))
        self.n += len(f)
        self.total += f.sum(axis=0)
        self.outer += f.T @ f if full else (f * f).sum(axis=0)

    def stats(self, percentile: float) -> FeatureStats:
        mean = self.total / self.n
        if self.outer.ndim == 1:
            var = self.outer / self.n - mean ** 2
            var = (1 - SHRINKAGE) * var + SHRINKAGE * var.mean()
            return FeatureStats(mean, 1.0 / np.maximum(var, 1e-12), 0.0, percentile, self.n)
        cov = self.outer / self.n - np.outer(mean, mean)
        cov = (1 - SHRINKAGE) * cov + SHRINKAGE * np.trace(cov) / len(mean) * np.eye(len(mean))
        return FeatureStats(mean, np.linalg.pinv(cov, hermitian=True), 0.0, percentile, self.n)


def statistics(fit: Iterable[np.ndarray], held: Iterable[np.ndarray], window_length: int, stride: int,
               percentile: float = 99.5) -> FeatureStats:
    """Mean and covariance of the frames of ``fit`` (per-clip arrays ``(N, *F)``); threshold:
    the ``percentile`` of the distances of every window (``window_length``, ``stride``) of
    the ``held`` clips."""
    moments = _Moments()
    for f in fit:  # consumed first: ``held`` may fill while ``fit`` streams
        moments.add(f)
    stats = moments.stats(percentile)
    distances = [stats.window_distance(f[s:s + window_length]) for f in held
                 for s in range(0, max(1, len(f) - window_length + 1), stride)]
    if not distances:
        raise ModelError("calibration: no held-out window to set the threshold on")
    stats.threshold = float(np.percentile(distances, percentile))
    return stats


NO_STATISTICS = ("This model's card holds no statistics of its training data, so no check is possible "
                 "of whether this clip resembles what the model was trained on (`crnnaudit calibrate` "
                 "adds them).")


def familiarity_statement(distance: float | None, threshold: float | None) -> str:
    """What the training-data check says, in an auditor's words."""
    if distance is None or threshold is None:
        return NO_STATISTICS
    if distance > threshold:
        return (f"This window is UNLIKE the data the model was trained on (distance {distance:.2f}, "
                f"threshold {threshold:.2f}): the model was not made for footage like this, and its "
                "score may mean nothing here.")
    return (f"This window resembles the data the model was trained on (distance {distance:.2f}, "
            f"threshold {threshold:.2f}).")


def familiarity(model, frames: np.ndarray) -> dict:
    """The training-data check of one window's frames ``(T, H, W, 3)`` (uint8, model size)."""
    stats = model.feature_stats
    if stats is None:
        return {"checked": False, "statement": NO_STATISTICS}
    d = stats.window_distance(model.frame_features(model.prepare(frames)))
    return {"checked": True, "distance": d, "threshold": stats.threshold,
            "unlike_training": bool(d > stats.threshold), "statement": familiarity_statement(d, stats.threshold)}
