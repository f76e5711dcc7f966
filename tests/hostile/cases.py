"""Hostile and odd inputs, made on the spot: each maker writes one file and returns its path.

``CASES`` lists what is tried, the entry point that meets it, and the verdict crnnaudit must
reach: ``refused`` (one of crnnaudit's errors, whose message holds ``says``) or ``read`` (the
file opens and the check in ``tests/hostile/test_hostile.py`` holds). The benchmark
``benchmarks/bench_hostile.py`` runs every case in a fresh process and prints its peak memory
and time for the README's table.
"""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np

# -- seeds: small valid files ----------------------------------------------------------------


def write_clip(path, frames=24, size=(48, 64), fps=24, codec=None, rotation=None, pts_ms=None):
    """A small real clip whose top-left quarter is white (so orientation can be checked)."""
    path = Path(path)
    codec = codec or ("mjpeg" if path.suffix == ".avi" else "libx264")
    h, w = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if rotation is not None:
            stream.set_display_rotation(rotation)
        if pts_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(frames):
            img = np.full((h, w, 3), (i * 7) % 120, np.uint8)
            img[: h // 2, : w // 2] = 255
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts_ms is not None:
                frame.pts, frame.time_base = int(pts_ms[i]), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def tiny_model():
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 16, 16, 3))
    x = L.TimeDistributed(L.Conv2D(4, 3, activation="relu", name="c1"))(inp)
    x = L.TimeDistributed(L.GlobalAveragePooling2D())(x)
    x = L.GRU(6)(x)
    out = L.Dense(3, activation="softmax")(x)
    return keras.Model(inp, out, name="tiny")


def write_model(path):
    path = Path(path)
    tiny_model().save(path)
    return path


def rewrite_keras(src: Path, dst: Path, replace: dict[str, bytes], level: int = 6) -> Path:
    """Copy a .keras archive with some members replaced (deflated)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED,
                                                       compresslevel=level) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, replace.get(info.filename, zin.read(info)))
        for name, data in replace.items():
            if name not in zin.namelist():
                zout.writestr(name, data)
    return dst


def _config(src: Path) -> dict:
    with zipfile.ZipFile(src) as z:
        return json.loads(z.read("config.json"))


def _png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (its pixels are those of a 4 x 4 image)."""
    import cv2
    ok, data = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    data = bytearray(data.tobytes())
    ihdr = data.index(b"IHDR")
    data[ihdr + 4: ihdr + 12] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr: ihdr + 17])) & 0xFFFFFFFF
    data[ihdr + 17: ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


# -- makers ----------------------------------------------------------------------------------


def config_declares_gigabytes(folder: Path, mb: int = 1024) -> Path:
    """A small .keras whose config.json unpacks to ``mb`` MB of padding (4 MB per GB packed)."""
    src = write_model(folder / "seed.keras")
    cfg = json.dumps(_config(src)).encode()
    padded = cfg + b" " * (mb << 20)
    return rewrite_keras(src, folder / "huge_config.keras", {"config.json": padded}, level=9)


def config_over_limit(folder: Path, mb: int = 20) -> Path:
    """A config of ``mb`` MB that does not compress (so no zip-bomb ratio gives it away)."""
    src = write_model(folder / "seed.keras")
    hexdigits = np.frombuffer(b"0123456789abcdef", np.uint8)
    noise = hexdigits[np.random.default_rng(0).integers(0, 16, mb << 20)].tobytes()
    text = b'{"pad": "' + noise + b'"}'
    return rewrite_keras(src, folder / "big_config.keras", {"config.json": text}, level=1)


def weights_zip_bomb(folder: Path, mb: int = 2048) -> Path:
    src = write_model(folder / "seed.keras")
    return rewrite_keras(src, folder / "zip_bomb.keras", {"model.weights.h5": bytes(mb << 20)}, level=9)


def layer_needs_gigabytes(folder: Path) -> Path:
    """Valid in every field, but a Dense layer of 300 million units: 8 GB of weights to make."""
    src = write_model(folder / "seed.keras")
    text = json.dumps(_config(src)).replace('"units": 3,', '"units": 300000000,')
    assert "300000000" in text
    return rewrite_keras(src, folder / "memory_bomb.keras", {"config.json": text.encode()})


def config_nested_deep(folder: Path, depth: int = 100_000) -> Path:
    src = write_model(folder / "seed.keras")
    return rewrite_keras(src, folder / "deep.keras", {"config.json": b"[" * depth + b"]" * depth})


def h5_config_attribute_huge(folder: Path, mb: int = 32) -> Path:
    import h5py
    path = folder / "huge_attr.h5"
    with h5py.File(path, "w", libver="latest") as f:  # dense attribute storage: no 64 kB cap
        f.attrs["model_config"] = "[" + " " * (mb << 20) + "]"
    return path


def hdf5_endless_loop(folder: Path) -> Path:
    """One byte duplicated in a Keras .h5 (found by the fuzz test): reading its attributes
    sends the HDF5 library into a loop that never ends."""
    from .mutate import apply
    src = write_model(folder / "seed.h5")
    path = folder / "loops.h5"
    path.write_bytes(apply(src.read_bytes(), [("duplicate", 2919, 1)]))
    return path


def not_a_model(folder: Path) -> Path:
    path = folder / "random.keras"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 65536, dtype=np.uint8).tobytes())
    return path


def big_png_named_mp4(folder: Path) -> Path:
    path = folder / "big_png.mp4"
    path.write_bytes(_png(16000, 16000))
    return path


def png_file(folder: Path) -> Path:
    path = folder / "still.mp4"
    path.write_bytes(_png(64, 48))
    return path


