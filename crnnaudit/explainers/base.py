"""Explanations, the method registry, and targets.

A method is one small function plus a registry entry (``@register``). The engine hands it a
:class:`Context` holding what the shared pass already computed (logits, conv maps, features,
gradients), so most methods are a few lines. The UI builds its pickers from :data:`REGISTRY`.
"""

from __future__ import annotations

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
        needs_conv: needs conv maps (Grad-CAM family).
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
    needs_conv: bool = False
    costly: bool = False
    contribution: bool = True
    ranks_frames: bool = True
    convergence: str | None = None
    reference: str = ""


REGISTRY: dict[str, Method] = {}
DEFAULT_METHODS = ("gradcam", "saliency", "frame_occlusion", "temporal_ig", "prefix_score")


def register(name: str, label: str, kind: str, *, defaults: dict | None = None, shared=False,
             input_grad=False, needs_conv=False, costly=False, contribution=True, ranks_frames=True,
             convergence: str | None = None, reference=""):
    """Decorator: add a method to :data:`REGISTRY` with what it declares it is."""
    if kind not in ("spatial", "temporal"):
        raise ValueError(f"method '{name}': kind must be 'spatial' or 'temporal', got {kind!r}")

    def wrap(fn):
        REGISTRY[name] = Method(name, label, kind, fn, dict(defaults or {}), shared, input_grad,
                                needs_conv, costly, contribution, ranks_frames, convergence, reference)
        return fn
    return wrap


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

