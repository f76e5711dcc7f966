"""Privacy by default: faces in exported frames are blurred (OpenCV's bundled Haar cascade)."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from ..errors import ReportError


@lru_cache(maxsize=1)
def _detector() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    det = cv2.CascadeClassifier(path)
    if det.empty():
        raise ReportError(f"the face detector could not be loaded from {path}; reinstall "
                          "opencv-python-headless 4.x, which bundles the Haar cascades")
    return det


def find_faces(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Face boxes ``(x, y, w, h)`` in an RGB frame."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    min_side = max(12, min(grey.shape) // 40)
    faces = _detector().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(min_side, min_side))
    return [tuple(int(v) for v in f) for f in faces]


def blur_faces(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """The frame with every detected face made unrecognisable, and how many were found.

    A Gaussian blur alone leaves faces detectable (and so, arguably, recognisable); the
    region is pixelated to a 5 x 5 mosaic first, then blurred.
    """
    out = rgb.copy()
    faces = find_faces(rgb)
    for x, y, w, h in faces:
        pad = int(0.15 * max(w, h))
        y0, y1 = max(0, y - pad), min(out.shape[0], y + h + pad)
        x0, x1 = max(0, x - pad), min(out.shape[1], x + w + pad)
        region = out[y0:y1, x0:x1]
        mosaic = cv2.resize(cv2.resize(region, (5, 5), interpolation=cv2.INTER_AREA),
                            (region.shape[1], region.shape[0]), interpolation=cv2.INTER_NEAREST)
        k = max(15, (max(w, h) // 4) | 1)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(mosaic, (k, k), 0)
    return out, len(faces)
