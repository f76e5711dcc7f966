"""Seeded synthetic surveillance scenes with ground truth.

People-like figures (a body, a head) walk across a tiled floor seen from above. Anomalies
mirror the paper's classes: ``fight`` (two figures meet and grapple), ``fire`` (a growing,
flickering region), ``shooting`` (a muzzle flash, then everyone scatters fast). Each clip
comes with its class, the anomalous frame interval and a per-frame mask of the anomalous
region, so explanations can be scored against the truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import CrnnauditError

CLASSES = ["normal", "fight", "fire", "shooting"]
FPS = 12.0  # the demo's clips, and so the demo model's frame_rate (its card)
SHOT_EVERY = 6  # frames between the shots of a burst (12 fps: two shots a second)
ANOMALY_CLASSES = ["fight", "fire", "shooting"]


@dataclass
class SynthClip:
    frames: np.ndarray  # (N, H, W, 3) uint8 RGB
    masks: np.ndarray  # (N, H, W) bool
    label: str
    interval: tuple[int, int] | None
    fps: float
    seed: int


def _floor(h, w, rng):
    tile = int(rng.integers(14, 22))
    base = rng.integers(95, 130)
    img = np.full((h, w, 3), base, np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    img += ((yy // tile + xx // tile) % 2)[..., None] * 10
    img += rng.normal(0, 3, (h, w, 1))
    return np.clip(img, 0, 255)


class _Person:
    def __init__(self, rng, h, w, speed=None):
        self.r = int(rng.integers(5, 8))
        self.pos = np.array([rng.uniform(10, h - 10), rng.uniform(10, w - 10)], float)
        angle = rng.uniform(0, 2 * np.pi)
        s = speed if speed is not None else rng.uniform(0.8, 1.6)
        self.vel = np.array([np.sin(angle), np.cos(angle)]) * s
        self.color = tuple(int(c) for c in rng.integers(30, 230, 3))
        self.phase = rng.uniform(0, 2 * np.pi)

    def step(self, h, w):
        self.pos += self.vel
        for k, lim in enumerate((h, w)):
            if not 6 <= self.pos[k] <= lim - 6:
                self.vel[k] *= -1
                self.pos[k] = np.clip(self.pos[k], 6, lim - 6)

    def draw(self, img, mask=None, jitter=(0.0, 0.0), arms=False, t=0):
        y, x = self.pos + jitter
        c = (int(x), int(y))
        cv2.ellipse(img, c, (self.r, self.r + 2), 0, 0, 360, self.color, -1)
        cv2.circle(img, (c[0], c[1] - self.r - 1), max(2, self.r - 2), (225, 190, 160), -1)
        if arms:  # grappling: arms flail wide and fast
            a = np.sin(t * 2.5 + self.phase) * 9
            cv2.line(img, c, (int(x + 12), int(y + a)), self.color, 3)
            cv2.line(img, c, (int(x - 12), int(y - a)), self.color, 3)
        if mask is not None:
            cv2.circle(mask, c, self.r + 9, 1, -1)


def synth_clip(label: str, seed: int, size=(120, 160), frames: int = 48, fps: float = FPS,
               start: int | None = None) -> SynthClip:
    """One clip of class ``label``, fully determined by ``seed``; the event starts at
    ``start`` when given (else between a fifth and half of the clip) and lasts to the end."""
    if label not in CLASSES:
        raise CrnnauditError(f"synthetic class '{label}' is not one of {CLASSES}")
    rng = np.random.default_rng(seed)
    h, w = size
    floor = _floor(h, w, rng)
    people = [_Person(rng, h, w) for _ in range(int(rng.integers(3, 6)))]
    drawn = int(rng.integers(frames // 5, frames // 2))  # drawn either way: same scene
    start = drawn if start is None else int(np.clip(start, 1, frames - 1))
    interval = None if label == "normal" else (start, frames - 1)
    out = np.zeros((frames, h, w, 3), np.uint8)
    masks = np.zeros((frames, h, w), bool)
    fighters = people[:2]
    meet = np.array([rng.uniform(30, h - 30), rng.uniform(40, w - 40)])
    fire_at = (int(rng.uniform(25, w - 25)), int(rng.uniform(25, h - 25)))
    if label == "fight":  # the two fighters walk to a meeting point and arrive at `start`
        for p, off in zip(fighters, (-5.0, 5.0)):
            target = meet + np.array([0.0, off])
            p.pos = np.clip(target - p.vel * start, 6, np.array([h, w]) - 6)
            p.vel = (target - p.pos) / max(start, 1)
    for t in range(frames):
        light = 1.0 + 0.03 * np.sin(t / 5.0)  # slow lighting drift, not an anomaly
        img = np.clip(floor * light, 0, 255).astype(np.uint8)
        mask = np.zeros((h, w), np.uint8)
        active = interval is not None and t >= interval[0]
        for k, p in enumerate(people):
            if label == "fight" and active and k < 2:
                _grapple(img, mask, p, k, meet, rng, t)
            else:
                p.draw(img)
        if label == "fire" and active:
            _fire(img, mask, fire_at, t - interval[0] + 1, frames, rng)
        if label == "shooting" and active:
            _shooting(img, mask, people, t - interval[0])
        for k, p in enumerate(people):
            if not (label == "fight" and active and k < 2) and not (label == "shooting" and active and k == 0):
                p.step(h, w)
        out[t] = img
        masks[t] = mask.astype(bool) & (interval is not None and t >= interval[0])
    return SynthClip(out, masks, label, interval, fps, seed)


def _grapple(img, mask, p, k: int, meet: np.ndarray, rng, t: int) -> None:
    """One of the two fighters at the meeting point; the second draws the scuffle: blurred
    limbs read as pale streaks around the pair."""
    jit = rng.normal(0, 1.8, 2)
    p.pos = meet + np.array([0.0, -5.0 if k == 0 else 5.0])
    p.draw(img, mask, jit, arms=True, t=t)
    if k == 1:
        cy, cx = meet
        for ang in rng.uniform(0, 2 * np.pi, 5):
            r0, r1 = rng.uniform(6, 9), rng.uniform(13, 18)
            cv2.line(img, (int(cx + r0 * np.cos(ang)), int(cy + r0 * np.sin(ang))),
                     (int(cx + r1 * np.cos(ang)), int(cy + r1 * np.sin(ang))), (235, 235, 225), 2)


def _fire(img, mask, fire_at, age: int, frames: int, rng) -> None:
    """Flames growing with ``age`` (frames since ignition), flickering."""
    radius = 5 + 25.0 * age / frames
    for _ in range(6):
        dy, dx = rng.normal(0, radius * 0.3, 2)
        r = max(2, radius * rng.uniform(0.4, 0.8))
        col = (255, int(rng.integers(80, 200)), int(rng.integers(0, 40)))
        cv2.circle(img, (int(fire_at[0] + dx), int(fire_at[1] + dy - age * 0.3)), int(r), col, -1)
    flicker = rng.uniform(0.8, 1.0)
    cv2.circle(img, fire_at, int(radius * 0.5), (255, int(240 * flicker), 120), -1)
    cv2.circle(mask, fire_at, int(radius * 1.3) + 3, 1, -1)


def _shooting(img, mask, people, since: int) -> None:
    """The shooter (``people[0]``) with gun, firing a burst every :data:`SHOT_EVERY` frames
    (a muzzle flash that fades over three frames); everyone else runs away, leaving motion
    streaks. ``since``: frames since the first shot."""
    shooter = people[0]
    if since == 0:
        for p in people[1:]:
            away = p.pos - shooter.pos
            p.vel = away / (np.linalg.norm(away) + 1e-6) * 4.5
    flash = since % SHOT_EVERY
    if flash < 3:
        c = (int(shooter.pos[1] + 11), int(shooter.pos[0]))
        cv2.circle(img, c, 10 - 3 * flash, (255, 255, 210), -1)
        cv2.circle(mask, c, 14, 1, -1)
    cv2.line(img, (int(shooter.pos[1]), int(shooter.pos[0])),
             (int(shooter.pos[1] + 12), int(shooter.pos[0])), (20, 20, 20), 3)  # the gun
    for p in people[1:]:
        tail = p.pos - p.vel * 2.5
        cv2.line(img, (int(tail[1]), int(tail[0])), (int(p.pos[1]), int(p.pos[0])), p.color, 2 * p.r)
    cv2.circle(mask, (int(shooter.pos[1]), int(shooter.pos[0])), shooter.r + 9, 1, -1)
    for p in people[1:]:
        cv2.circle(mask, (int(p.pos[1]), int(p.pos[0])), p.r + 9, 1, -1)


# Degraded footage, for the image-quality drill (crnnaudit.footage.quality): what each variant does to
# the frames before they are encoded, and the encoder's constant rate factor (23 as usual; 51,
# the coarsest, for the low-bitrate variant).
DEGRADATIONS = {
    "blur": "Gaussian blur, sigma 6 pixels",
    "dark": "brightness scaled by 0.2 (an unlit scene)",
    "noise": "Gaussian noise, sigma 30 levels (a sensor at night)",
    "low_bitrate": "H.264 at constant rate factor 51 (the coarsest)",
}


def degrade(clip: SynthClip, kind: str, seed: int = 0) -> tuple[SynthClip, int]:
    """A degraded copy of ``clip`` (same truth) and the rate factor to encode it with.

    Raises:
        CrnnauditError: an unknown kind.
    """
    if kind not in DEGRADATIONS:
        raise CrnnauditError(f"degradation '{kind}' is not one of {list(DEGRADATIONS)}")
    f = clip.frames.astype(np.float32)
    crf = 23
    if kind == "blur":
        f = np.stack([cv2.GaussianBlur(x, (0, 0), 6) for x in f])
    elif kind == "dark":
        f = f * 0.2
    elif kind == "noise":
        f = f + np.random.default_rng(seed).normal(0, 30, f.shape)
    else:
        crf = 51
    frames = np.clip(np.round(f), 0, 255).astype(np.uint8)
    return SynthClip(frames, clip.masks, clip.label, clip.interval, clip.fps, clip.seed), crf


def write_clip(clip: SynthClip, path: str | Path, crf: int = 23) -> Path:
    """Write ``<name>.mp4`` (H.264), ``<name>.truth.json`` and ``<name>.mask.npz``."""
    from ..render import write_video  # PyAV and Plotly: not needed to draw clips in memory
    path = Path(path).with_suffix(".mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, clip.frames, clip.fps, crf=crf)
    truth = {"label": clip.label, "interval": list(clip.interval) if clip.interval else None,
             "frames": int(clip.frames.shape[0]), "fps": clip.fps, "seed": clip.seed,
             "size": list(clip.frames.shape[1:3]), "generator": "crnnaudit.demo.synth"}
    path.with_name(path.stem + ".truth.json").write_text(json.dumps(truth, indent=2) + "\n")
    np.savez_compressed(path.with_name(path.stem + ".mask.npz"), bits=np.packbits(clip.masks.ravel()),
                        shape=np.asarray(clip.masks.shape))
    return path


def synthesize(out_dir: str | Path, count: int = 4, seed: int = 0, size=(120, 160),
               frames: int = 48, fps: float = FPS, labels=None) -> list[Path]:
    """Write ``count`` clips, classes taken in turn from ``labels`` (default: all four)."""
    if count < 1:
        raise CrnnauditError(f"count must be at least 1, got {count}")
    labels = list(labels or CLASSES)
    paths = []
    for i in range(count):
        label = labels[i % len(labels)]
        clip = synth_clip(label, seed * 100003 + i, size, frames, fps)
        paths.append(write_clip(clip, Path(out_dir) / f"{label}_{seed}_{i:03d}.mp4"))
    return paths
