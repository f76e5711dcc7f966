"""Explanations, the method registry, and targets.

A method is one small function plus a registry entry (``@register``). The engine hands it a
:class:`Context` holding what the shared pass already computed (logits, conv maps, features,
gradients), so most methods are a few lines. The UI builds its pickers from :data:`REGISTRY`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import ExplanationError


@dataclass
class Explanation:
    """What one method says about one window.

    Attributes:
        method: registry name.
        maps: ``(T, h, w)`` float32 (one map per frame) or ``None`` for temporal methods.
        frame_scores: ``(T,)`` float32: how much each frame contributed.
        target: the class index explained; ``target_name`` its card name.
        params: the method's parameters (defaults filled in).
        seconds: time taken.
        provenance: model and clip hashes, window, library versions.
        extra: method-specific figures (e.g. ``completeness_gap`` for ``temporal_ig``).
    """

    method: str
    maps: np.ndarray | None
    frame_scores: np.ndarray
    target: int
    target_name: str
    params: dict
    seconds: float
    provenance: dict
    extra: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return "spatial" if self.maps is not None else "temporal"

    def summary(self) -> dict:
        return {"method": self.method, "kind": self.kind, "target": self.target,
                "target_name": self.target_name, "params": self.params,
                "seconds": round(self.seconds, 4),
                "frame_scores": [float(v) for v in self.frame_scores],
                "map_shape": list(self.maps.shape) if self.maps is not None else None,
                "extra": {k: v for k, v in self.extra.items() if not isinstance(v, np.ndarray)},
                "provenance": self.provenance}


class ExplanationSet(Mapping):
    """Method name -> :class:`Explanation` for one window, plus the window's prediction."""

    def __init__(self, items: dict[str, Explanation], *, window: dict, logits: np.ndarray,
                 probabilities: np.ndarray, target: int, target_name: str):
        self._items = dict(items)
        self.window = window
        self.logits = np.asarray(logits)
        self.probabilities = np.asarray(probabilities)
        self.target = target
        self.target_name = target_name

    def __getitem__(self, key: str) -> Explanation:
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"ExplanationSet({list(self._items)}, target={self.target_name!r})"

    def method(self, name: str) -> "Method":
        """The registry entry of a method in this set: what it declares it is."""
        return REGISTRY[name]

    def spatial(self) -> list[str]:
        """Methods with one map per frame, in the order they were asked for."""
        return [m for m, e in self._items.items() if e.maps is not None]

    def temporal(self, contributions_only: bool = False) -> list[str]:
        """Methods with one number per frame and no map; ``contributions_only`` keeps those
        whose numbers are contributions to the score (not, say, a running probability)."""
        return [m for m, e in self._items.items() if e.maps is None
                and (not contributions_only or REGISTRY[m].contribution)]

    def ranking(self) -> str | None:
        """The method that ranks this window's frames (key frames, the frame order shown):
        the first temporal method that ranks frames, else the first spatial one, else None."""
        for names in (self.temporal(), self.spatial()):
            for m in names:
                if REGISTRY[m].ranks_frames:
                    return m
        return None


@dataclass(frozen=True)
class Method:
    """A registry entry.

    Attributes:
        name: what users pick; ``label`` the readable name.
        kind: ``spatial`` (maps per frame) or ``temporal`` (one number per frame).
        fn: ``fn(ctx, **params) -> (maps | None, frame_scores, extra)``.
        defaults: parameters and their default values.
        shared: served by the one shared forward+backward pass (cheap).
        input_grad: needs the gradient down to the pixels (the expensive half of the backward
            pass); when no requested method does, the shared pass stops at the conv maps.
        needs: the model capabilities it needs (flags of
            :class:`~crnnaudit.model.Capabilities`, named in :data:`NEEDS`); :meth:`unavailable_on`
            is the one place that decides whether a model can serve it.
        costly: many passes through the CNN; batched, reports progress, cancellable.
        contribution: its per-frame numbers are contributions to the target's score (False
            for a running probability, which says when, not how much).
        ranks_frames: its per-frame numbers may rank frames (key frames, temporal deletion).
        convergence: the key in ``Explanation.extra`` of its convergence figure (e.g. the
            completeness gap of integrated gradients), or ``None``.
        reference: the paper it comes from.
    """

    name: str
    label: str
    kind: str
    fn: Callable
    defaults: dict
    shared: bool = False
    input_grad: bool = False
    needs: tuple[str, ...] = ()
    costly: bool = False
    contribution: bool = True
    ranks_frames: bool = True
    convergence: str | None = None
    reference: str = ""

    def unavailable_on(self, model) -> str | None:
        """Why this method cannot explain ``model`` (what it needs that the model lacks), or
        ``None`` when it can. Every page, command and figure asks this; none tests a name."""
        missing = [NEEDS[n] for n in self.needs if not getattr(model.capabilities, n)]
        if not missing:
            return None
        return f"method '{self.name}' needs {' and '.join(missing)}, and {model.name} has none"


