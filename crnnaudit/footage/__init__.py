"""Footage: what FFmpeg may open, clips and their windows, and whether frames are fit to read.

    container.py   the demuxer allowlist, probing a file's header before anything is decoded
    video.py       Clip, Window, open_clip: streaming decode, windows
    sampling.py    a model's frame rate: which frames a model trained at some rate sees
    truth.py       GroundTruth: what a synthetic clip really shows, from its sidecars
    quality.py     six image-quality measures per window and their calibrated bounds

Names are imported on first use, so reading a word from here starts neither PyAV nor OpenCV.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {"Clip": ".video", "GroundTruth": ".truth", "Window": ".video", "open_clip": ".video",
            "sha256_file": ".video", "QualityBounds": ".quality"}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, namespace=globals())
