"""The shared-pass engine: :class:`Context` (what a method may use) and :func:`explain`.

One forward and one backward pass serve ``saliency``, ``grad_x_input``, ``gradcam`` and
``gradcam_pp`` (see :mod:`.passes`). Temporal methods re-run only the head on the features
that pass left behind. Results are cached by content (:class:`.ExplanationCache`).
"""

from __future__ import annotations

import hashlib
import platform
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np

from .. import __version__
from ..errors import ExplanationError
from ..model import AuditedModel
from ..model.backend import BACKEND, to_numpy, versions as backend_versions
from ..footage.video import Window
from .base import (DEFAULT_METHODS, REGISTRY, Explanation, ExplanationSet, Progress,
                   resolve_params)
from .cache import ExplanationCache
from .passes import CompiledPasses, SharedPass, as_target


class Context:
    """What a method may use: the window, its model input, the target, and what the shared
    pass (or a plain forward pass) computed.

    The engine calls :meth:`run_shared_pass` or :meth:`forward` once before the methods run;
    ``features``, ``logits`` and ``target_logit`` are there for every method afterwards.
    """

    def __init__(self, model: AuditedModel, frames: np.ndarray, target: int, progress: Progress):
        self.model = model
        self.passes = CompiledPasses.of(model)
        self.frames = frames  # (T, H, W, 3) uint8
        self.x = model.prepare(frames)  # (T, H, W, C) float32
        self.target = target  # -1 until resolved: the predicted class
        self.progress = progress
        self.shared: SharedPass | None = None
        self.features: np.ndarray | None = None  # (T, *F)
        self.logits: np.ndarray | None = None  # (K,)

    def run_shared_pass(self, input_grad: bool) -> SharedPass:
        """The one forward + backward pass; resolves a ``-1`` target to the predicted class."""
        self.shared = self.passes.run_shared(self.x, self.target, input_grad)
        self.target, self.logits, self.features = self.shared.target, self.shared.logits, self.shared.features
        return self.shared

    def use_shared(self, shared: SharedPass) -> SharedPass:
        """A shared pass computed elsewhere for this window (a block of windows at once:
        :mod:`.blocks`)."""
        self.shared = shared
        self.target, self.logits, self.features = shared.target, shared.logits, shared.features
        return shared

    def use_maps(self, maps: np.ndarray) -> SharedPass:
        """The shared pass from conv maps computed once for the whole clip (no CNN here):
        see :meth:`CompiledPasses.run_from_maps`."""
        self.shared = self.passes.run_from_maps(maps, self.target)
        self.target, self.logits, self.features = self.shared.target, self.shared.logits, self.shared.features
        return self.shared

    def forward(self) -> None:
        """Forward only (features and logits), for requests with no gradient method."""
        self.features = self.model.frame_features(self.x)
        self.logits = self.model.head_logits(self.features[None])[0]
        if self.target < 0:
            self.target = self.model.default_target(self.logits)

    @property
    def target_logit(self) -> float:
        return float(self.logits[self.target])

    def run_head(self, fb: np.ndarray, batch: int = 256) -> np.ndarray:
        """Logits (numpy) for feature sequences ``(B, T, *F)``, in batches."""
        out = [self.model.head_logits(fb[i:i + batch]) for i in range(0, len(fb), batch)]
        return np.concatenate(out)

    def run_cnn(self, xf: np.ndarray, batch: int | None = None) -> np.ndarray:
        """Per-frame features (numpy) for preprocessed frames ``(N, H, W, C)``, batched
        (default: 64 frames on a CPU, what the GPU's free memory holds on one)."""
        batch = batch or self.model.batch_frames(default=64)
        return np.concatenate([self.model.frame_features(xf[i:i + batch])
                               for i in range(0, len(xf), batch)])

    def head_grads(self, fb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient of the target logit w.r.t. feature sequences ``(B, T, *F)``, and logits."""
        g, logits = self.passes.head_grad()(np.asarray(fb, np.float32), as_target(self.target))
        return to_numpy(g), to_numpy(logits)

    def input_grads(self, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient of the target logit w.r.t. whole windows ``(S, T, H, W, C)``, and logits."""
        g, logits = self.passes.input_grad()(np.asarray(xb, np.float32), as_target(self.target))
        return to_numpy(g), to_numpy(logits)


def versions() -> dict:
    return {"crnnaudit": __version__, **backend_versions(),
            "numpy": np.__version__, "python": platform.python_version()}


def resolve_target(model: AuditedModel, target, logits: np.ndarray | None) -> int:
    """``None`` -> predicted class / anomaly logit; a class name or index otherwise."""
    classes = model.card.classes
    if target is None:
        return model.default_target(logits)
    if isinstance(target, str):
        if target not in classes:
            raise ExplanationError(f"target class '{target}' is not one of {classes}")
        return classes.index(target)
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool) and 0 <= target < len(classes):
        return int(target)
    raise ExplanationError(f"target {target!r} must be a class name {classes} or an index "
                           f"0..{len(classes) - 1}")


