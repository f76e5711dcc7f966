"""Turn explanations into pictures: overlays, contours, Plotly figures, static plots for
reports, PNG encoding and overlay video."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import plotly.graph_objects as go

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


def timeline_figure(timeline, selected: int | None = None) -> go.Figure:
    """Anomaly score per window, the threshold drawn, the selected window marked."""
    t = timeline.table
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=t["start_s"], y=t["anomaly_score"], mode="lines+markers",
                             name="anomaly score", customdata=t["window"],
                             hovertemplate="window %{customdata}<br>%{x:.2f} s: %{y:.3f}"))
    fig.add_hline(y=timeline.threshold, line_dash="dash", line_color="red",
                  annotation_text=f"threshold {timeline.threshold:.2f}")
    if "unlike_training" in t and t["unlike_training"].any():
        odd = t[t["unlike_training"]]
        fig.add_trace(go.Scatter(x=odd["start_s"], y=odd["anomaly_score"], mode="markers", name="unlike the training data",
                                 marker=dict(symbol="x", size=11, color="grey"), customdata=odd["window"],
                                 hovertemplate="window %{customdata}: unlike the training data"))
    if getattr(timeline, "clip_truncated", False) and timeline.clip_end_s is not None:
        fig.add_vline(x=timeline.clip_end_s, line_color="black", line_width=2,
                      annotation_text="file truncated: the rest is missing", annotation_position="top left")
    if selected is not None and selected in set(t["window"]):
        row = t[t["window"] == selected].iloc[0]
        fig.add_vrect(x0=row["start_s"], x1=row["end_s"], fillcolor="orange", opacity=0.2, line_width=0)
    fig.update_layout(xaxis_title="time (s)", yaxis_title="anomaly score", yaxis_range=[0, 1.05],
                      height=260, margin=dict(l=40, r=10, t=20, b=40))
    return fig


def temporal_figure(expset, frame_indices, interval: tuple[int, int] | None = None,
                    marked: list[int] | None = None) -> go.Figure:
    """Per-frame contribution of each temporal method (scaled to max |value| = 1) and the
    curves that are not contributions (the running prefix score) on a 0..1 axis of their
    own, the ground-truth interval shaded when known, the ``marked`` frames (the
    counterfactual set) drawn as dashed lines."""
    fig = go.Figure()
    contributions = set(expset.temporal(contributions_only=True))
    for name in expset.temporal():
        s = expset[name].frame_scores
        if name not in contributions:
            fig.add_trace(go.Scatter(x=list(frame_indices), y=s, name=expset.method(name).label,
                                     yaxis="y2", line=dict(dash="dot", color="black")))
            continue
        scale = float(np.max(np.abs(s))) or 1.0
        fig.add_trace(go.Scatter(x=list(frame_indices), y=s / scale, mode="lines+markers", name=name))
    first, last = int(frame_indices[0]), int(frame_indices[-1])
    if interval is not None and interval[1] >= first and interval[0] <= last:  # only what lies in the window
        fig.add_vrect(x0=max(interval[0], first), x1=min(interval[1], last), fillcolor="red", opacity=0.1,
                      line_width=0, annotation_text="ground truth")
    for k, frame in enumerate(marked or ()):
        fig.add_vline(x=frame, line_dash="dash", line_color="teal",
                      annotation_text="counterfactual" if k == 0 else None, annotation_position="bottom right")
    fig.update_layout(xaxis=dict(title="frame", range=[first - 0.5, last + 0.5]),
                      yaxis_title="contribution (scaled)",
                      yaxis2=dict(title=dict(text="running score", standoff=12), overlaying="y", side="right",
                                  range=[0, 1], automargin=True),
                      legend=dict(orientation="h", y=1.12, x=0), height=340, margin=dict(l=50, r=80, t=40, b=40))
    return fig


def probability_figure(classes: list[str], probabilities, anomaly_classes: list[str],
                       threshold: float | None = None) -> go.Figure:
    """A window's class probabilities as labelled bars on a 0 to 1 axis, each class in its
    colour (:func:`class_colour`), anomaly classes marked in their label."""
    probs = [float(p) for p in probabilities]
    colours = [class_colour(classes, c) for c in classes]
    labels = [f"{c} (anomaly)" if c in anomaly_classes else c for c in classes]
    fig = go.Figure(go.Bar(x=probs, y=labels, orientation="h", marker_color=colours,
                           text=[f"{p:.3f}" for p in probs], textposition="outside", cliponaxis=False))
    fig.update_layout(xaxis=dict(range=[0, 1], title="probability"), yaxis=dict(autorange="reversed"),
                      height=60 + 32 * len(classes), margin=dict(l=10, r=40, t=10, b=40), showlegend=False)
    return fig


def png_b64(rgb: np.ndarray, max_width: int = 480) -> str:
    """An RGB image as base64 PNG (for self-contained HTML and JSON), at most ``max_width``."""
    if rgb.shape[1] > max_width:
        h = int(rgb.shape[0] * max_width / rgb.shape[1])
        rgb = cv2.resize(rgb, (max_width, h), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return base64.b64encode(buf.tobytes()).decode()


def temporal_plot(expset, indices, width=720, height=240) -> np.ndarray:
    """A plain line chart of per-frame contributions (scaled to -1..1) and running scores
    (0..1), drawn without a browser for the PDF and HTML report."""
    img = np.full((height, width, 3), 255, np.uint8)
    pad = 40
    cv2.line(img, (pad, height - pad), (width - 10, height - pad), (0, 0, 0), 1)
    cv2.line(img, (pad, 10), (pad, height - pad), (0, 0, 0), 1)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
    T = len(indices)
    xs = [pad + int(i * (width - pad - 20) / max(T - 1, 1)) for i in range(T)]
    contributions = set(expset.temporal(contributions_only=True))
    for row, name in enumerate(expset.temporal()):
        s = np.asarray(expset[name].frame_scores, float)
        ys = (s / (np.max(np.abs(s)) or 1.0) + 1) / 2 if name in contributions else s
        pts = np.array([[x, int(height - pad - y * (height - pad - 20))] for x, y in zip(xs, ys)], np.int32)
        c = colours[row % len(colours)]
        cv2.polylines(img, [pts], False, c, 2)
        cv2.putText(img, name, (pad + 8, 22 + 16 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.45, c, 1, cv2.LINE_AA)
    for i in range(0, T, max(1, T // 8)):
        cv2.putText(img, str(int(indices[i])), (xs[i] - 8, height - pad + 16), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "frame", (width // 2, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return img
