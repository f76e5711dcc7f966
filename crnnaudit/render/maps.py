"""Maps as pictures: colour maps and scaling rules, overlays, contours, outlines, colour bars,
and the PNG encoding the reports embed. OpenCV and NumPy only."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

COLORMAPS = {"inferno": cv2.COLORMAP_INFERNO, "viridis": cv2.COLORMAP_VIRIDIS, "cividis": cv2.COLORMAP_CIVIDIS,
             "magma": cv2.COLORMAP_MAGMA, "jet": cv2.COLORMAP_JET, "turbo": cv2.COLORMAP_TURBO}
#: Perceptually uniform and colour-blind safe; jet and turbo are offered only on request.
SAFE_COLORMAPS = ("inferno", "viridis", "cividis", "magma")
#: How a map's values become colours; every view (Review, Compare, model A vs B, the report)
#: names its rule and applies it the same way (:func:`map_scale`).
SCALINGS = {"frame": "per frame: each frame's map from its own lowest to its highest value (compares places "
                     "within a frame; the frame's contribution says how much the frame itself counts)",
            "window": "per window: one scale for every frame of the window (compares frames too)",
            "grid": "per method across the frames shown: one scale for each method over the grid"}


OPACITY_GAMMA = 0.35
#: Okabe & Ito's colour-blind-safe palette: class k of a card has colour k in every chart and
#: report, whatever the chart shows.
CLASS_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def class_colour(classes: list[str], name: str) -> str:
    """The colour of a class: its place in the card's class list (other names: grey)."""
    return CLASS_PALETTE[classes.index(name) % len(CLASS_PALETTE)] if name in classes else "#7f7f7f"


@dataclass(frozen=True)
class MapStyle:
    """How maps are drawn. The defaults make a map visible on every sample clip's most
    anomalous window without hiding the frame (measured in ``tests/test_render.py``)."""

    cmap: str = "inferno"
    alpha: float = 0.6
    scaling: str = "frame"
    view: str = "heatmap"
    width: int = 720  # display width in pixels: frames are scaled smoothly, never beyond it

    @classmethod
    def from_dict(cls, d: dict | None) -> "MapStyle":
        d = {k: v for k, v in (d or {}).items() if k in cls.__dataclass_fields__}
        style = cls(**d)
        if style.cmap not in COLORMAPS or style.scaling not in SCALINGS or style.view not in VIEWS:
            raise ValueError(f"unknown map style {d}")
        return style

    def as_dict(self) -> dict:
        return {"cmap": self.cmap, "alpha": self.alpha, "scaling": self.scaling, "view": self.view}