@dataclass
class _Request:
    """One validated call of :func:`explain`."""

    model: AuditedModel
    frames: np.ndarray
    window: dict
    clip_sha256: str
    methods: list[str]
    params: dict[str, dict]
    target: int | None  # None: the predicted class / anomaly logit

    def cache_key(self, method: str) -> str:
        return ExplanationCache.key(model=self.model.sha256, clip=self.clip_sha256, window=self.window,
                                    method=method, params=self.params[method], target=self.target,
                                    version=__version__, preprocessing=self.model.card.preprocessing,
                                    backend=BACKEND)  # provenance names the backend that computed it

    def provenance(self, method: str) -> dict:
        return {"model_sha256": self.model.sha256, "clip_sha256": self.clip_sha256, "window": self.window,
                "versions": versions(), "method": method, "params": self.params[method]}


def explain(model: AuditedModel, window: Window | np.ndarray,
            methods: Iterable[str] | str = DEFAULT_METHODS, target=None,
            params: dict[str, dict] | None = None, progress: Callable[[int, int], None] | None = None,
            cancel=None, cache: ExplanationCache | bool | None = True) -> ExplanationSet:
    """Explain one window with several methods, sharing every pass that can be shared.

    Args:
        model: an :class:`~crnnaudit.AuditedModel`.
        window: a :class:`~crnnaudit.Window` or uint8 frames ``(T, H, W, 3)`` at model size.
        methods: registry names (see :data:`~crnnaudit.explainers.REGISTRY`).
        target: ``None`` (predicted class, or the anomaly logit of a sigmoid model), a class
            name, or an index. Gradients are taken on logits.
        params: per-method parameters, e.g. ``{"gradcam": {"pooled": True}}``.
        progress: ``progress(done, total)`` for costly methods.
        cancel: a ``threading.Event`` (or a callable returning True) that stops costly work.
        cache: ``True`` for the default on-disk cache, an :class:`ExplanationCache`, or
            ``False``/``None`` for none.

    Returns:
        An :class:`ExplanationSet` mapping method name to :class:`Explanation`.

    Raises:
        ExplanationError: unknown method or parameter, bad target, window of the wrong shape,
            a method the model cannot serve, non-finite values. Cancelled: cancelled.
    """
    request = _validate(model, window, methods, target, params)
    return _serve(request, open_cache(cache), Progress(progress, cancel))


def open_cache(cache: ExplanationCache | bool | None) -> ExplanationCache | None:
    return ExplanationCache.default() if cache is True else (cache or None)


def _serve(request: _Request, store: ExplanationCache | None, progress: Progress,
           maps: np.ndarray | None = None, shared: SharedPass | None = None,
           found: dict[str, Explanation] | None = None) -> ExplanationSet:
    """What the cache holds (``found``: already read from it), the rest computed (from ``maps``
    or a ``shared`` pass where given) and stored."""
    found = _from_cache(request, store) if found is None else found
    missing = [m for m in request.methods if m not in found]
    computed, logits = _compute(request, missing, progress, maps, shared) if missing else ({}, None)
    if store is not None:
        for m, exp in computed.items():
            store.put(request.cache_key(m), exp)
    return _assemble(request, {**found, **computed}, logits)