#: What a method may need of a model: a flag of the model's capabilities, and its words.
NEEDS = {"spatial_cam": "a per-frame conv layer", "gradients": "gradients through the model",
         "temporal": "per-frame features that a temporal head reads"}


#: The modules that hold the built-in methods, in the pickers' order. Each ``@register`` in them
#: adds its method when the module is imported; a package of one's own adds methods through the
#: entry-point group :data:`ENTRY_POINTS` (``crnnaudit.methods = mine.methods``) instead.
METHOD_MODULES = ("crnnaudit.explainers.spatial", "crnnaudit.explainers.temporal")
ENTRY_POINTS = "crnnaudit.methods"


class _Registry(dict):
    """Method name -> :class:`Method`. The methods register when the registry is first read,
    not when this module is imported: they import the engine (TensorFlow), and code that only
    stores or erases explanations (the cache, erasure) must not pay for it. They are found by
    the list :data:`METHOD_MODULES` and the entry points, so this module imports none of them."""

    _loaded = False
    _loading = False  # the thread that holds the lock is importing the modules now
    _lock = threading.RLock()

    def _load(self) -> None:
        # Under the lock, and marked loaded only once every module has registered: the server's
        # sessions read the registry from several threads, and one that found it half-filled while
        # another imported TensorFlow would offer its auditor no methods. A module that reads the
        # registry while it registers (the same thread, the lock re-entered) sees what is there.
        if _Registry._loaded:
            return
        with _Registry._lock:
            if _Registry._loaded or _Registry._loading:
                return
            _Registry._loading = True
            try:
                import importlib
                from importlib.metadata import entry_points
                for name in METHOD_MODULES:
                    importlib.import_module(name)
                for point in entry_points(group=ENTRY_POINTS):
                    point.load()
                _Registry._loaded = True
            finally:
                _Registry._loading = False

    def __getitem__(self, key):
        self._load()
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self._load()
        return super().__contains__(key)

    def __iter__(self):
        self._load()
        return super().__iter__()

    def __len__(self) -> int:
        self._load()
        return super().__len__()

    def get(self, key, default=None):
        self._load()
        return super().get(key, default)

    def keys(self):
        self._load()
        return super().keys()

    def values(self):
        self._load()
        return super().values()

    def items(self):
        self._load()
        return super().items()


REGISTRY: dict[str, Method] = _Registry()
DEFAULT_METHODS = ("gradcam", "saliency", "frame_occlusion", "temporal_ig", "prefix_score")


def register(name: str, label: str, kind: str, *, defaults: dict | None = None, shared=False,
             input_grad=False, needs: tuple[str, ...] = (), costly=False, contribution=True, ranks_frames=True,
             convergence: str | None = None, reference=""):
    """Decorator: add a method to :data:`REGISTRY` with what it declares it is."""
    if kind not in ("spatial", "temporal"):
        raise ValueError(f"method '{name}': kind must be 'spatial' or 'temporal', got {kind!r}")
    unknown = sorted(set(needs) - set(NEEDS))
    if unknown:
        raise ValueError(f"method '{name}': unknown needs {unknown}; known: {sorted(NEEDS)}")

    def wrap(fn):
        dict.__setitem__(REGISTRY, name, Method(name, label, kind, fn, dict(defaults or {}), shared, input_grad,
                                                tuple(needs), costly, contribution, ranks_frames, convergence,
                                                reference))
        return fn
    return wrap


def available_methods(model) -> list[str]:
    """The registered methods that can explain ``model``, in the registry's order."""
    return [m for m, meta in REGISTRY.items() if not m.startswith("_") and meta.unavailable_on(model) is None]


def resolve_params(method: Method, params: dict | None) -> dict:
    params = dict(params or {})
    unknown = sorted(set(params) - set(method.defaults))
    if unknown:
        raise ExplanationError(f"method '{method.name}': unknown parameters {unknown}; "
                               f"it takes {sorted(method.defaults)}")
    out = dict(method.defaults)
    out.update(params)
    return out


class Progress:
    """Calls the user's ``progress(done, total)`` and honours cancellation."""

    def __init__(self, progress: Callable | None, cancel: Any | None):
        self.progress = progress
        self.cancel = cancel

    def check(self, what: str = "work"):
        from ..errors import Cancelled
        if self.cancel is not None and (self.cancel.is_set() if hasattr(self.cancel, "is_set") else self.cancel()):
            raise Cancelled(f"{what} cancelled by the user")

    def __call__(self, done: int, total: int, what: str = "work"):
        self.check(what)
        if self.progress:
            self.progress(done, total)

