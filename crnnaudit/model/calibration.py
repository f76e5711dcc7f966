"""Calibrating a model on clips like its training data: the workflow that reads the clips,
computes the feature statistics (:mod:`.statistics`) and records them in the model's card.

``crnnaudit calibrate MODEL CLIPS...`` calls :func:`calibrate_card`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..card import ModelCard, default_sidecar_path, sidecar_path
from ..errors import ModelError
from ..footage.video import Clip, open_clip
from ..vocabulary import VIDEO_SUFFIXES
from .loading import load_model
from .statistics import SHRINKAGE, FeatureStats, statistics


def clip_features(model, clip: Clip, batch: int = 32) -> np.ndarray:
    """Per-frame features of every frame of a clip ``(N, *F)`` as the model sees it (sampled to
    its card's frame rate), streamed in batches."""
    clip = clip.at_rate(model.card.frame_rate)
    out, pending = [], []
    for _, img in clip.iter_frames(0, clip.frame_count, model.frame_size):
        pending.append(img)
        if len(pending) == batch:
            out.append(model.frame_features(model.prepare(np.stack(pending))))
            pending = []
    if pending:
        out.append(model.frame_features(model.prepare(np.stack(pending))))
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


def calibrate_quality(model, clips: Iterable[str | Path | Clip], progress: Callable[[int, int], None] | None = None):
    """Image-quality bounds (:mod:`crnnaudit.footage.quality`) from every window (the card's length
    and stride) of clips like the model's training data, read at the model's input size.

    Raises:
        ModelError: no frame of any clip could be read.
    """
    from ..errors import CardError
    from ..footage.quality import calibrate_bounds, frame_measures, window_values
    clips = list(clips)
    T, stride = model.window_length, model.card.stride
    windows = []
    for i, c in enumerate(clips):
        clip = (c if isinstance(c, Clip) else open_clip(c)).at_rate(model.card.frame_rate)
        frames = [img for _, img in clip.iter_frames(0, clip.frame_count, model.frame_size)]
        if frames:
            m = frame_measures(np.stack(frames))
            windows += [window_values(m[s:s + T]) for s in range(0, max(1, len(m) - T + 1), stride)]
        if progress:
            progress(i + 1, len(clips))
    try:
        return calibrate_bounds(windows)
    except CardError as e:
        raise ModelError(f"calibration: {e}") from e


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
    out: list[Path] = []
    for src in map(Path, sources):
        if src.is_dir():
            out.extend(sorted(p for p in src.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES))
        else:
            out.append(src)
    return out


def calibrate_card(model_path: str | Path, sources: Iterable[str | Path], card: str | Path | None = None,
                   percentile: float = 99.5, progress: Callable[[int, int], None] | None = None,
                   note: str = "", frame_rate: float | None = None) -> tuple[Path, dict]:
    """Calibrate a model on clips and record the statistics in its card (the sidecar beside
    the model, or ``card``; created from the defaults when there is none). ``frame_rate``: the
    frames per second the model was trained on, recorded in the card first (the clips are then
    sampled to it, as every later clip is).

    Returns:
        The card's path and its new ``calibration`` entry.
    """
    model_path = Path(model_path)
    card_path = Path(card) if card else (sidecar_path(model_path) or default_sidecar_path(model_path))
    base = ModelCard.read(card_path) if card_path.exists() else None
    # the old statistics play no part (and may be the thing being replaced)
    model = load_model(model_path, card=dataclasses.replace(base, calibration=None) if base else None)
    if frame_rate is not None:  # checked as any card field is, then the clips are read at it
        model.card.frame_rate = ModelCard.from_dict(dict(model.card.to_dict(), frame_rate=frame_rate),
                                                    source="the frame rate").frame_rate
    paths = clip_paths(sources)
    stats = calibrate(model, paths, percentile=percentile, progress=progress)
    bounds = calibrate_quality(model, paths)
    base = base or model.card
    base.frame_rate = model.card.frame_rate
    base.calibration = write_calibration(stats, card_path, len(paths), note)
    base.calibration["quality"] = bounds.to_dict()
    base.model_sha256 = model.sha256  # the file these statistics describe
    base.write(card_path)
    return card_path, base.calibration
