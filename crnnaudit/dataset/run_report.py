"""The run report: one self-contained HTML page (``RUN/report.html``) over a dataset audit.

Figures (Plotly, its script embedded once so the page opens offline): the confusion matrix,
the highest anomaly score per clip by label, the temporal peak's position per class. Images
(PNG, inline): each class's mean relevance map per method, each shortcut-screen cluster's
mean map and a few members' frames with their own maps. Tables: the figures, method
agreement, the flagged clips by score. The Dataset page shows the same from the same files.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..decision import ANOMALY, NO_RELIABLE_READING
from ..errors import CrnnauditError
from ..render import class_colour

THUMBNAILS = 4  # members shown per cluster


def load_run_files(run: str | Path) -> dict:
    """``summary``, ``clips`` (DataFrame), ``mean_maps`` and ``manifest`` (its seal) of a run
    folder, once its seal verifies (:func:`.seal.check_run`).

    Raises:
        CrnnauditError: the folder is not a finished run, or not one as it was sealed.
    """
    from .seal import check_run
    run = Path(run)
    if not (run / "summary.json").is_file():
        raise CrnnauditError(f"{run}: not a finished crnnaudit run (no summary.json)")
    manifest = check_run(run)  # an edited run is refused by name, before anything is read from it
    try:
        summary = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        clips = pd.read_parquet(run / "clips.parquet")
    except (OSError, ValueError) as e:
        raise CrnnauditError(f"{run}: not a finished crnnaudit run (summary.json, clips.parquet: {e})") from e
    scored = clips[clips["error"].isna()] if "error" in clips else clips
    needed = ("clip", "sha256", "decision", "predicted", "max_anomaly_score") if len(scored) else ("clip",)
    missing = [c for c in needed if c not in clips]
    if missing:
        raise CrnnauditError(f"{run}: clips.parquet lacks the column(s) {', '.join(missing)}: not a table "
                             "crnnaudit batch wrote")
    means = {}
    if (run / "mean_maps.npz").exists():
        with np.load(run / "mean_maps.npz", allow_pickle=False) as z:
            means = {k: z[k] for k in z.files}
    return {"summary": summary, "clips": clips, "mean_maps": means, "manifest": manifest}


def map_image(m: np.ndarray, size: int = 128) -> np.ndarray:
    from ..render import heatmap, normalise, upsample
    return heatmap(normalise(upsample(np.asarray(m, np.float32), (size, size))))


def member_thumbnail(path: str, window: int, model_card, m: np.ndarray) -> np.ndarray | None:
    """The middle frame of a member window with the cluster's mean map over it (None when
    the clip is no longer there)."""
    from ..render import overlay
    from ..footage.video import open_clip
    try:
        clip = open_clip(path).at_rate(model_card.frame_rate)  # windows as the model numbered them
        w = clip.window(window, model_card.frames_per_window, model_card.stride)
    except (CrnnauditError, OSError):
        return None
    return overlay(w.frames[len(w.frames) // 2], np.asarray(m, np.float32))


def flagged_table(clips: pd.DataFrame) -> pd.DataFrame:
    """The clips a human must look at: those the model flags, and those it gives no reliable
    reading on (a human decides there, with reasons); flagged first, then by score."""
    ok = clips[clips["error"].isna()] if "error" in clips else clips
    cols = [c for c in ("clip", "decision", "max_anomaly_score", "predicted", "label", "top_start_s",
                        "unlike_training", "degraded_windows") if c in ok]
    chosen = ok[ok["decision"].isin([ANOMALY, NO_RELIABLE_READING])]
    order = chosen.assign(_first=chosen["decision"] != ANOMALY).sort_values(
        ["_first", "max_anomaly_score"], ascending=[True, False])
    return order[cols]


def where_to_look(clips: pd.DataFrame, anomaly_classes: list[str]) -> list[tuple[str, str, pd.DataFrame]]:
    """The run's clips that need a look first, by reason: ``(key, title, rows)`` each.

    misread (a label differs from the reading), missed (an anomaly label the model did not
    flag), no reliable reading, unlike the training data, degraded footage.
    """
    ok = clips[clips["error"].isna()] if "error" in clips else clips
    cols = [c for c in ("clip", "label", "predicted", "decision", "max_anomaly_score", "top_start_s",
                        "unlike_training_windows", "degraded_windows") if c in ok]
    labelled = ok[ok["label"].notna()] if "label" in ok else ok.iloc[0:0]
    out = [("misread", "Misread clips (the label differs from the model's reading)",
            labelled[labelled["label"] != labelled["predicted"]]),
           ("missed", "Missed detections (an anomaly label the model did not flag)",
            labelled[labelled["label"].isin(anomaly_classes) & (labelled["decision"] != ANOMALY)]),
           ("no_reliable_reading", "No reliable reading (a human decides, with reasons)",
            ok[ok["decision"] == NO_RELIABLE_READING])]
    if "unlike_training_windows" in ok:
        out.append(("unlike_training", "Clips with windows unlike the training data",
                    ok[ok["unlike_training_windows"].fillna(0) > 0]))
    if "degraded_windows" in ok:
        out.append(("degraded", "Clips with degraded footage (image-quality checks)",
                    ok[ok["degraded_windows"].fillna(0) > 0]))
    return [(k, title, rows.sort_values("max_anomaly_score", ascending=False)[cols]) for k, title, rows in out]


def figures(files: dict) -> list[tuple[str, object]]:
    """The run's Plotly figures, titled."""
    import plotly.graph_objects as go
    s, clips = files["summary"], files["clips"]
    out, classes = [], list(s.get("classes") or [])
    cm = s.get("confusion_matrix")
    if cm:
        classes = list(cm)
        z = [[cm[t][p] for p in classes] for t in classes]
        fig = go.Figure(go.Heatmap(z=z, x=classes, y=classes, colorscale="Blues", text=z, texttemplate="%{text}"))
        fig.update_layout(xaxis_title="predicted (most anomalous window)", yaxis_title="label", height=360)
        out.append(("Confusion matrix", fig))
    ok = clips[clips["error"].isna()] if "error" in clips else clips
    if len(ok):
        fig = go.Figure()
        for label, group in ok.groupby(ok["label"].fillna("unlabelled") if "label" in ok else pd.Series("all", ok.index)):
            fig.add_trace(go.Histogram(x=group["max_anomaly_score"], name=str(label), xbins={"size": 0.05},
                                       marker_color=class_colour(classes, str(label))))
        fig.update_layout(barmode="overlay", xaxis_title="highest anomaly score of the clip", xaxis_range=[0, 1],
                          yaxis_title="clips", height=320)
        fig.update_traces(opacity=0.6)
        out.append(("Highest anomaly score per clip", fig))
    per_class = s.get("explanations", {}).get("per_class", {})
    peaks = {c: v["temporal_peak"] for c, v in per_class.items() if "temporal_peak" in v}
    if peaks:
        fig = go.Figure([go.Bar(x=list(range(1, len(p["histogram"]) + 1)), y=p["histogram"], name=c,
                                marker_color=class_colour(classes, c)) for c, p in peaks.items()])
        fig.update_layout(barmode="group")  # side by side: stacked bars blended into one colour
        fig.update_layout(xaxis_title=f"frame of the window with the largest {next(iter(peaks.values()))['method']}",
                          yaxis_title="windows", height=320)
        out.append(("Where in the window the temporal peak lies", fig))
    return out


