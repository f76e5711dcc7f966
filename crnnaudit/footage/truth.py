"""Ground truth of a clip, when it has one: what a synthetic clip really shows (class, anomalous
frames, region masks), from its ``<clip>.truth.json`` and ``<clip>.mask.npz`` sidecars."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VideoError


@dataclass
class GroundTruth:
    """What a synthetic clip really shows: class, anomalous frames, region masks."""

    label: str
    interval: tuple[int, int] | None  # first and last anomalous frame, inclusive
    masks: np.ndarray | None = None  # (frames, H, W) bool, at the clip's resolution

    def frame_is_anomalous(self, i: int) -> bool:
        return self.interval is not None and self.interval[0] <= i <= self.interval[1]


def read_ground_truth(path: Path) -> GroundTruth | None:
    """The ground truth beside the clip at ``path`` (``None`` when it has none).

    Raises:
        VideoError: the sidecar is there but unreadable.
    """
    path = Path(path)
    side = path.with_name(path.stem + ".truth.json")
    if not side.exists():
        return None
    try:
        data = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise VideoError(f"{side}: unreadable ground truth ({e})") from e
    masks = None
    mask_file = side.with_name(path.stem + ".mask.npz")
    if mask_file.exists():
        with np.load(mask_file) as z:
            shape = tuple(z["shape"])
            masks = np.unpackbits(z["bits"])[: int(np.prod(shape))].reshape(shape).astype(bool)
    interval = tuple(data["interval"]) if data.get("interval") else None
    return GroundTruth(data["label"], interval, masks)