def ffconcat_playlist(folder: Path) -> Path:
    write_clip(folder / "inner.mp4")
    path = folder / "playlist.mp4"
    path.write_text("ffconcat version 1.0\nfile inner.mp4\n")
    return path


def hls_playlist(folder: Path) -> Path:
    write_clip(folder / "inner.mp4")
    path = folder / "stream.mp4"
    path.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\ninner.mp4\n#EXT-X-ENDLIST\n")
    return path


def raw_h264(folder: Path) -> Path:
    path = folder / "raw.mp4"
    with av.open(str(path), "w", format="h264") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(24):
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i, np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def frames_over_pixel_limit(folder: Path) -> Path:
    return write_clip(folder / "8k_plus.mp4", frames=2, size=(4352, 8192))


def rotated_phone_clip(folder: Path) -> Path:
    return write_clip(folder / "phone.mp4", rotation=-90)


def variable_frame_rate(folder: Path) -> Path:
    # 24 frames alternating 40 ms and 760 ms apart: 8.88 s, not 24 / 25 = 0.96 s.
    pts = np.cumsum([0] + [40 if i % 2 == 0 else 760 for i in range(23)])
    return write_clip(folder / "vfr.mkv", pts_ms=pts, fps=25)


def truncated_avi(folder: Path) -> Path:
    src = write_clip(folder / "whole.avi", frames=120)
    data = src.read_bytes()
    path = folder / "cut.avi"
    path.write_bytes(data[: len(data) * 2 // 5])
    return path


def truncated_mp4(folder: Path) -> Path:
    src = write_clip(folder / "whole.mp4", frames=48)
    data = src.read_bytes()
    path = folder / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def empty_clip(folder: Path) -> Path:
    path = folder / "empty.mp4"
    path.write_bytes(b"")
    return path


def yaml_alias_bomb(folder: Path) -> Path:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]")
    lines.append("classes: *a9")
    path = folder / "bomb.card.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def card_nested_deep(folder: Path) -> Path:
    path = folder / "deep.card.json"
    path.write_text('{"classes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    return path


def card_too_big(folder: Path) -> Path:
    path = folder / "big.card.json"
    path.write_text(json.dumps({"classes": ["normal", "fight"], "notes": "x" * (2 << 20)}))
    return path


def card_not_utf8(folder: Path) -> Path:
    path = folder / "latin1.card.yaml"
    path.write_bytes("owner: Zoë\n".encode("latin-1"))
    return path


@dataclass(frozen=True)
class Case:
    name: str
    kind: str  # model | clip | card
    make: Callable[[Path], Path]
    verdict: str  # refused | read
    says: str = ""  # a fragment the refusal's message holds


CASES = [
    Case("config.json unpacks to 1 GB (1 MB file)", "model", config_declares_gigabytes, "refused", "zip bomb"),
    Case("config.json of 20 MB that does not compress", "model", config_over_limit, "refused", "limit"),
    Case("weights member unpacks to 2 GB (zip bomb)", "model", weights_zip_bomb, "refused", "zip bomb"),
    Case("a Dense layer of 300 million units (8 GB to build)", "model", layer_needs_gigabytes, "refused", "sandbox"),
    Case("config nested 100,000 levels", "model", config_nested_deep, "refused", "levels deep"),
    Case(".h5 whose model_config attribute is 32 MB", "model", h5_config_attribute_huge, "refused", "limit"),
    Case("random bytes named .keras", "model", not_a_model, "refused", "not a Keras model"),
    Case(".h5 that loops the HDF5 library forever", "model", hdf5_endless_loop, "refused", "sandbox"),
    Case("16000 x 16000 PNG named .mp4", "clip", big_png_named_mp4, "refused", "not a video file crnnaudit opens"),
    Case("PNG image named .mp4", "clip", png_file, "refused", "not a video file crnnaudit opens"),
    Case("ffconcat playlist named .mp4", "clip", ffconcat_playlist, "refused", "no playlists"),
    Case("HLS playlist named .mp4", "clip", hls_playlist, "refused", "no playlists"),
    Case("raw H.264 stream (no container, no timestamps)", "clip", raw_h264, "refused", "raw streams"),
    Case("8192 x 4352 frames (over 8K UHD)", "clip", frames_over_pixel_limit, "refused", "over the limit"),
    Case("phone clip rotated -90 degrees", "clip", rotated_phone_clip, "read"),
    Case("variable frame rate, 8.88 s", "clip", variable_frame_rate, "read"),
    Case("AVI cut at 40% (120 frames declared)", "clip", truncated_avi, "read"),
    Case("MP4 cut in half (index lost)", "clip", truncated_mp4, "refused", "not a video file"),
    Case("empty file", "clip", empty_clip, "refused", "empty"),
    Case("YAML card with an alias bomb", "card", yaml_alias_bomb, "refused", "aliases"),
    Case("JSON card nested 100,000 levels", "card", card_nested_deep, "refused", "nests too deeply"),
    Case("2 MB card", "card", card_too_big, "refused", "at most"),
    Case("card in Latin-1, not UTF-8", "card", card_not_utf8, "refused", "UTF-8"),
]


def open_any(kind: str, path: Path):
    """The entry point each kind of file meets in the app and the command line."""
    if kind == "model":
        from crnnaudit.model import load_model
        return load_model(path, card=None)
    if kind == "clip":
        from crnnaudit.footage.video import open_clip
        clip = open_clip(path)
        for _ in clip.iter_frames(0, clip.frame_count, (32, 32)):
            pass
        return clip
    from crnnaudit.card import ModelCard
    return ModelCard.read(path)