def _validate(model, window, methods, target, params) -> _Request:
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in REGISTRY]
    if unknown or not methods:
        raise ExplanationError(f"unknown methods {unknown or methods}; available: {sorted(REGISTRY)}")
    params = params or {}
    bad = sorted(set(params) - set(methods))
    if bad:
        raise ExplanationError(f"parameters given for {bad}, which were not asked for")
    for m in methods:
        why = REGISTRY[m].unavailable_on(model)
        if why:
            raise ExplanationError(f"{why}; use gradient or temporal methods")
    frames, desc, clip_hash = _check_window(model, window)
    resolved = {m: resolve_params(REGISTRY[m], params.get(m)) for m in methods}
    wanted = None if target is None else resolve_target(model, target, None)
    return _Request(model, frames, desc, clip_hash, methods, resolved, wanted)


def _check_window(model: AuditedModel, window) -> tuple[np.ndarray, dict, str]:
    if isinstance(window, Window):
        frames, desc, clip_hash = window.frames, window.describe(), window.clip_sha256
    else:
        frames = np.asarray(window)
        clip_hash = hashlib.sha256(np.ascontiguousarray(frames).tobytes()).hexdigest()
        desc = {"index": 0, "length": int(frames.shape[0]) if frames.ndim else 0, "source": "array",
                "clip_sha256": clip_hash}
    want = (model.window_length,) + model.frame_shape[:2] + (3,)
    if frames.ndim != 4 or frames.shape != want:
        raise ExplanationError(f"window of shape {tuple(frames.shape)} does not fit the model: "
                               f"expected {want} (frames, height, width, RGB); window the clip "
                               f"with clip.window(k, {model.window_length}, size={model.frame_size})")
    if frames.dtype != np.uint8:
        raise ExplanationError(f"window frames must be uint8 RGB, got {frames.dtype}")
    return frames, desc, clip_hash


def _from_cache(request: _Request, store: ExplanationCache | None) -> dict[str, Explanation]:
    if store is None:
        return {}
    return {m: hit for m in request.methods if (hit := store.get(request.cache_key(m))) is not None}


def first_target(request: _Request) -> int:
    """The target a pass is asked for: the one requested, the anomaly logit of a sigmoid
    model, or -1 (the predicted class, chosen inside the pass)."""
    if request.target is not None:
        return request.target
    return 0 if request.model.n_outputs == 1 else -1


def _compute(request: _Request, methods: list[str], progress: Progress, maps: np.ndarray | None = None,
             shared: SharedPass | None = None):
    """Run the shared pass (or a forward pass) once, then each method on its context.
    ``maps``: the window's conv maps (per-frame features without a conv layer), computed
    once for the whole clip; used unless a method needs the gradient down to the pixels.
    ``shared``: the window's shared pass with that gradient, computed with other windows'."""
    model = request.model
    ctx = Context(model, request.frames, first_target(request), progress)
    input_grad = any(REGISTRY[m].input_grad for m in methods)
    if shared is not None and (shared.grad_input is not None or not input_grad):
        ctx.use_shared(shared)
    elif maps is not None and not input_grad:
        ctx.use_maps(maps)
    elif any(REGISTRY[m].shared for m in methods):
        ctx.run_shared_pass(input_grad=input_grad)
    else:
        ctx.forward()
    out = {}
    for m in methods:
        progress.check(m)
        t0 = time.perf_counter()
        maps_m, scores, extra = REGISTRY[m].fn(ctx, **request.params[m])
        seconds = time.perf_counter() - t0
        maps_m = None if maps_m is None else np.asarray(maps_m, np.float32)
        scores = np.asarray(scores, np.float32)
        if (maps_m is not None and not np.all(np.isfinite(maps_m))) or not np.all(np.isfinite(scores)):
            raise ExplanationError(f"method '{m}' produced non-finite values on window "
                                   f"{request.window.get('index')}; the model's outputs may overflow")
        extra = dict(extra, logits=np.asarray(ctx.logits, np.float32))
        out[m] = Explanation(m, maps_m, scores, ctx.target, model.card.classes[ctx.target],
                             request.params[m], seconds, request.provenance(m), extra)
    return out, ctx.logits


def _assemble(request: _Request, found: dict[str, Explanation], logits) -> ExplanationSet:
    first = found[request.methods[0]]
    logits = first.extra["logits"] if logits is None else logits
    probs = request.model.probabilities(np.asarray(logits)[None])[0]
    return ExplanationSet({m: found[m] for m in request.methods}, window=request.window, logits=logits,
                          probabilities=probs, target=first.target, target_name=first.target_name)
