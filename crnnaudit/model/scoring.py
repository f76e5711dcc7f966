"""Scoring a whole clip: every window, each frame through the CNN once.

Overlapping windows share frames. Frames are decoded in a stream and their features kept only
until the last window that needs them has been scored, so memory holds a window's worth of
features, not the clip. :class:`WindowScheduler` is that bookkeeping; :func:`score` feeds it.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol

import numpy as np

from ..lazy import LazyModule
from ..footage import quality
from ..errors import ExplanationError, ModelError, VideoError
from ..footage.video import Clip
from .backend import on_accelerator

pd = LazyModule("pandas")  # imported on first use (see lazy.py)


class Scorable(Protocol):
    """What scoring reads of a model (an :class:`~crnnaudit.model.audited.AuditedModel`): named
    here so that scoring does not import the class that calls it."""

    name: str
    sha256: str
    card: object
    window_length: int
    frame_size: tuple[int, int]
    feature_stats: object
    quality_bounds: object
    default_target: int

    def prepare(self, frames): ...
    def frame_features(self, x): ...
    def head_logits(self, features): ...
    def probabilities(self, logits): ...
    def anomaly_score(self, probabilities): ...


@dataclass
class Timeline:
    """Scores of every window of a clip.

    ``table`` has one row per window: window, first_frame, last_frame, start_s, end_s,
    ``p_<class>`` per class, anomaly_score, predicted, decision, padded, ``q_<measure>`` per
    image-quality measure (:mod:`crnnaudit.footage.quality`) and ``reliable``; with the card's feature
    statistics also ``training_distance`` and ``unlike_training`` (the window lies beyond the
    threshold: its score may mean little); with its quality bounds ``quality_flags`` (the checks
    that fired, comma-separated; empty when none). ``decision`` is "no reliable reading" where
    ``reliable`` is false and the card withholds (:func:`crnnaudit.decision.decide`).

    ``clip_warnings`` carries what the clip's file itself says against trusting the timeline
    (truncated, no timestamps: :meth:`crnnaudit.footage.video.Clip.warnings`); ``clip_end_s`` is where
    its decodable frames end.
    """

    table: pd.DataFrame
    clip_sha256: str
    model_sha256: str
    window_length: int
    stride: int
    threshold: float
    clip_warnings: list = field(default_factory=list)
    clip_truncated: bool = False
    clip_end_s: float | None = None
    readings: list = field(default_factory=list, repr=False)
    resumed_windows: int = 0  # windows taken from a checkpoint of an earlier, killed run
    checkpoint_note: str = ""  # why a checkpoint file was set aside, when one was

    def top_window(self) -> int:
        return int(self.table["anomaly_score"].idxmax())

    def reading(self, k: int):
        """Window ``k``'s :class:`~crnnaudit.model.reading.WindowReading`: the very one its
        row was made from (probabilities, score, both checks, decision)."""
        return self.readings[int(k)]


class WindowScheduler:
    """Which windows are ready once some frames' features are known, and which features can
    be dropped.

    Args:
        starts: first frame of each window, ascending.
        length: frames per window (T).
        available: frames the clip holds; a window running past the end repeats the last one.
    """

    def __init__(self, starts: list[int], length: int, available: int):
        self.starts, self.length, self.available = list(starts), int(length), int(available)
        self.next = 0  # the first window not yet handed out
        self.features: dict[int, np.ndarray] = {}

    @property
    def done(self) -> bool:
        return self.next >= len(self.starts)

    def add(self, indices: list[int], features: np.ndarray) -> None:
        self.features.update(zip(indices, features))

    def indices(self, w: int) -> list[int]:
        """Source frame of each position of window ``w`` (the last frame repeats past the end)."""
        start = self.starts[w]
        return [min(i, self.available - 1) for i in range(start, start + self.length)]

    def ready(self) -> list[tuple[int, list[int], np.ndarray]]:
        """``(window, frame indices, features (T, *F))`` of every window whose frames are all
        known, in order; features no later window needs are dropped."""
        out = []
        while not self.done and self.indices(self.next)[-1] in self.features:
            idx = self.indices(self.next)
            out.append((self.next, idx, np.stack([self.features[i] for i in idx])))
            self.next += 1
        keep_from = self.starts[self.next] if not self.done else self.available
        for i in [i for i in self.features if i < keep_from]:
            del self.features[i]
        return out


def prefetched(items: Iterator, depth: int) -> Iterator:
    """``items``, produced up to ``depth`` ahead in a thread: the CPU decodes the next frames
    while the model (on a GPU) works on these. An error in the thread is raised here; leaving
    early stops the thread and closes ``items``."""
    ready: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop, end = threading.Event(), object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(end)
        except BaseException as e:  # handed to the consumer, raised there
            put(_Failed(e))
        finally:
            getattr(items, "close", lambda: None)()

    worker = threading.Thread(target=produce, name="crnnaudit-decode", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not end:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


@dataclass
class _Failed:
    error: BaseException


def score(model: Scorable, clip: Clip, stride: int | None = None,
          progress: Callable[[int, int], None] | None = None, batch_frames: int = 32,
          prefetch: bool | None = None, checkpoint=None) -> Timeline:
    """Score every window of a clip (see :meth:`AuditedModel.score`). ``checkpoint``: a
    :class:`Checkpoint` that keeps each finished window as it is scored and, on a run after a
    kill, gives back the windows already finished: decoding starts at the first one missing."""
    T = model.window_length
    if stride is not None and (isinstance(stride, bool) or not isinstance(stride, (int, np.integer))
                               or stride < 1):
        raise ExplanationError(f"stride must be a whole number of frames >= 1, got {stride!r}")
    stride = int(stride or model.card.stride)
    starts = clip.window_starts(T, stride)
    needed = min(clip.frame_count, starts[-1] + T)
    scheduler = WindowScheduler(starts, T, needed)
    rows: list = []
    looks: list = []  # per window, its image-quality values
    for row, look in checkpoint.open(model, clip, stride, len(starts)) if checkpoint is not None else []:
        rows.append(row)
        looks.append(look)
    scheduler.next = len(rows)
    pending_idx, pending_img = [], []
    measures: dict[int, np.ndarray] = {}  # frame -> its image-quality measures (six numbers)
    last: list = [None]  # the frame before the pending ones (for the frozen-frame check)

    def head_on_ready() -> None:
        ready = scheduler.ready()
        if not ready:
            return
        done = _scored(model, clip, ready, measures)
        for i in [i for i in measures if i < (starts[scheduler.next] if not scheduler.done else needed)]:
            del measures[i]  # no window still to come reads these frames
        rows.extend(r for r, _ in done)
        looks.extend(look for _, look in done)
        if checkpoint is not None:
            checkpoint.add(done)
        if progress:
            progress(len(rows), len(starts))

    def features_of_pending() -> None:
        if pending_img:
            batch = np.stack(pending_img)
            measures.update(zip(pending_idx, quality.frame_measures(batch, last[0])))
            last[0] = batch[-1]
            scheduler.add(pending_idx, model.frame_features(model.prepare(batch)))
            pending_idx.clear()
            pending_img.clear()
        head_on_ready()

    if not scheduler.done:
        resume_at = starts[scheduler.next] if scheduler.next else 0
        for i, img in _frames(clip, model, resume_at, needed, batch_frames, prefetch, last):
            pending_idx.append(i)
            pending_img.append(img)
            if len(pending_img) >= batch_frames:
                features_of_pending()
        features_of_pending()
    if not rows:
        raise VideoError(f"{clip.name}: no window could be scored (no decodable frames)")
    return _timeline(model, clip, rows, T, stride, looks)


def _scored(model: Scorable, clip: Clip, ready: list, measures: dict) -> list:
    """``((window, indices, probabilities, logits, training distance), image-quality values)``
    of each window whose features are ready, through the head in one batch."""
    logits = model.head_logits(np.stack([f for _, _, f in ready]))
    if not np.all(np.isfinite(logits)):
        raise ModelError(f"{model.name}: non-finite scores on {clip.name} windows {[w for w, _, _ in ready]}")
    stats = model.feature_stats
    return [((w, idx, p, lg, stats.window_distance(f) if stats is not None else None),
             quality.window_values(np.stack([measures[i] for i in idx])))
            for (w, idx, f), p, lg in zip(ready, model.probabilities(logits), logits)]


def _frames(clip: Clip, model: Scorable, resume_at: int, needed: int, batch_frames: int, prefetch, last: list):
    """The frames from ``resume_at`` (the first frame of the first window not yet scored) to
    ``needed``; the frame before it only goes to ``last`` (the frozen-frame check reads it)."""
    frames = clip.iter_frames(max(0, resume_at - 1), needed, model.frame_size)
    if prefetch if prefetch is not None else on_accelerator():
        frames = prefetched(frames, 2 * batch_frames)
    for i, img in frames:
        if i < resume_at:
            last[0] = img
            continue
        yield i, img


class Checkpoint:
    """Finished windows of one scoring run, kept in a file as they are scored (one JSON line
    each, flushed to disk), so that a run killed part way resumes from the first window
    missing. The file's first line names what it is a checkpoint of (the clip's SHA-256, the
    model's, the card's stride, frame rate and window length, the number of windows); a file
    of anything else is set aside and the run starts from the first window (``reused``
    says how many windows were taken from the file, ``note`` why none were).
    """

    def __init__(self, path):
        from pathlib import Path
        self.path = Path(path)
        self.reused, self.note, self._file = 0, "", None

    @staticmethod
    def _key(model, clip, stride: int, windows: int) -> dict:
        return {"clip_sha256": clip.sha256, "model_sha256": model.sha256, "stride": int(stride),
                "window_length": int(model.window_length), "frame_rate": getattr(model.card, "frame_rate", None),
                "windows": int(windows), "classes": list(model.card.classes)}

    def open(self, model, clip, stride: int, windows: int) -> list:
        """The finished windows the file holds for this very run (``(row, look)`` each, in
        window order), and the file opened to add the next ones."""
        import json
        key, found = self._key(model, clip, stride, windows), []
        if self.path.exists():
            found = self._read(key)
        self.reused = len(found)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not found:
            self._file = open(self.path, "w", encoding="utf-8")
            self._file.write(json.dumps(key) + "\n")
        else:
            self._file = open(self.path, "a", encoding="utf-8")
        self._file.flush()
        return found

    def _read(self, key: dict) -> list:
        import json
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
            if not lines or json.loads(lines[0]) != key:
                self.note = f"{self.path}: a checkpoint of another clip, model or setting; starting from window 0"
                return []
        except (OSError, UnicodeDecodeError, ValueError):
            self.note = f"{self.path}: unreadable checkpoint; starting from window 0"
            return []
        found = []
        for line in lines[1:]:
            try:
                r = json.loads(line)
                row = (int(r["w"]), [int(i) for i in r["idx"]], np.asarray(r["p"], np.float32),
                       np.asarray(r["lg"], np.float32), None if r["d"] is None else float(r["d"]))
                look = {k: float(v) for k, v in r["look"].items()}
            except (ValueError, KeyError, TypeError):
                break  # a line cut off by the kill, and whatever follows it
            if row[0] != len(found):
                break
            found.append((row, look))
        if found:  # rewrite without a cut-off tail, so the lines appended next follow the last whole one
            self.path.write_text("\n".join(lines[:1 + len(found)]) + "\n", encoding="utf-8")
        return found

    def add(self, done: list) -> None:
        import json
        import os
        for (w, idx, p, lg, d), look in done:
            self._file.write(json.dumps({"w": int(w), "idx": [int(i) for i in idx], "p": np.asarray(p).tolist(),
                                         "lg": np.asarray(lg).tolist(), "d": None if d is None else float(d),
                                         "look": {k: float(v) for k, v in look.items()}}) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def finish(self) -> None:
        """The run is complete: the checkpoint goes."""
        if self._file is not None:
            self._file.close()
        self.path.unlink(missing_ok=True)


def timeline_from_windows(model: Scorable, clip: Clip, explained: list) -> Timeline:
    """The timeline of a clip whose every window was explained (each explanation set carries
    its window's logits, each :class:`~crnnaudit.explainers.clip.ExplainedWindow` its
    features): the same table as :func:`score`, without a second pass."""
    stats = model.feature_stats
    rows = [(e.window.index, [int(i) for i in e.window.indices], np.asarray(e.explanations.probabilities),
             np.asarray(e.explanations.logits), stats.window_distance(e.features) if stats is not None else None)
            for e in explained]
    looks = [quality.window_values(quality.frame_measures(e.window.frames)) for e in explained]
    return _timeline(model, clip, rows, model.window_length, explained[0].window.stride, looks)


def _timeline(model: Scorable, clip: Clip, rows: list, T: int, stride: int, looks: list[dict]) -> Timeline:
    """The table, one row per window, each made by the one function that reads a window
    (:func:`crnnaudit.model.reading.read`)."""
    from .reading import read
    classes = model.card.classes
    readings = [read(model, r[2], r[3], r[4], look) for r, look in zip(rows, looks)]
    table = pd.DataFrame({
        "window": [r[0] for r in rows],
        "first_frame": [r[1][0] for r in rows],
        "last_frame": [r[1][-1] for r in rows],
        "start_s": [clip.time_of(r[1][0]) for r in rows],
        "end_s": [clip.time_of(r[1][-1]) for r in rows],
        **{f"p_{c}": [x.probabilities[c] for x in readings] for c in classes},
    })
    table["anomaly_score"] = [x.anomaly_score for x in readings]
    table["predicted"] = [x.predicted for x in readings]
    table["padded"] = clip.frame_count < T
    if model.feature_stats is not None:
        table["training_distance"] = [x.training["distance"] for x in readings]
        table["unlike_training"] = [x.training["unlike_training"] for x in readings]
    for name in quality.MEASURES:
        table[f"q_{name}"] = [v[name] for v in looks]
    if model.quality_bounds is not None:
        table["quality_flags"] = [", ".join(dict.fromkeys(f["check"] for f in x.quality["fired"])) for x in readings]
    table["reliable"] = [x.reliable for x in readings]
    table["decision"] = [x.decision for x in readings]
    return Timeline(table, clip.sha256, model.sha256, T, stride, model.card.threshold,
                    clip_warnings=clip.warnings(), clip_truncated=clip.truncated, clip_end_s=clip.duration,
                    readings=readings)
