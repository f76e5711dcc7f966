"""Dataset audits: a whole archive of clips through the model, one record per clip, resumable.

``crnnaudit batch MODEL SOURCE... --out RUN`` streams clips through one process (the ``local``
engine; the Ray engine of the dataset-audit issue is not built yet). For each clip it writes
``RUN/clips/<sha256>.json`` once the clip is done (atomically), so a rerun skips every clip
already done by content hash and a killed run loses only the clip in flight. At the end it
gathers ``RUN/clips.parquet`` (one row per clip), ``RUN/windows.parquet`` (one row per window)
and ``RUN/summary.json`` (counts; with labels: the confusion matrix, per-class ROC-AUC of the
most anomalous window's probabilities, detection ROC-AUC).

Labels: a ``<clip>.truth.json`` beside a clip (the synthetic clips have one), or a CSV with
columns ``clip`` (file name) and ``label``.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from .errors import CrnnauditError
from .vocabulary import VIDEO_SUFFIXES


def expand_sources(sources: Iterable[str]) -> list[Path]:
    """Clip files from folders (recursively), globs and files, sorted, each once.

    Raises:
        CrnnauditError: a source that names nothing, or no clip at all.
    """
    found: dict[Path, None] = {}
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            hits = [p for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES]
        elif path.is_file():
            hits = [path]
        else:
            hits = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).suffix.lower() in VIDEO_SUFFIXES]
        if not hits:
            raise CrnnauditError(f"{source}: no clip there ({', '.join(VIDEO_SUFFIXES)})")
        for p in sorted(hits):
            found.setdefault(p.resolve(), None)
    return list(found)


def read_labels(csv_path: str | Path | None) -> dict[str, str]:
    if csv_path is None:
        return {}
    try:
        with open(csv_path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CrnnauditError(f"{csv_path}: cannot read the labels ({e})") from e
    if rows and not {"clip", "label"} <= set(rows[0]):
        raise CrnnauditError(f"{csv_path}: the labels CSV needs the columns 'clip' and 'label'")
    return {Path(r["clip"]).name: r["label"] for r in rows}


def run_batch(model, sources: Iterable[str], out: str | Path, labels: str | Path | None = None,
              progress: Callable[[int, int, float], None] | None = None) -> dict:
    """Score every clip of ``sources`` with ``model`` (an AuditedModel) into the folder ``out``;
    returns the summary. Clips that cannot be read are recorded with their error, not fatal."""
    from .video import open_clip, sha256_file
    out = Path(out)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    clips, given = expand_sources(sources), read_labels(labels)
    t0, done_now = time.perf_counter(), 0
    for i, path in enumerate(clips):
        sha = sha256_file(path)
        record_path = out / "clips" / f"{sha}.json"
        if not record_path.exists():  # resumable: done clips are skipped by content
            try:
                record, windows = _score_one(model, open_clip(path), given)
            except CrnnauditError as e:
                record, windows = {"clip": path.name, "path": str(path), "sha256": sha, "error": str(e)}, []
            _write_atomic(record_path, {"record": record, "windows": windows})
            done_now += 1
        if progress:
            progress(i + 1, len(clips), done_now / max(time.perf_counter() - t0, 1e-9))
    return dict(_gather(out, model), scored_this_run=done_now)


def _score_one(model, clip, given: dict[str, str]) -> tuple[dict, list[dict]]:
    timeline = model.score(clip)
    t = timeline.table
    top = t.loc[timeline.top_window()]
    truth = clip.ground_truth
    label = given.get(clip.name) or (truth.label if truth else None)
    record = {"clip": clip.name, "path": str(clip.path), "sha256": clip.sha256, "windows": len(t),
              "max_anomaly_score": float(top["anomaly_score"]), "predicted": str(top["predicted"]),
              "decision": str(top["decision"]), "top_window": int(top["window"]),
              "top_start_s": float(top["start_s"]), "top_end_s": float(top["end_s"]),
              "probabilities": {c: float(top[f"p_{c}"]) for c in model.card.classes},
              "unlike_training": bool(t["unlike_training"].any()) if "unlike_training" in t else None,
              "truncated": clip.truncated, "label": label, "error": None}
    interval = truth.interval if truth else None
    windows = [{"sha256": clip.sha256, "window": int(r.window), "first_frame": int(r.first_frame),
                "last_frame": int(r.last_frame), "anomaly_score": float(r.anomaly_score),
                "predicted": str(r.predicted),
                "anomalous": None if truth is None else _half_inside(int(r.first_frame), int(r.last_frame), interval)}
               for r in t.itertuples()]
    return record, windows


def _half_inside(first: int, last: int, interval) -> bool:
    """A window is anomalous when at least half of it lies in the ground-truth interval."""
    if interval is None:
        return False
    overlap = max(0, min(last, interval[1]) - max(first, interval[0]) + 1)
    return overlap * 2 >= last - first + 1


def _write_atomic(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _gather(out: Path, model) -> dict:
    from .demo.evaluation import roc_auc
    docs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "clips").glob("*.json"))]
    records = [d["record"] for d in docs]
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "probabilities"} for r in records])
    for c in model.card.classes:
        table[f"p_{c}"] = [r.get("probabilities", {}).get(c, np.nan) for r in records]
    table.to_parquet(out / "clips.parquet", index=False)
    windows = pd.DataFrame([w for d in docs for w in d["windows"]])
    windows.to_parquet(out / "windows.parquet", index=False)
    ok = table[table["error"].isna()] if "error" in table else table
    summary = {"clips": len(table), "failed": int(len(table) - len(ok)),
               "flagged": int((ok["decision"] == "anomaly").sum()) if len(ok) else 0,
               "model_sha256": model.sha256, "classes": model.card.classes}
    labelled = ok[ok["label"].notna()] if len(ok) and "label" in ok else ok.iloc[0:0]
    if len(labelled):
        classes = model.card.classes
        summary["confusion_matrix"] = {t: {p: int(((labelled["label"] == t) & (labelled["predicted"] == p)).sum())
                                           for p in classes} for t in classes}
        summary["accuracy"] = float((labelled["label"] == labelled["predicted"]).mean())
        summary["roc_auc"] = {c: roc_auc((labelled["label"] == c).to_numpy(), labelled[f"p_{c}"].to_numpy())
                              for c in classes}
        anomalous = labelled["label"].isin(model.card.anomaly_classes).to_numpy()
        summary["detection_roc_auc"] = roc_auc(anomalous, labelled["max_anomaly_score"].to_numpy())
    if len(windows) and windows["anomalous"].notna().any():
        w = windows[windows["anomalous"].notna()]
        summary["window_roc_auc"] = roc_auc(w["anomalous"].astype(bool).to_numpy(), w["anomaly_score"].to_numpy())
    _write_atomic(out / "summary.json", summary)
    return summary
