"""The perturbations every trust figure shares: what "removed" pixels become, which pixels a
map ranks first, a class's probability re-read through the model."""

from __future__ import annotations

import numpy as np

from ..render.maps import upsample


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


def class_scores(model, logits: np.ndarray, target: int) -> np.ndarray:
    """The probability of class ``target`` for each row of logits."""
    return model.probabilities(logits)[:, target]


def window_features(model, window, batch_frames: int = 64) -> np.ndarray:
    """The window's per-frame features ``(T, *F)``: one pass through the CNN."""
    x = model.prepare(window.frames)
    return np.concatenate([model.frame_features(x[i:i + batch_frames])
                           for i in range(0, len(x), batch_frames)])
