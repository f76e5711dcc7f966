"""What a review reaches outside itself: models, clips, sample clips, timelines, explanations,
uploads. The app passes a world that shares its caches between the sessions of one server; the
command line and the tests use :class:`World` as it is (small caches of its own).

Everything a world returns is keyed by content (model, clip and card hashes), so two sessions
that ask for the same thing get the same object, and no session can get another's review: a world
holds no review state.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from ..config import home, memory_mode, samples_dir
from ..vocabulary import VIDEO_SUFFIXES
from .memory import give_back, keep_handing_back
from .turns import WorkQueue


class _Lru:
    """A small thread-safe cache: the least recently used entry goes first."""

    def __init__(self, size: int):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make: Callable):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


def _slots() -> int:
    from ..config import number
    from ..errors import CrnnauditError
    slots = number("CRNNAUDIT_WORK_SLOTS")
    if slots < 1 or slots != int(slots):
        raise CrnnauditError(f"CRNNAUDIT_WORK_SLOTS must be a whole number of at least 1, got {slots:g}")
    return int(slots)


def _mtime(path: Path | None) -> int:
    return path.stat().st_mtime_ns if path is not None and path.exists() else 0


class World:
    """Models, clips, timelines and explanations for reviews.

    Args:
        default_model: the model a review opens on (a path); ``None``: ``CRNNAUDIT_MODEL``, else
            the demo model (readied on first use); ``default_card``: its card, when not the sidecar.
        samples: the folder of sample clips (``None``: ``CRNNAUDIT_SAMPLES``).
    """

    def __init__(self, default_model: str | None = None, samples: str | Path | None = None,
                 default_card: str | None = None):
        self._default, self._samples, self._default_card = default_model, samples, default_card
        self._models, self._clips, self._timelines = _Lru(4), _Lru(32), _Lru(64)
        self._unresolved: dict[str, str] = {}  # registry URI -> why it did not resolve when last asked
        self._locks, self._locks_lock = {}, threading.Lock()  # one scoring per timeline at a time
        # the server's long work, one turn at a time (turns.py); CRNNAUDIT_MEMORY=released: freed
        # memory handed back whenever none is left, and while none comes (memory.py)
        released = memory_mode() == "released"
        self.queue = WorkQueue(slots=_slots(), on_idle=give_back if released else None)
        if released:
            keep_handing_back(self.queue)

    # --- where things come from -------------------------------------------------------
    def default_model_path(self) -> str:
        """The model a new review opens on."""
        if self._default:
            return str(self._default)
        from ..config import setting
        configured = setting("CRNNAUDIT_MODEL")
        if configured:
            return configured
        from ..demo.assembly import ensure_demo
        return str(ensure_demo())

    def pinned_default(self) -> tuple[str | None, str | None]:
        """The configured model as a review starts, and when it was pinned: ``None`` for a file
        (opened by its path; a time only for a pinned registry file); a registry URI
        (``CRNNAUDIT_MODEL=models:/NAME@ALIAS``) resolved and pinned now, once per review (its
        pinned file and the pin's time), or the URI itself when it does not resolve (:meth:`model`
        then says why)."""
        from ..errors import RegistryError
        from ..model.registry import is_registry_uri, pin_of
        configured = self.default_model_path()
        if not is_registry_uri(configured):
            pin = pin_of(configured)  # a pinned file configured by its path: that pin's time
            return None, pin.pinned_at if pin else None
        try:
            return self._pin(configured)
        except RegistryError as e:
            self._unresolved[configured] = str(e)
            return configured, None

    def pinned(self, model: str | None) -> tuple[str | None, str | None]:
        """A model as a review holds it, and when the review pinned it: a file as it is (no time),
        a pinned file with its pin's time, a registry URI resolved and pinned now (its pinned
        file), ``None`` (the configured model) as :meth:`pinned_default` says.

        Raises:
            RegistryError: the URI does not resolve (named).
        """
        from ..model.registry import is_registry_uri, pin_of
        if model is None:
            return self.pinned_default()
        if is_registry_uri(str(model)):
            return self._pin(model)
        pin = pin_of(model)  # a file pinned by the page that chose it: that pin's time
        return model, pin.pinned_at if pin else None

    @staticmethod
    def _pin(uri: str) -> tuple[str, str]:
        """The pinned file of ``uri`` resolved now, and the pin's time. The file is rewritten only
        when its bytes changed, so the model cache keeps serving the model loaded from it; the
        time is the review's own (:func:`.work.registry_pin`), not the cached model's."""
        from ..model.registry import resolve
        pin = resolve(uri)
        return str(pin.path), pin.pinned_at

    def samples(self) -> list[Path]:
        """The sample clips a review may pick (sorted; only video files)."""
        folder = Path(self._samples) if self._samples else samples_dir()
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())

    def uploads(self) -> Path:
        return home() / "uploads"

    # --- loading, by content ------------------------------------------------------------
    def model(self, path: str, card: str | None = None):
        """The model at ``path`` with its card; reloaded when the file or the card changes.

        Raises:
            ModelError, CardError: the file or the card is unusable (named in the message).
        """
        from ..card import sidecar_path
        from ..errors import RegistryError
        from ..model import load_model
        from ..model.registry import is_registry_uri
        if is_registry_uri(str(path)):  # a review opens a pinned version, never the URI as it reads now
            raise RegistryError(self._unresolved.get(str(path)) or f"{path}: a registry URI is resolved when a review "
                                "starts; choose it on the Model page")
        if card is None and self._default and str(path) == str(self._default):
            card = self._default_card
        p = Path(path)
        card_file = Path(card) if card else sidecar_path(p)
        key = (str(p), card, _mtime(p), str(card_file) if card_file else None, _mtime(card_file))
        return self._models.get(key, lambda: load_model(p, card=card))

    def clip(self, path: str):
        """The clip at ``path`` (probed, not decoded).

        Raises:
            VideoError: not a video crnnaudit may open (named in the message).
        """
        from ..footage.video import open_clip
        p = Path(path)
        return self._clips.get((str(p), _mtime(p)), lambda: open_clip(p))

    def timeline(self, model, clip, progress: Callable | None = None):
        """Every window of ``clip`` scored under ``model`` and its card, once per content. Each
        finished window is kept in a checkpoint (:meth:`checkpoint_path`) until the timeline is
        complete, so scoring that is cancelled or cut off resumes from the first window missing;
        two sessions that ask for the same timeline at once score it once (the second waits)."""
        key = self._timeline_key(model, clip)
        lock = self._lock_of(key)
        if not lock.acquire(blocking=False):  # another session is scoring this very timeline
            if progress:
                progress(0, 1, "another session is scoring this clip under this model; waiting to share its timeline")
            lock.acquire()
        try:
            return self._timelines.get(key, lambda: model.score(clip, progress=progress,
                                                                 checkpoint=self.checkpoint_path(model, clip)))
        finally:
            lock.release()

    def checkpoint_path(self, model, clip) -> Path:
        """Where the finished windows of an unfinished timeline are kept (the data folder's ``scoring/``)."""
        name = hashlib.sha256("/".join(self._timeline_key(model, clip)).encode()).hexdigest()[:32]
        folder = home() / "scoring"
        folder.mkdir(parents=True, exist_ok=True)
        return folder / f"{name}.partial.jsonl"

    @staticmethod
    def _timeline_key(model, clip) -> tuple[str, str, str]:
        card = hashlib.sha256(json.dumps(model.card.to_dict(), sort_keys=True, default=str).encode()).hexdigest()
        return model.sha256, clip.sha256, card

    def _lock_of(self, key) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(key, threading.Lock())

    def explain(self, model, window, methods, target=None, progress: Callable | None = None, cancel=None):
        """The explanation set of ``window`` (the engine's disk cache serves a repeat)."""
        from ..explainers import explain
        return explain(model, window, list(methods), target=target, progress=progress, cancel=cancel)

    def verdicts(self, model, window, expset) -> dict:
        """Each map's verdict on its window (:func:`crnnaudit.trust.verdicts`)."""
        from ..trust import verdicts
        return verdicts(model, window, expset)
