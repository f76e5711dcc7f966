"""Charts: the interactive Plotly figures the pages show (timeline, temporal contributions,
class probabilities) and the static chart the reports embed, drawn without a browser."""

from __future__ import annotations

import cv2
import numpy as np

from ..lazy import LazyModule
from .maps import class_colour

go = LazyModule("plotly.graph_objects")  # the reports' static chart needs no Plotly


#: Windows a timeline chart draws one by one; a longer stretch is summarised (:func:`summarise`).
TIMELINE_POINTS = 1500


def summarise(table, points: int = TIMELINE_POINTS):
    """A long timeline in at most ``points`` groups of consecutive windows: per group its first
    start, the highest score and the window that has it (a click selects that window), and the
    lowest score. Nothing above the threshold is lost to it: the peak of every group is kept."""
    import pandas as pd
    n = len(table)
    size = max(1, -(-n // points))  # ceil: windows per group
    group = np.arange(n) // size
    scores = table["anomaly_score"].to_numpy()
    order = np.lexsort((-scores, group))  # each group's highest score first
    first = order[np.r_[True, group[order][1:] != group[order][:-1]]]
    return pd.DataFrame({"start_s": table["start_s"].to_numpy()[np.r_[0, np.flatnonzero(np.diff(group)) + 1]],
                         "peak": scores[first], "window": table["window"].to_numpy()[first],
                         "low": pd.Series(scores).groupby(group).min().to_numpy(),
                         "windows": np.bincount(group)}), size


def top_windows(table, k: int = 10) -> list[int]:
    """The ``k`` windows with the highest anomaly scores, highest first (ties: the earlier window),
    none of them overlapping one already listed: ten peaks, not ten windows of one event."""
    out, taken = [], []
    ordered = table.sort_values(["anomaly_score", "window"], ascending=[False, True])
    for w, a, b in zip(ordered["window"], ordered["start_s"], ordered["end_s"]):
        if all(b <= x or a >= y for x, y in taken):
            out.append(int(w))
            taken.append((a, b))
            if len(out) == k:
                break
    return out


def timeline_figure(timeline, selected: int | None = None, span: tuple[float, float] | None = None) -> go.Figure:
    """Anomaly score per window, the threshold drawn, the selected window marked. ``span``:
    the seconds shown (a zoom). Over :data:`TIMELINE_POINTS` windows in view, each point is a
    group of consecutive windows (its highest score, its lowest shaded), and every window over
    the threshold is still drawn on its own."""
    t = timeline.table
    if span is not None:
        t = t[(t["end_s"] >= span[0]) & (t["start_s"] <= span[1])]
    fig = go.Figure()
    if len(t) <= TIMELINE_POINTS:
        fig.add_trace(go.Scatter(x=t["start_s"], y=t["anomaly_score"], mode="lines+markers",
                                 name="anomaly score", customdata=t["window"],
                                 hovertemplate="window %{customdata}<br>%{x:.2f} s: %{y:.3f}"))
    else:
        s, size = summarise(t)
        fig.add_trace(go.Scatter(x=s["start_s"], y=s["low"], mode="lines", line_width=0, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=s["start_s"], y=s["peak"], mode="lines", fill="tonexty",
                                 name=f"highest score of each {size} windows (shaded: lowest)",
                                 customdata=s["window"],
                                 hovertemplate="highest: window %{customdata}<br>%{x:.2f} s: %{y:.3f}"))
        over = t[t["anomaly_score"] >= timeline.threshold].nlargest(TIMELINE_POINTS, "anomaly_score")
        fig.add_trace(go.Scatter(x=over["start_s"], y=over["anomaly_score"], mode="markers", name="over the threshold",
                                 marker=dict(size=6, color="red"), customdata=over["window"],
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


def temporal_plot(expset, indices, width=720, height=240, legend=170) -> np.ndarray:
    """A plain line chart of per-frame contributions (scaled to -1..1) and running scores
    (0..1), drawn without a browser for the PDF and HTML report; the legend stands in a column
    of its own at the right, never over a line."""
    img = np.full((height, width, 3), 255, np.uint8)
    pad, right = 40, width - legend
    cv2.line(img, (pad, height - pad), (right - 10, height - pad), (0, 0, 0), 1)
    cv2.line(img, (pad, 10), (pad, height - pad), (0, 0, 0), 1)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]
    T = len(indices)
    xs = [pad + int(i * (right - pad - 20) / max(T - 1, 1)) for i in range(T)]
    contributions = set(expset.temporal(contributions_only=True))
    for row, name in enumerate(expset.temporal()):
        s = np.asarray(expset[name].frame_scores, float)
        ys = (s / (np.max(np.abs(s)) or 1.0) + 1) / 2 if name in contributions else s
        pts = np.array([[x, int(height - pad - y * (height - pad - 20))] for x, y in zip(xs, ys)], np.int32)
        c = colours[row % len(colours)]
        cv2.polylines(img, [pts], False, c, 2)
        y = 22 + 18 * row
        cv2.line(img, (right + 4, y - 4), (right + 24, y - 4), c, 3)
        cv2.putText(img, name, (right + 30, y), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1, cv2.LINE_AA)
    for i in range(0, T, max(1, T // 8)):
        cv2.putText(img, str(int(indices[i])), (xs[i] - 8, height - pad + 16), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "frame", ((pad + right) // 2, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    return img