def write_run_report(run: str | Path) -> Path:
    """Write ``RUN/report.html`` and return its path."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    from ..card import ModelCard
    from ..render import png_b64
    run = Path(run)
    files = load_run_files(run)
    s = files["summary"]
    card = ModelCard.from_dict(json.loads((run / "model.json").read_text(encoding="utf-8"))["card"])
    look = where_to_look(files["clips"], card.anomaly_classes)
    parts = [f"<h1>Dataset audit: {html.escape(run.name)}</h1>", _figures_table(s, look)]
    parts.append("<h2>Where to look first</h2>")
    for _, title, rows in look:
        parts.append(f"<h3>{html.escape(title)}: {len(rows)}</h3>"
                     + (rows.to_html(index=False) if len(rows) else "<p>none</p>"))
    for title, fig in figures(files):
        parts.append(f"<h2>{html.escape(title)}</h2>" + pio.to_html(fig, include_plotlyjs=False, full_html=False))
    if files["mean_maps"]:
        parts.append("<h2>Where the model looks on average (mean relevance map per class)</h2><div class=row>")
        for key, m in sorted(files["mean_maps"].items()):
            c, _, method = key.partition("__")
            over = _representative(files["clips"], c, card, m)
            parts.append(f"<figure><img src='data:image/png;base64,{png_b64(over if over is not None else map_image(m))}'>"
                         f"<figcaption>{html.escape(c)}: {html.escape(method)}</figcaption></figure>")
        parts.append("</div>")
    parts.append(_agreement(s))
    parts.append(_clusters(s, files["clips"], card, png_b64))
    flagged = flagged_table(files["clips"])
    parts.append(f"<h2>Flagged clips ({len(flagged)}), highest score first</h2>" + flagged.to_html(index=False))
    page = ("<!doctype html><html><head><meta charset='utf-8'><title>crnnaudit run</title>"
            f"<script>{get_plotlyjs()}</script><style>{_CSS}</style></head><body>" + "\n".join(parts) + "</body></html>")
    path = run / "report.html"
    tmp = path.with_suffix(".partial.html")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path


def _representative(clips: pd.DataFrame, cls: str, card, m) -> np.ndarray | None:
    """The class's mean map over a representative frame: the middle frame of the top window of
    the clip read as that class with the highest score (None when none is readable)."""
    ok = clips[clips["error"].isna()] if "error" in clips else clips
    rows = ok[ok["predicted"] == cls].sort_values("max_anomaly_score", ascending=False)
    for r in rows.head(3).itertuples():
        thumb = member_thumbnail(str(r.path), int(r.top_window), card, m)
        if thumb is not None:
            return thumb
    return None


def _figures_table(s: dict, look: list | None = None) -> str:
    rows = [("clips", s.get("clips")), ("failed", s.get("failed")), ("flagged", s.get("flagged")),
            ("no reliable reading", s.get("no_reliable_reading")),
            *[(title.split(" (")[0].lower(), len(r)) for _, title, r in (look or [])],
            ("accuracy", s.get("accuracy")), ("detection ROC-AUC", s.get("detection_roc_auc")),
            ("window ROC-AUC", s.get("window_roc_auc")), ("model SHA-256", s.get("model_sha256"))]
    rows += [(f"ROC-AUC {c}", v) for c, v in (s.get("roc_auc") or {}).items()]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_fmt(v))}</td></tr>" for k, v in rows if v is not None)
    return f"<table>{body}</table>"


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _agreement(s: dict) -> str:
    agree = s.get("explanations", {}).get("agreement") or {}
    if not agree:
        return ""
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{_fmt(v)}</td></tr>" for k, v in agree.items())
    return ("<h2>Agreement between methods</h2><p>Mean Spearman rank correlation over explained windows "
            f"(1: same ranking, 0: unrelated).</p><table>{body}</table>")


def _clusters(s: dict, clips: pd.DataFrame, card, png_b64) -> str:
    screen = s.get("explanations", {}).get("shortcut_screen") or {}
    if not screen.get("clusters"):
        return ""
    rule = screen["rule"]
    paths = dict(zip(clips["sha256"], clips["path"]))
    out = [f"<h2>Shortcut screen ({screen['flagged']} cluster(s) flagged)</h2>",
           f"<p>Spectral clustering of the {html.escape(screen['method'])} maps per class. Flagged: members from "
           f"at least {rule['min_clips']} clips with on average at least {rule['concentration']:.0%} of their "
           f"relevance in the {rule['area']:.0%} of the frame where the cluster's mean map is highest (a uniform "
           "map puts that share there). A flag asks a human to look; it is not a verdict.</p>",
           f"<p>{html.escape(screen.get('note', ''))}</p>"]
    for c in screen["clusters"]:
        m = np.asarray(c["mean_map"])
        thumbs = [t for t in (member_thumbnail(paths.get(x["sha256"], ""), x["window"], card, m)
                              for x in c["members"][:THUMBNAILS]) if t is not None]
        flag = "<b class=flag>FLAGGED</b> " if c["flagged"] else ""
        out.append(f"<div class=cluster><h3>{flag}{html.escape(c['class'])}, cluster {c['cluster']}: "
                   f"{c['windows']} windows from {c['clips']} clips, concentration {c['concentration']:.2f}, "
                   f"peak at {c['peak']['row']:.0%} down, {c['peak']['col']:.0%} across; "
                   f"{html.escape(cluster_method(c))}</h3><div class=row>"
                   f"<img src='data:image/png;base64,{png_b64(map_image(m))}'>"
                   + "".join(f"<img src='data:image/png;base64,{png_b64(t, 160)}'>" for t in thumbs)
                   + "</div><p>" + ", ".join(html.escape(f"{x['clip']} #{x['window']}") for x in c["members"][:20])
                   + ("…" if len(c["members"]) > 20 else "") + "</p></div>")
    return "\n".join(out)


def cluster_method(c: dict) -> str:
    """Which method's maps a cluster comes from, and how far that method is trusted for its class."""
    from .explained import class_trust_words
    m, t = c.get("method", "?"), c.get("method_trust") or {}
    if not t.get("windows") or t.get("interval") is None:
        return f"{m} maps (not measured against random deletion)"
    return class_trust_words(m, c.get("class", "?"), t)


_CSS = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}.row{display:flex;flex-wrap:wrap;gap:8px}"
        "figure{margin:0}.flag{color:#b00}.cluster{border-top:1px solid #ddd;margin-top:1em}img{max-width:160px}")