def upsample(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A 2-D map resized to ``(h, w)`` (bilinear), float32."""
    h, w = size
    if m.shape == (h, w):
        return m.astype(np.float32)
    return cv2.resize(m.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


def normalise(m: np.ndarray, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """Scale to [0, 1]; pass ``vmin``/``vmax`` to share one scale across a grid."""
    lo = float(np.min(m)) if vmin is None else vmin
    hi = float(np.max(m)) if vmax is None else vmax
    if hi - lo < 1e-12:
        return np.zeros_like(m, dtype=np.float32)
    return np.clip((m - lo) / (hi - lo), 0, 1).astype(np.float32)


def heatmap(m: np.ndarray, cmap: str = "jet") -> np.ndarray:
    """A [0, 1] map as an RGB uint8 image."""
    bgr = cv2.applyColorMap((np.clip(m, 0, 1) * 255).astype(np.uint8), COLORMAPS[cmap])
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def overlay(frame: np.ndarray, m: np.ndarray, alpha: float = 0.6, cmap: str = "inferno",
            vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """The map blended over the frame (RGB uint8 at the frame's resolution). Opacity grows as
    the scaled value to the power :data:`OPACITY_GAMMA`: zero stays transparent, a fifth of the
    top value is already 57% as opaque as the top. (The linear ramp of before left Grad-CAM
    invisible on every sample clip's top window: 0.0% of pixels changed by over 30 levels.)"""
    n = normalise(upsample(m, frame.shape[:2]), vmin, vmax)
    heat = heatmap(n, cmap).astype(np.float32)
    weight = alpha * (n ** OPACITY_GAMMA)[..., None]
    return (frame.astype(np.float32) * (1 - weight) + heat * weight).astype(np.uint8)


def contour(frame: np.ndarray, m: np.ndarray, levels=(0.5, 0.75, 0.9),
            colors=((255, 255, 0), (255, 128, 0), (255, 0, 0)), thickness: int = 2,
            vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """The paper's contour view: outlines of the regions above each level of the map."""
    out = frame.copy()
    n = normalise(upsample(m, frame.shape[:2]), vmin, vmax)
    for level, color in zip(levels, colors):
        mask = (n >= level).astype(np.uint8)
        cs, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, cs, -1, color, thickness)
    return out


def outline(frame: np.ndarray, mask: np.ndarray | None, colour=(0, 255, 255), thickness: int = 2) -> np.ndarray:
    """The border of a boolean region (at any resolution; scaled to the frame) drawn on a
    copy of the frame: how a region counterfactual is shown. ``None`` draws nothing."""
    out = frame.copy()
    if mask is None:
        return out
    m = cv2.resize(mask.astype(np.uint8), (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
    cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, cs, -1, colour, max(1, thickness * frame.shape[1] // 480))
    return out


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 4) -> np.ndarray:
    h = max(left.shape[0], right.shape[0])
    pad = np.full((h, gap, 3), 255, np.uint8)
    return np.concatenate([left, pad, right], axis=1)


VIEWS = ("heatmap", "contour", "side_by_side")


def render(frame: np.ndarray, m: np.ndarray, view: str = "heatmap", alpha: float = 0.6,
           vmin: float | None = None, vmax: float | None = None, cmap: str = "inferno") -> np.ndarray:
    """One of the views the UI offers: ``heatmap``, ``contour`` or ``side_by_side``."""
    if view == "contour":
        return contour(frame, m, vmin=vmin, vmax=vmax)
    over = overlay(frame, m, alpha, cmap, vmin=vmin, vmax=vmax)
    return side_by_side(frame, over) if view == "side_by_side" else over


def map_scale(maps: np.ndarray, t: int, scaling: str, shown=None) -> tuple[float, float]:
    """The ``(low, high)`` values the colours span for frame ``t`` of a window's ``maps``
    under a rule of :data:`SCALINGS` (``shown``: the frames of the grid, for ``grid``)."""
    if scaling == "frame":
        part = maps[t]
    elif scaling == "grid" and shown:
        part = maps[list(shown)]
    else:
        part = maps
    return float(np.min(part)), float(np.max(part))


def to_width(frame: np.ndarray, width: int) -> np.ndarray:
    """The frame scaled smoothly (bicubic up, area down) to ``width`` pixels."""
    h, w = frame.shape[:2]
    if w == width:
        return frame
    interp = cv2.INTER_CUBIC if width > w else cv2.INTER_AREA
    return cv2.resize(frame, (width, max(1, round(h * width / w))), interpolation=interp)


def colorbar(height: int, lo: float, hi: float, cmap: str, width: int = 70) -> np.ndarray:
    """A vertical colour bar (high at the top) labelled with the values it spans."""
    ramp = np.linspace(1, 0, height, dtype=np.float32)[:, None].repeat(14, 1)
    bar = np.full((height, width, 3), 255, np.uint8)
    bar[:, 4:18] = heatmap(ramp, cmap)
    for y, value in ((12, hi), (height // 2 + 4, (lo + hi) / 2), (height - 4, lo)):
        cv2.putText(bar, f"{value:.2g}", (21, y), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def show_map(frame: np.ndarray, maps: np.ndarray, t: int, style: MapStyle = MapStyle(), shown=None) -> np.ndarray:
    """Frame ``t``'s map drawn in ``style`` at the display width, with its colour bar: what
    every page and the report show, one rule everywhere."""
    lo, hi = map_scale(maps, t, style.scaling, shown)
    src = to_width(frame, style.width if style.view != "side_by_side" else style.width // 2)
    img = render(src, maps[t], style.view, style.alpha, lo, hi, style.cmap)
    return np.concatenate([img, colorbar(img.shape[0], lo, hi, style.cmap)], axis=1)


def visibility(frame: np.ndarray, drawn: np.ndarray, levels: int = 30) -> float:
    """The share of the frame's pixels the overlay changes by more than ``levels`` (of 255) in
    some channel: how visible a map is."""
    diff = np.abs(frame.astype(np.int16) - drawn[:, :frame.shape[1]].astype(np.int16)).max(axis=-1)
    return float((diff > levels).mean())



def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def png_b64(rgb: np.ndarray, max_width: int = 480) -> str:
    """An RGB image as base64 PNG (for self-contained HTML and JSON), at most ``max_width``."""
    if rgb.shape[1] > max_width:
        h = int(rgb.shape[0] * max_width / rgb.shape[1])
        rgb = cv2.resize(rgb, (max_width, h), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return base64.b64encode(buf.tobytes()).decode()
