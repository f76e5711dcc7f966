"""The shared-pass engine.

One forward and one backward pass serve ``saliency``, ``grad_x_input``, ``gradcam`` and
``gradcam_pp``: one tape records conv maps ``A_t`` of every frame, the per-frame features, the
head's logits, and returns d(target logit)/d(input) and d(target logit)/d(A_t) together.
Temporal methods re-run only the head on the cached features. Compiled functions are built
once per model (``AuditedModel.compiled``) and reused.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Iterable

import keras
import numpy as np
import tensorflow as tf

from .. import __version__
from ..config import home
from ..errors import ExplanationError
from ..model import AuditedModel
from ..video import Window
from .base import (DEFAULT_METHODS, REGISTRY, Explanation, ExplanationSet, Progress,
                   resolve_params)
from .cache import ExplanationCache


@dataclass
class SharedPass:
    logits: np.ndarray  # (K,)
    maps: np.ndarray | None  # (T, h, w, c) conv maps
    features: np.ndarray  # (T, *F)
    grad_input: np.ndarray | None  # (T, H, W, C); None when no method needed it
    grad_maps: np.ndarray | None  # (T, h, w, c)


def _shared_fn(model: AuditedModel, input_grad: bool = True):
    conv, pool, head = model.conv, model.pool, model.head
    input_grad = input_grad or conv is None  # without conv maps the input is all there is

    @tf.function(reduce_retracing=True, autograph=False)
    def run(x, target):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(x)
            if conv is not None:
                a = conv(x, training=False)
                tape.watch(a)
                f = pool(a, training=False)
            else:
                a = tf.zeros((0,))
                f = pool(x, training=False)
            logits = head(f[None], training=False)[0]
            # target < 0: the predicted class, chosen inside the pass (no extra forward)
            target = tf.where(target < 0, tf.cast(tf.argmax(logits), tf.int32), target)
            y = tf.gather(logits, target)
        if conv is not None and input_grad:
            gx, ga = tape.gradient(y, [x, a])
        elif conv is not None:  # stop at the conv maps: no backward through the CNN
            gx, ga = tf.zeros((0,)), tape.gradient(y, a)
        else:
            gx, ga = tape.gradient(y, x), tf.zeros((0,))
        return logits, a, f, gx, ga, target
    return run


def _target_grad_fn(logits_of):
    """Compiled: gradient of the summed target logit w.r.t. the batch that ``logits_of`` maps
    to logits ``(B, K)``, and the logits."""
    @tf.function(reduce_retracing=True, autograph=False)
    def run(batch, target):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(batch)
            logits = logits_of(batch)
            y = tf.reduce_sum(tf.gather(logits, target, axis=1))
        return tape.gradient(y, batch), logits
    return run


def _input_grad_fn(model: AuditedModel):
    """For a batch of windows ``(S, T, H, W, C)``: each frame through the CNN, then the head."""
    def logits_of(xb):
        s, t = tf.shape(xb)[0], tf.shape(xb)[1]
        f = model.frame_features(tf.reshape(xb, tf.concat([[s * t], tf.shape(xb)[2:]], 0)))
        return model.head(tf.reshape(f, tf.concat([[s, t], tf.shape(f)[1:]], 0)), training=False)
    return _target_grad_fn(logits_of)


def _head_grad_fn(model: AuditedModel):
    """For a batch of feature sequences ``(B, T, *F)``: the head only."""
    def logits_of(fb):
        return model.head(fb, training=False)
    return _target_grad_fn(logits_of)


class Context:
    """What a method may use: the window, its model input, the target, and the shared pass.

    Everything is computed on first use and kept, so methods that run together share it.
    """

    def __init__(self, model: AuditedModel, frames: np.ndarray, target: int, progress: Progress,
                 input_grad: bool = True):
        self.model = model
        self.input_grad = input_grad
        self.frames = frames  # (T, H, W, 3) uint8
        self.x = model.prepare(frames)  # (T, H, W, C) float32
        self.target = target  # -1 until resolved: the predicted class
        self.progress = progress
        self._features: np.ndarray | None = None
        self.logits: np.ndarray | None = None

    @cached_property
    def shared(self) -> SharedPass:
        """The one forward + backward pass; resolves a ``-1`` target to the predicted class."""
        want = self.input_grad or self.model.conv is None
        fn = self.model.compiled(f"shared:{want}", lambda: _shared_fn(self.model, want))
        logits, a, f, gx, ga, target = fn(tf.constant(self.x), tf.constant(self.target, tf.int32))
        has_conv = self.model.conv is not None
        self.target = int(target)
        self.logits = logits.numpy()
        self._features = f.numpy()
        return SharedPass(self.logits, a.numpy() if has_conv else None, self._features,
                          gx.numpy() if want else None, ga.numpy() if has_conv else None)

    def forward(self) -> None:
        """Forward only (features and logits), for requests with no gradient method."""
        if self._features is None:
            self._features = self.model.frame_features(self.x).numpy()
            self.logits = self.model.head_logits(self._features[None]).numpy()[0]
            if self.target < 0:
                self.target = self.model.default_target(self.logits)

    @property
    def features(self) -> np.ndarray:
        if self._features is None:
            self.forward()
        return self._features

    @property
    def target_logit(self) -> float:
        if self.logits is None:
            self.forward()
        return float(self.logits[self.target])

    def head_logits(self, fb: np.ndarray, batch: int = 256) -> np.ndarray:
        """Logits for feature sequences ``(B, T, *F)``, in batches."""
        out = [self.model.head_logits(fb[i:i + batch]).numpy() for i in range(0, len(fb), batch)]
        return np.concatenate(out)

    def head_grads(self, fb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fn = self.model.compiled("head_grad", lambda: _head_grad_fn(self.model))
        g, logits = fn(tf.constant(fb, tf.float32), tf.constant(self.target))
        return g.numpy(), logits.numpy()

    def input_grads(self, xb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fn = self.model.compiled("input_grad", lambda: _input_grad_fn(self.model))
        g, logits = fn(tf.constant(xb, tf.float32), tf.constant(self.target))
        return g.numpy(), logits.numpy()

    def frame_features(self, xf: np.ndarray, batch: int = 64, what: str = "work",
                       done0: int = 0, total: int | None = None) -> np.ndarray:
        """Per-frame features for preprocessed frames ``(N, H, W, C)``, batched, with progress."""
        out = []
        for i in range(0, len(xf), batch):
            out.append(self.model.frame_features(xf[i:i + batch]).numpy())
            self.progress(done0 + min(i + batch, len(xf)), total or len(xf), what)
        return np.concatenate(out)


def versions() -> dict:
    return {"crnnaudit": __version__, "tensorflow": tf.__version__, "keras": keras.__version__,
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


def _check_window(model: AuditedModel, window) -> tuple[np.ndarray, dict, str]:
    if isinstance(window, Window):
        frames, desc, clip_hash = window.frames, window.describe(), window.clip_sha256
    else:
        frames = np.asarray(window)
        import hashlib
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


_default_cache: ExplanationCache | None = None


def default_cache() -> ExplanationCache:
    global _default_cache
    folder = home() / "cache" / "explanations"
    if _default_cache is None or _default_cache.folder != folder:
        _default_cache = ExplanationCache(folder)
    return _default_cache


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
    methods = [methods] if isinstance(methods, str) else list(methods)
    unknown = [m for m in methods if m not in REGISTRY]
    if unknown or not methods:
        raise ExplanationError(f"unknown methods {unknown or methods}; available: {sorted(REGISTRY)}")
    params = params or {}
    bad = sorted(set(params) - set(methods))
    if bad:
        raise ExplanationError(f"parameters given for {bad}, which were not asked for")
    resolved = {m: resolve_params(REGISTRY[m], params.get(m)) for m in methods}
    for m in methods:
        if REGISTRY[m].needs_conv and model.conv is None:
            raise ExplanationError(f"method '{m}' needs a per-frame conv layer, and {model._name()} "
                                   "has none; use gradient or temporal methods")
    frames, desc, clip_hash = _check_window(model, window)
    requested = None if target is None else resolve_target(model, target, None)
    store = default_cache() if cache is True else (cache or None)
    provenance = {"model_sha256": model.sha256, "clip_sha256": clip_hash, "window": desc,
                  "versions": versions()}
    keys = {m: ExplanationCache.key(model=model.sha256, clip=clip_hash, window=desc, method=m,
                                    params=resolved[m], target=requested, version=__version__,
                                    preprocessing=model.card.preprocessing)
            for m in methods}
    out: dict[str, Explanation] = {}
    if store is not None:
        out = {m: hit for m in methods if (hit := store.get(keys[m])) is not None}
    missing = [m for m in methods if m not in out]
    logits = None
    if missing:
        first = requested if requested is not None else (0 if model.n_outputs == 1 else -1)
        ctx = Context(model, frames, first, Progress(progress, cancel),
                      input_grad=any(REGISTRY[m].input_grad for m in missing))
        if any(REGISTRY[m].shared for m in missing):
            ctx.shared  # noqa: B018 - one forward + backward, target resolved inside
        else:
            ctx.forward()
        logits = ctx.logits
        target_name = model.card.classes[ctx.target]
        for m in missing:
            ctx.progress.check(m)
            t0 = time.perf_counter()
            maps, scores, extra = REGISTRY[m].fn(ctx, **resolved[m])
            seconds = time.perf_counter() - t0
            maps = None if maps is None else np.asarray(maps, np.float32)
            scores = np.asarray(scores, np.float32)
            if (maps is not None and not np.all(np.isfinite(maps))) or not np.all(np.isfinite(scores)):
                raise ExplanationError(f"method '{m}' produced non-finite values on window "
                                       f"{desc.get('index')}; the model's outputs may overflow")
            extra = dict(extra, logits=np.asarray(logits, np.float32))
            exp = Explanation(m, maps, scores, ctx.target, target_name, resolved[m], seconds,
                              dict(provenance, method=m, params=resolved[m]), extra)
            if store is not None:
                store.put(keys[m], exp)
            out[m] = exp
    any_exp = out[methods[0]]
    if logits is None:
        logits = any_exp.extra["logits"]
    probs = model.probabilities(np.asarray(logits)[None])[0]
    return ExplanationSet({m: out[m] for m in methods}, window=desc, logits=logits,
                          probabilities=probs, target=any_exp.target,
                          target_name=any_exp.target_name)
