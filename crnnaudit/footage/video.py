"""Clips: probe, hash, stream, window.

Decoding streams through PyAV: a clip is never held in memory whole. The container's frame
count and rate are not trusted (``vtest.avi`` claims 682 frames at 50 fps and holds 341 at
25); crnnaudit counts the video packets and derives the rate and the duration from their
timestamps (so a variable-frame-rate clip has its real length).

Every clip is hostile until proven otherwise:

- only real video containers are opened (:data:`CONTAINERS`: MP4/MOV, Matroska/WebM, AVI),
  read from the local file alone: no playlists, concat lists, image files, raw streams or
  network protocols, so the SHA-256 that names a clip covers every byte that is decoded;
- a frame size above :func:`~crnnaudit.limits.max_frame_pixels` is refused before any frame is decoded, and
  frames are scaled in the decoder to at most :data:`MAX_DECODE_SIDE` pixels a side;
- the display rotation is applied, as a player would;
- a file that declares more than it holds (a cut-off download) is flagged ``truncated``.

Clips shorter than one window are **padded** by repeating their last frame, and the window
says so (``Window.padded``); reports carry the flag.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..lazy import LazyModule
from .container import CONTAINERS, av_open, check_path, check_tail, first_frame, probe  # noqa: F401
from .sampling import RATE_TOLERANCE, at_rate
from .truth import GroundTruth, read_ground_truth  # noqa: F401  (GroundTruth: re-exported)
from ..limits import MAX_DECODE_SIDE, max_frame_pixels
from ..errors import VideoError
from ..vocabulary import VIDEO_SUFFIXES  # noqa: F401  (re-exported)

av, cv2 = LazyModule("av"), LazyModule("cv2")  # imported on first use (see lazy.py)

def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass
class Window:
    """T consecutive frames of a clip, resized to the model's input.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 RGB at the model's resolution.
        indices: source frame index of each frame (repeats where padded).
        times: timestamp of each frame in seconds.
        index: which window of the clip this is (``start = index * stride``).
        padded: True when the clip was shorter than one window.
    """

    frames: np.ndarray
    indices: np.ndarray
    times: np.ndarray
    index: int
    stride: int
    clip_sha256: str
    padded: bool = False

    @property
    def length(self) -> int:
        return int(self.frames.shape[0])

    def describe(self) -> dict:
        return {"index": self.index, "stride": self.stride, "first_frame": int(self.indices[0]),
                "last_frame": int(self.indices[-1]), "start_s": float(self.times[0]),
                "end_s": float(self.times[-1]), "length": self.length, "padded": self.padded,
                "clip_sha256": self.clip_sha256}


def _resize(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or frame.shape[:2] == tuple(size):
        return frame
    h, w = size
    shrinking = h < frame.shape[0] and w < frame.shape[1]
    return cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


@dataclass
class Clip:
    """A probed video file. Frames are decoded on demand, never all at once."""

    path: Path
    sha256: str
    size_bytes: int
    codec: str
    width: int
    height: int
    frame_count: int
    fps: float
    container_frames: int
    container_fps: float
    _pts: list = field(default_factory=list, repr=False)
    _time_base: Fraction = Fraction(1, 1)
    _start: int = 0
    container: str = ""
    rotation: int = 0  # degrees counter-clockwise that a player turns each frame (0, 90, 180, 270)
    measured_duration: float | None = None  # from timestamps; None when the stream has none
    declared_duration: float = 0.0  # what the container claims
    variable_frame_rate: bool = False
    truncated: bool = False  # the file declares more than it holds, or its tail does not decode
    model_rate: float | None = None  # the rate a model asked for (at_rate); None: every decoded frame
    _source: "Clip | None" = field(default=None, repr=False, compare=False)  # the file's frames, when sampled
    _plan: np.ndarray | None = field(default=None, repr=False, compare=False)  # its frame behind each one here

    @property
    def duration(self) -> float:
        if self.measured_duration is not None:
            return self.measured_duration
        return self.frame_count / self.fps if self.fps else 0.0

    @property
    def has_timestamps(self) -> bool:
        return bool(self._pts)

    @property
    def name(self) -> str:
        return self.path.name

    def facts(self) -> dict:
        """Plain facts for the UI and reports: the file's, and how the model's frames were taken."""
        if self._source is not None:
            return {**self._source.facts(), **self.sampling()}
        return {"file": self.name, "sha256": self.sha256, "bytes": self.size_bytes,
                "container": self.container, "codec": self.codec, "width": self.width,
                "height": self.height, "rotation_deg": self.rotation,
                "frames": self.frame_count, "fps": round(self.fps, 3),
                "variable_frame_rate": self.variable_frame_rate,
                "duration_s": round(self.duration, 3),
                "timestamps": "from the file" if self.has_timestamps else
                              "none in the file: times assume the declared rate",
                "container_frames": self.container_frames,
                "container_fps": round(self.container_fps, 3),
                "declared_duration_s": round(self.declared_duration, 3),
                "truncated": self.truncated, **self.sampling()}

    def sampling(self) -> dict:
        """How the model's frames were taken from the file (empty: every decoded frame)."""
        if self.model_rate is None:
            return {}
        source = self._source or self
        return {"model_frame_rate": self.model_rate, "sampled": self._source is not None, "recorded_fps":
                round(source.fps, 3), "recorded_frames": source.frame_count, "below_model_rate": self.below_model_rate}

    @property
    def below_model_rate(self) -> bool:
        """Recorded slower than the model's rate: every frame used, a window spans more time."""
        return self.model_rate is not None and self._source is None and self.fps < self.model_rate * (1 - RATE_TOLERANCE)

    def source_frame(self, i: int) -> int:
        """The file's own frame number behind frame ``i`` of this clip (the same unless sampled)."""
        return int(self._plan[i]) if self._plan is not None else int(i)

    def at_rate(self, rate: float | None) -> "Clip":
        """The clip as a model trained on ``rate`` fps sees it (``None``: every decoded frame):
        frames by their timestamps, windows and frame numbers counting them, times the file's
        seconds; slower clips frame for frame (:attr:`below_model_rate`). See :mod:`.sampling`."""
        return at_rate(self, rate)

    def warnings(self) -> list[str]:
        """What an auditor must know about this file before trusting its timeline."""
        if self._source is not None:
            return self._source.warnings()
        out = []
        if self.truncated:
            out.append(f"The file is truncated: it declares {self.declared_duration:.2f} s "
                       f"({self.container_frames} frames) but holds {self.frame_count} decodable "
                       f"frames ({self.duration:.2f} s). Whatever followed is missing; ask for the "
                       "complete export.")
        if not self.has_timestamps:
            out.append("The file carries no timestamps: times assume the declared rate of "
                       f"{self.fps:g} fps.")
        if self.below_model_rate:
            out.append(f"The clip was recorded at {self.fps:.3g} fps, below the {self.model_rate:g} fps the model "
                       f"was trained on: every frame is used, so each window spans {self.model_rate / self.fps:.2g} "
                       "times the time the model was trained to see, and its scores may mean something else.")
        return out

    def time_of(self, i: int) -> float:
        if self._pts and self._pts[i] is not None:
            return float((self._pts[i] - self._start) * self._time_base)
        if self._source is not None:
            return self._source.time_of(self.source_frame(i))
        return i / self.fps

    # --- decoding ------------------------------------------------------------------
    def _open(self):
        try:
            return av_open(self.path)
        except (av.FFmpegError, OSError) as e:
            raise VideoError(f"{self.path}: cannot open the video any more ({e})") from e

    def _pixels(self, frame) -> np.ndarray:
        """RGB at most MAX_DECODE_SIDE a side (scaled by the decoder), turned upright."""
        w, h = frame.width, frame.height
        if w * h > max_frame_pixels():
            raise VideoError(f"{self.path}: a frame of {w} x {h} pixels is over the limit of "
                             f"{max_frame_pixels()} pixels (CRNNAUDIT_MAX_FRAME_PIXELS)")
        scale = min(1.0, MAX_DECODE_SIDE / max(w, h))
        if scale < 1.0:
            img = frame.to_ndarray(format="rgb24", width=max(2, round(w * scale)),
                                   height=max(2, round(h * scale)), interpolation="AREA")
        else:
            img = frame.to_ndarray(format="rgb24")
        if self.rotation:
            img = np.ascontiguousarray(np.rot90(img, self.rotation // 90))
        return img

    def iter_frames(self, start: int = 0, stop: int | None = None, size: tuple[int, int] | None = None,
                    keep=None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(index, RGB uint8 frame)`` for frames ``start <= index < stop``, streaming
        (a sampled clip: its own frames, decoded from the file's; ``keep``: which indices to
        convert and yield, the rest only decoded).

        Raises:
            VideoError: a frame inside the range cannot be decoded.
        """
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        if start >= stop:
            return
        if self._source is not None:
            wanted = {int(f): k for k, f in enumerate(self._plan[start:stop], start)}
            kept = wanted.__contains__ if keep is None else (lambda f: f in wanted and keep(wanted[f]))
            first, last = int(self._plan[start]), int(self._plan[stop - 1])
            yield from ((wanted[f], img) for f, img in self._source.iter_frames(first, last + 1, size, keep=kept))
            return
        container = self._open()
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            seekable = start > 0 and self._pts and self._pts[start] is not None
            if seekable:
                container.seek(int(self._pts[start]), stream=stream, backward=True, any_frame=False)
            index = None
            for frame in self._decode(container, stream):
                if index is None:
                    index = self._pts.index(frame.pts) if seekable and frame.pts in self._pts else 0
                else:
                    index += 1
                if index < start:
                    continue
                if index >= stop:
                    return
                if keep is None or keep(index):
                    yield index, _resize(self._pixels(frame), size)
                if index == stop - 1:  # done: do not feed the decoder what lies beyond
                    return
            last = -1 if index is None else index
            if last < stop - 1:
                raise VideoError(f"{self.path}: frame {last + 1} of {self.frame_count} cannot be "
                                 "decoded; the file looks truncated or corrupt")
        finally:
            container.close()

    def _decode(self, container, stream):
        try:
            yield from container.decode(stream)
        except av.FFmpegError as e:
            raise VideoError(f"{self.path}: decoding failed ({e}); the file looks corrupt") from e

    def frame(self, i: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Frame ``i`` as RGB uint8, upright, at the clip's resolution (at most
        :data:`MAX_DECODE_SIDE` a side) unless ``size=(h, w)``."""
        if not 0 <= i < self.frame_count:
            raise VideoError(f"{self.path}: no frame {i}; the clip has frames 0..{self.frame_count - 1}")
        for _, img in self.iter_frames(i, i + 1, size):
            return img
        raise VideoError(f"{self.path}: frame {i} cannot be decoded")

    def window_count(self, length: int, stride: int) -> int:
        if self.frame_count <= length:
            return 1
        return (self.frame_count - length) // stride + 1

    def window_starts(self, length: int, stride: int) -> list[int]:
        return [k * stride for k in range(self.window_count(length, stride))]

    def _make_window(self, frames, indices, k, stride, length) -> Window:
        frames = list(frames)
        indices = list(indices)
        padded = len(frames) < length
        while len(frames) < length:
            frames.append(frames[-1])
            indices.append(indices[-1])
        return Window(np.stack(frames), np.asarray(indices),
                      np.asarray([self.time_of(i) for i in indices], dtype=np.float64),
                      k, stride, self.sha256, padded)

    def windows(self, length: int, stride: int | None = None,
                size: tuple[int, int] | None = None) -> Iterator[Window]:
        """Stream every window of ``length`` frames, ``stride`` apart, resized to ``size``.

        Memory holds one window at the model's resolution, whatever the clip's length.
        """
        length, stride = _check_window_args(self, length, stride)
        buf: deque = deque(maxlen=length)
        idx: deque = deque(maxlen=length)
        starts = self.window_starts(length, stride)
        k = 0
        last_start = starts[-1]
        for i, img in self.iter_frames(0, min(self.frame_count, last_start + length), size):
            buf.append(img)
            idx.append(i)
            if len(buf) == length and idx[0] == starts[k]:
                yield self._make_window(buf, idx, k, stride, length)
                k += 1
                if k == len(starts):
                    return
        if k == 0 and buf:  # shorter than one window: pad
            yield self._make_window(buf, idx, 0, stride, length)

    def window(self, k: int, length: int, stride: int | None = None,
               size: tuple[int, int] | None = None) -> Window:
        """Window number ``k`` alone (seeks, decodes only its frames)."""
        length, stride = _check_window_args(self, length, stride)
        n = self.window_count(length, stride)
        if not 0 <= k < n:
            raise VideoError(f"{self.path}: no window {k}; with {length} frames every {stride} "
                             f"the clip has windows 0..{n - 1}")
        start = k * stride
        pairs = list(self.iter_frames(start, start + length, size))
        if not pairs:
            raise VideoError(f"{self.path}: window {k} cannot be decoded")
        return self._make_window([p[1] for p in pairs], [p[0] for p in pairs], k, stride, length)

    @property
    def ground_truth(self) -> GroundTruth | None:
        """Ground truth from a ``<clip>.truth.json`` sidecar (the synthetic clips have one)."""
        return read_ground_truth(self.path)


def _check_window_args(clip: Clip, length, stride):
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or length < 1:
        raise VideoError(f"{clip.path}: window length must be a positive number of frames, got {length!r}")
    stride = length if stride is None else stride
    if isinstance(stride, bool) or not isinstance(stride, (int, np.integer)) or stride < 1:
        raise VideoError(f"{clip.path}: stride must be a positive number of frames, got {stride!r}")
    return int(length), int(stride)


def open_clip(path: str | Path) -> Clip:
    """Probe a video: container, codec, size, rotation, frames (counted), rate and duration
    (from timestamps), truncation, SHA-256.

    Args:
        path: an MP4/MOV, Matroska/WebM or AVI file.

    Returns:
        A :class:`Clip`; frames are decoded later, on demand.

    Raises:
        VideoError: the file is missing, empty, not a video container crnnaudit opens, over
            the frame-size limit, or holds no decodable frame.
    """
    path = Path(path)
    size = check_path(path)
    p = probe(path)
    pts, time_base = p["pts"], p["time_base"]
    measured, vfr = None, False
    if pts and all(t is not None for t in pts):
        pts = sorted(pts)  # presentation order (B-frames arrive out of order)
        steps = np.diff(np.asarray(pts, dtype=np.float64))
        steps = steps[steps > 0]
        step = float(np.median(steps)) if steps.size else 0.0
        if step > 0:
            measured = float((pts[-1] - pts[0] + step) * time_base)
            vfr = bool(np.mean(np.abs(steps - step) > 0.1 * step) > 0.05)  # not one odd step
        start = pts[0]
    else:
        pts, start = [], 0
    count = len(pts) or p["packets"]
    if measured and not vfr:
        fps = float(1.0 / (step * time_base))  # the nominal rate
    elif measured:
        fps = count / measured  # the average rate
    else:
        fps = p["container_fps"] or 25.0
    clip = Clip(path, sha256_file(path), size, p["codec"], p["width"], p["height"], count, fps,
                p["container_frames"], p["container_fps"], pts, time_base, start,
                container=p["container"], measured_duration=measured,
                declared_duration=p["declared_duration"], variable_frame_rate=vfr)
    # A header can survive truncation while no frame decodes: prove the first one does, and
    # take the rotation a player would apply from it.
    first = first_frame(clip)
    clip.rotation = int(round((first.rotation or 0) / 90.0)) % 4 * 90
    if clip.rotation in (90, 270):
        clip.width, clip.height = clip.height, clip.width
    check_tail(clip)
    return clip
