"""Video files: browser-playable H.264 written through PyAV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..lazy import LazyModule

av = LazyModule("av")


def write_video(path: str | Path, frames, fps: float = 10.0, crf: int = 23) -> Path:
    """Browser-playable H.264 MP4 (yuv420p) through PyAV's libx264.

    Repeatable: the same frames give the same file, in any process (the demo's training and
    evaluation clips are rendered again on every machine, and a report's video should be the
    one reviewed). So the frames go to the encoder already in yuv420p, converted by OpenCV
    (BT.601, as decoders read them back), libx264 runs on one thread and without its
    macroblock-tree rate control: PyAV's own RGB conversion gave different pixels from run to
    run, and so did the macroblock tree in a process where TensorFlow had run (its float
    arithmetic; the same frames gave four different files in six such processes).
    """
    path = Path(path)
    frames = list(frames)
    h, w = frames[0].shape[:2]
    h2, w2 = h - h % 2, w - w % 2  # yuv420p needs even sizes
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=max(1, int(round(fps))))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        stream.options = {"crf": str(int(crf)), "preset": "veryfast", "threads": "1", "x264-params": "mbtree=0"}
        for img in frames:
            yuv = cv2.cvtColor(np.ascontiguousarray(img[:h2, :w2]), cv2.COLOR_RGB2YUV_I420)
            for packet in stream.encode(av.VideoFrame.from_ndarray(yuv, format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path
