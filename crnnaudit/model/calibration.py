"""Is this clip like the data the model was trained on? Statistics of the per-frame features.

A score means little on footage unlike anything the model saw. :func:`calibrate` reads clips
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

import dataclasses
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import CardError, ModelError
from ..video import Clip, open_clip

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


def clip_features(model, clip: Clip, batch: int = 32) -> np.ndarray:
    """Per-frame features of every frame of a clip ``(N, *F)``, streamed in batches."""
    out, pending = [], []
    for _, img in clip.iter_frames(0, clip.frame_count, model.frame_size):
        pending.append(img)
        if len(pending) == batch:
            out.append(model.frame_features(model.prepare(np.stack(pending))).numpy())
            pending = []
    if pending:
        out.append(model.frame_features(model.prepare(np.stack(pending))).numpy())
    if not out:
        raise ModelError(f"{clip.name}: no frame could be decoded for calibration")
    return np.concatenate(out)


def calibrate(model, clips: Iterable[str | Path | Clip], percentile: float = 99.5, holdout_every: int = 4,
              progress: Callable[[int, int], None] | None = None) -> FeatureStats:
    """Feature statistics of clips like the model's training data.

    Args:
        model: an :class:`~crnnaudit.AuditedModel`.
        clips: clips (or paths) of the data the model was trained or calibrated on.
        percentile: the threshold is this percentile of held-out windows' distances.
        holdout_every: every n-th clip is kept out of the mean and covariance and sets the
            threshold instead (distances of frames the statistics saw are optimistic).

    Raises:
        ModelError: fewer than ``holdout_every`` clips, or no window to set a threshold on.
    """
    clips = list(clips)
    if len(clips) < max(2, holdout_every):
        raise ModelError(f"calibration needs at least {max(2, holdout_every)} clips, got {len(clips)}")
    if not 50.0 <= percentile < 100.0:
        raise ModelError(f"percentile must be in [50, 100), got {percentile}")
    held: list[np.ndarray] = []

    def fit():  # streamed: only the held-out clips' features are kept
        for i, c in enumerate(clips):
            f = clip_features(model, c if isinstance(c, Clip) else open_clip(c))
            if i % holdout_every == holdout_every - 1:
                held.append(f)
            else:
                yield f
            if progress:
                progress(i + 1, len(clips))
    return statistics(fit(), held, model.window_length, model.card.stride, percentile)


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


def write_calibration(stats: FeatureStats, card_path: Path, clips: int, note: str = "") -> dict:
    """Write the statistics beside the card and return the card's ``calibration`` entry."""
    stem = card_path.name.split(".card.")[0]
    target = card_path.with_name(stem + ".features.npz")
    data = stats.to_bytes()
    target.write_bytes(data)
    return {"file": target.name, "sha256": hashlib.sha256(data).hexdigest(), "threshold": stats.threshold,
            "percentile": stats.percentile, "frames": stats.frames, "clips": clips,
            "method": "mean squared Mahalanobis distance / dimension of the per-frame features, "
                      f"covariance shrunk by {SHRINKAGE}; threshold: percentile {stats.percentile:g} "
                      "of windows from held-out calibration clips", "note": note}


def clip_paths(sources: Iterable[str | Path]) -> list[Path]:
    """Clip files named directly or found in folders (sorted), in the order given."""
    from ..vocabulary import VIDEO_SUFFIXES
    out: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            out.extend(sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES))
        else:
            out.append(src)
    return out


def calibrate_card(model_path: str | Path, sources: Iterable[str | Path], card: str | Path | None = None,
                   percentile: float = 99.5, progress: Callable[[int, int], None] | None = None,
                   note: str = "") -> tuple[Path, dict]:
    """Calibrate a model on clips and record the statistics in its card (the sidecar beside
    the model, or ``card``; created from the defaults when there is none).

    Returns:
        The card's path and its new ``calibration`` entry.
    """
    from ..card import ModelCard, default_sidecar_path, sidecar_path
    from .loading import load_model
    model_path = Path(model_path)
    card_path = Path(card) if card else (sidecar_path(model_path) or default_sidecar_path(model_path))
    base = ModelCard.read(card_path) if card_path.exists() else None
    # the old statistics play no part (and may be the thing being replaced)
    model = load_model(model_path, card=dataclasses.replace(base, calibration=None) if base else None)
    paths = clip_paths(sources)
    stats = calibrate(model, paths, percentile=percentile, progress=progress)
    base = base or model.card
    base.calibration = write_calibration(stats, card_path, len(paths), note)
    base.write(card_path)
    return card_path, base.calibration


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
    d = stats.window_distance(model.frame_features(model.prepare(frames)).numpy())
    return {"checked": True, "distance": d, "threshold": stats.threshold,
            "unlike_training": bool(d > stats.threshold), "statement": familiarity_statement(d, stats.threshold)}
