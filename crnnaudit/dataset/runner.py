"""Dataset audits: what happens to one clip, and the run's tables gathered from every clip.

``crnnaudit batch MODEL SOURCE... --out RUN`` hands the clips to an executor (:mod:`.executors`:
this process, or a Ray Data pipeline of model-holding actors); every executor runs
:class:`ClipProcessor` on each clip. ``--explain flagged|all`` also explains windows
(:mod:`.explained`, :mod:`.shortcuts`). For each clip it writes
``RUN/clips/<sha256>.json`` once the clip is done (atomically), so a rerun skips every clip
already done by content hash and a killed run loses only the clip in flight. At the end it
gathers ``RUN/clips.parquet`` (one row per clip), ``RUN/windows.parquet`` (one row per window)
and ``RUN/summary.json`` (counts; with labels: the confusion matrix, per-class ROC-AUC of the
most anomalous window's probabilities, detection ROC-AUC).

Labels: a ``<clip>.truth.json`` beside a clip (the synthetic clips have one), or a CSV with
columns ``clip`` (file name) and ``label``.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..decision import ANOMALY, NO_RELIABLE_READING
from ..errors import CrnnauditError
from .figures import roc_auc
from ..vocabulary import VIDEO_SUFFIXES


def expand_sources(sources: Iterable[str]) -> list[Path]:
    """Everything named like a clip in folders (recursively, never following links into
    folders, so a link loop cannot trap the walk), globs and files, sorted, each once.

    What is named like a clip is listed whatever it is: a directory called ``x.mp4``, a named
    pipe, a link loop or an unreadable file becomes a failed clip with its reason when the
    run reaches it (:class:`ClipProcessor`), and the run goes on.

    Raises:
        CrnnauditError: a source that names nothing, or no clip at all.
    """
    found: dict[Path, None] = {}
    for source in sources:
        path = Path(source).expanduser()
        if path.is_dir():
            hits = [Path(folder) / name for folder, dirs, files in os.walk(path) for name in dirs + files
                    if Path(name).suffix.lower() in VIDEO_SUFFIXES]
        elif path.is_symlink() or path.exists():
            hits = [path]
        else:
            hits = [Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).suffix.lower() in VIDEO_SUFFIXES]
        if not hits:
            raise CrnnauditError(f"{source}: no clip there ({', '.join(VIDEO_SUFFIXES)})")
        for p in sorted(hits):
            found.setdefault(_absolute(p), None)
    return list(found)


def _absolute(path: Path) -> Path:
    """The path with its links resolved, or (a link loop, a dangling link) as it is, made absolute."""
    try:
        return path.resolve(strict=True)
    except (OSError, RuntimeError):  # RuntimeError: Python 3.11's "Symlink loop"
        return path.absolute()


def not_a_readable_clip(path: Path) -> str | None:
    """Why ``path`` cannot be read as a clip without risk (opening a named pipe or a device
    blocks, and a folder is no file), or ``None``. Only regular files are ever opened."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if stat.S_ISREG(mode):
        return None
    kind = ("a folder" if stat.S_ISDIR(mode) else "a named pipe" if stat.S_ISFIFO(mode) else
            "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else
            "not a regular file")
    return f"is {kind}, not a video file; skipped"


def read_labels(csv_path: str | Path | None) -> dict[str, str]:
    if csv_path is None:
        return {}
    from .csvfile import read_csv_rows
    rows = read_csv_rows(csv_path, "labels")
    if rows and not {"clip", "label"} <= set(rows[0]):
        raise CrnnauditError(f"{csv_path}: the labels CSV needs the columns 'clip' and 'label'")
    return {Path(r["clip"]).name: r["label"] for r in rows}


EXPLAIN_MODES = ("none", "flagged", "all")


