"""Opening a video file with FFmpeg, safely: real video containers from the local file only,
a frame-size limit checked on the header, and what the container claims read once.

The probe is kept apart from :mod:`crnnaudit.footage.video` (which decodes frames and cuts windows) so
that the rules on what crnnaudit opens sit in one short file.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from ..lazy import LazyModule
from ..errors import VideoError
from ..limits import max_frame_pixels

av = LazyModule("av")  # imported on first use (see lazy.py)

#: FFmpeg demuxers crnnaudit opens: real video containers only.
CONTAINERS = ("mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi")
_OPEN_OPTIONS = {"format_whitelist": ",".join(CONTAINERS), "protocol_whitelist": "file"}


def check_path(path: Path) -> int:
    if "\x00" in str(path):
        raise VideoError(f"{str(path).replace(chr(0), '?')[:200]!r}: not a usable file name (it holds a NUL character)")
    try:
        if not path.exists():
            raise VideoError(f"{path}: no such file")
        if path.is_dir():
            raise VideoError(f"{path}: is a folder, not a video file")
        size = path.stat().st_size
    except (OSError, ValueError) as e:  # a name too long for the file system, or holding NUL
        raise VideoError(f"{str(path)[:200]!r}: not a usable file name ({e})") from e
    if size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes); upload the video again")
    return size


def av_open(path: Path):
    """Open with FFmpeg, allowing only real video containers read from this one file."""
    container = av.open(str(path), options=dict(_OPEN_OPTIONS))
    if container.format.name not in CONTAINERS:  # the allowlist held; say so if it did not
        container.close()
        raise VideoError(f"{path}: a '{container.format.name}' file is not a video container "
                         "crnnaudit opens")
    return container


def probe(path: Path) -> dict:
    """Container, codec, size, the container's claims, and every video packet's timestamp."""
    try:
        container = av_open(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise VideoError(f"{path}: not a video file crnnaudit opens (MP4/MOV, Matroska/WebM or AVI; "
                         f"no playlists, image files or raw streams): FFmpeg says {e}") from e
    try:
        if not container.streams.video:
            raise VideoError(f"{path}: the file has no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise VideoError(f"{path}: the video stream's codec is unknown or unsupported; the file "
                             "looks corrupt")
        width, height = stream.codec_context.width, stream.codec_context.height
        if not width or not height:
            raise VideoError(f"{path}: the video stream has no frame size; the file looks corrupt")
        if width * height > max_frame_pixels():
            raise VideoError(f"{path}: frames of {width} x {height} pixels are over the limit of "
                             f"{max_frame_pixels()} pixels (CRNNAUDIT_MAX_FRAME_PIXELS)")
        out = {"container": container.format.name, "codec": stream.codec_context.name,
               "width": width, "height": height, "container_frames": int(stream.frames or 0),
               "container_fps": float(stream.average_rate or stream.guessed_rate or 0),
               "time_base": stream.time_base or Fraction(1, 1)}
        out["declared_duration"] = _declared_duration(container, stream, out["container_fps"])
        pts: list = []
        try:
            for packet in container.demux(stream):
                if packet.size:
                    pts.append(packet.pts if packet.pts is not None else packet.dts)
        except av.FFmpegError as e:
            if not pts:
                raise VideoError(f"{path}: the video stream cannot be read ({e})") from e
    except (ValueError, OverflowError, ZeroDivisionError) as e:  # absurd header values
        raise VideoError(f"{path}: the video header holds values that make no sense ({e})") from e
    finally:
        container.close()
    if not pts:
        raise VideoError(f"{path}: the video holds no frames")
    out["packets"] = len(pts)
    out["pts"] = pts if any(t is not None for t in pts) else []
    return out


def _declared_duration(container, stream, fps: float) -> float:
    """The longest duration the file claims (stream header, frame count, container)."""
    claims = []
    if stream.duration and stream.time_base:
        claims.append(float(stream.duration * stream.time_base))
    if stream.frames and fps:
        claims.append(stream.frames / fps)
    if container.duration:
        claims.append(container.duration / 1e6)
    return max([c for c in claims if np.isfinite(c)] or [0.0])


def first_frame(clip):
    """The clip's first decoded frame (proof that one decodes)."""
    container = clip._open()
    try:
        for frame in clip._decode(container, container.streams.video[0]):
            return frame
    finally:
        container.close()
    raise VideoError(f"{clip.path}: no frame can be decoded; the file looks truncated or corrupt")


def check_tail(clip) -> None:
    """Flag a file that declares more than it holds, and count what decodes when its last
    frame does not (a file cut off in the middle of a frame)."""
    tolerance = 2.0 / max(clip.fps, 1e-6) + 0.02 * clip.declared_duration
    if clip.declared_duration > clip.duration + tolerance:
        clip.truncated = True
    try:
        clip.frame(clip.frame_count - 1)
        return
    except VideoError:
        pass
    decoded = 0
    try:
        for decoded, _ in enumerate(clip.iter_frames(0, clip.frame_count), start=1):
            pass
    except VideoError:
        pass
    if decoded == 0:
        raise VideoError(f"{clip.path}: no frame can be decoded; the file looks truncated or corrupt")
    clip.truncated = True
    clip.frame_count = decoded
    if clip._pts:
        clip._pts = clip._pts[:decoded]
        clip.measured_duration = clip.time_of(decoded - 1) + 1.0 / max(clip.fps, 1e-6)