class ClipProcessor:
    """Everything one clip needs, for either executor: score it, explain the windows asked for
    (each frame through the CNN once: :func:`~crnnaudit.explainers.clip.explain_clip`), and
    write its record (``RUN/clips/<sha256>.json``) and its explained windows
    (``RUN/explained/<sha256>.npz``), atomically, the record last."""

    def __init__(self, model, out: str | Path, labels: dict[str, str] | None = None, explain: str = "none",
                 methods: Iterable[str] | None = None, measure_every: int = 1):
        self.methods = self.check_options(explain, methods)
        self.measure_every = max(1, int(measure_every))  # evidence on about one clip in this many
        if explain != "none":
            from ..explainers import REGISTRY
            refused = [why for m in self.methods if (why := REGISTRY[m].unavailable_on(model))]
            if refused:
                raise CrnnauditError("; ".join(refused) + "; choose --methods among those the model can serve")
        self.model, self.out, self.labels, self.explain = model, Path(out), labels or {}, explain
        (self.out / "clips").mkdir(parents=True, exist_ok=True)
        (self.out / "explained").mkdir(exist_ok=True)
        _write_atomic(self.out / "model.json", {"sha256": model.sha256, "name": model.name,
                                                "card": model.card.to_dict(),
                                                **({"registry": model.registry} if model.registry else {})})

    @staticmethod
    def check_options(explain: str, methods: Iterable[str] | None) -> list[str]:
        """The methods to run (the clip methods by default).

        Raises:
            CrnnauditError: an unknown mode or method."""
        from ..explainers import REGISTRY
        from ..explainers.clip import CLIP_METHODS
        if explain not in EXPLAIN_MODES:
            raise CrnnauditError(f"--explain must be one of {', '.join(EXPLAIN_MODES)}, got {explain!r}")
        methods = list(methods or CLIP_METHODS)
        unknown = [m for m in methods if m not in REGISTRY]
        if unknown:
            raise CrnnauditError(f"unknown methods {unknown}; available: {sorted(REGISTRY)}")
        return methods

    def record_path(self, sha: str) -> Path:
        return self.out / "clips" / f"{sha}.json"

    def __call__(self, path: str | Path, sha: str | None = None) -> bool:
        """Process one clip unless its record exists; whether it was processed now. A path
        that is not a readable regular file is recorded as a failed clip with its reason."""
        from ..footage.video import sha256_file
        path = Path(path)
        problem = not_a_readable_clip(path)
        if problem is None and sha is None:
            try:
                sha = sha256_file(path)
            except OSError as e:
                problem = f"cannot be read ({e.strerror or e})"
        if problem is not None:
            return self._failed(path, problem)
        if self.record_path(sha).exists():  # resumable: done clips are skipped by content
            return False
        return self._process(path, sha)

    def _failed(self, path: Path, problem: str) -> bool:
        """Record a path that could not be read (keyed by the path: it has no content hash)."""
        key = hashlib.sha256(f"unreadable:{path}".encode()).hexdigest()
        if self.record_path(key).exists():
            return False
        record = {"clip": path.name, "path": str(path), "sha256": None, "error": f"{path.name}: {problem}"}
        _write_atomic(self.record_path(key), {"record": record, "windows": []})
        return True

    def _process(self, path: Path, sha: str) -> bool:
        from ..footage.video import open_clip
        try:
            clip = self.model.sampled(open_clip(path))
            timeline, explained = self._score_and_explain(clip)
            record, windows = _record(self.model, clip, timeline, self.labels)
            record["explained_windows"] = len(explained)
            if explained:
                from .explained import save_clip, screen_window, window_summary
                summaries = [window_summary(e.explanations, self.model.window_length) for e in explained]
                top = screen_window(self.model, explained, timeline.table,
                                    measure=int(sha[:8], 16) % self.measure_every == 0)
                save_clip(self.out / "explained" / f"{sha}.npz", [e.window.index for e in explained], summaries, top)
        except CrnnauditError as e:
            record, windows = {"clip": path.name, "path": str(path), "sha256": sha, "error": str(e)}, []
        _write_atomic(self.record_path(sha), {"record": record, "windows": windows})
        return True

    def _score_and_explain(self, clip):
        """The timeline and the explained windows. ``all``: one pass gives both (the logits of
        every explained window are its scores); ``flagged``: score, then explain the windows
        over the threshold."""
        from ..explainers.clip import explain_clip, without_window_passes
        from ..model.scoring import timeline_from_windows
        if self.explain == "all" and without_window_passes(self.model, self.methods):
            explained = list(explain_clip(self.model, clip, self.methods))
            return timeline_from_windows(self.model, clip, explained), explained
        timeline = self.model.score(clip)
        t = timeline.table
        chosen = [] if self.explain == "none" else (
            t["window"].tolist() if self.explain == "all" else t.loc[t["decision"] == ANOMALY, "window"].tolist())
        return timeline, list(explain_clip(self.model, clip, self.methods, windows=chosen)) if chosen else []


def _record(model, clip, timeline, given: dict[str, str]) -> tuple[dict, list[dict]]:
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
              "unlike_training_windows": int(t["unlike_training"].sum()) if "unlike_training" in t else None,
              "degraded_windows": int((t["quality_flags"] != "").sum()) if "quality_flags" in t else None,
              "unreliable_windows": int((~t["reliable"]).sum()),
              "truncated": clip.truncated, "label": label, "error": None}
    interval = truth.interval if truth else None
    windows = [{"sha256": clip.sha256, "window": int(r.window), "first_frame": int(r.first_frame),
                "last_frame": int(r.last_frame), "anomaly_score": float(r.anomaly_score),
                "predicted": str(r.predicted), "decision": str(r.decision), "reliable": bool(r.reliable),
                "training_distance": float(getattr(r, "training_distance", np.nan)),
                "unlike_training": bool(getattr(r, "unlike_training", False)),
                "quality_flags": str(getattr(r, "quality_flags", "")),
                **{f"p_{c}": float(t.at[r.Index, f"p_{c}"]) for c in model.card.classes},
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


class RunModel:
    """What :func:`gather` reads of a model (its hash and completed card), from a run's
    ``model.json``: the Ray driver gathers without loading the model."""

    def __init__(self, out: Path):
        from ..card import ModelCard
        try:
            data = json.loads((Path(out) / "model.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise CrnnauditError(f"{out}: not a crnnaudit run folder (model.json: {e})") from e
        self.sha256, self.name, self.registry = data["sha256"], data.get("name", ""), data.get("registry")
        self.card = ModelCard.from_dict(data["card"], source=f"{out}/model.json")


def _registry_facts(pin: dict) -> dict:
    """What a run, a report or instructions record of a registry pin: the URI, the version, the digest."""
    return {k: pin[k] for k in ("uri", "name", "version", "alias", "sha256", "pinned_at") if k in pin}


def gather(out: Path, model) -> dict:
    """Parquet tables and ``summary.json`` from every clip record of the run."""
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
               "flagged": int((ok["decision"] == ANOMALY).sum()) if len(ok) else 0,
               "no_reliable_reading": int((ok["decision"] == NO_RELIABLE_READING).sum()) if len(ok) else 0,
               "model_sha256": model.sha256, "classes": model.card.classes,
               **({"model_registry": _registry_facts(model.registry)} if getattr(model, "registry", None) else {})}
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
    if len(ok) and ok.get("explained_windows", pd.Series(dtype=float)).fillna(0).sum() > 0:
        from .explained import summarize
        summary["explanations"] = summarize(out, model.card.classes, dict(zip(ok["sha256"], ok["clip"])))
    _write_atomic(out / "summary.json", summary)
    return summary
