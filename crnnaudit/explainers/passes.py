"""The compiled gradient passes, built once per model and kept in their own cache.

- :meth:`CompiledPasses.shared`: one forward and one backward pass for a window; the
  gradient of the target logit with respect to the input and to every frame's conv maps
  comes from the same tape (``input_grad=False`` stops the backward at the conv maps).
- :meth:`CompiledPasses.head_grad`: gradient of the target logit for a batch of feature
  sequences (the head only).
- :meth:`CompiledPasses.input_grad`: the same for a batch of whole windows (every frame
  through the CNN, then the head).

Each is a ``tf.function`` (shapes retrace as usual); :meth:`CompiledPasses.of` keeps one set
per model for as long as the model lives.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from ..model import AuditedModel


@dataclass
class SharedPass:
    """What the shared pass computed for one window."""

    logits: np.ndarray  # (K,)
    target: int  # the target, resolved to the predicted class when asked for -1
    maps: np.ndarray | None  # (T, h, w, c) conv maps; None without a conv layer
    features: np.ndarray  # (T, *F)
    grad_input: np.ndarray | None  # (T, H, W, C); None when no method needed it
    grad_maps: np.ndarray | None  # (T, h, w, c)


class CompiledPasses:
    """The gradient passes of one model. Use :meth:`of`, not the constructor."""

    _by_model: "weakref.WeakKeyDictionary[AuditedModel, CompiledPasses]" = weakref.WeakKeyDictionary()

    def __init__(self, model: AuditedModel):
        self._model = weakref.ref(model)  # a strong one would keep the cache key alive
        self._shared: dict[bool, object] = {}  # input_grad -> compiled pass
        self._head_grad = self._input_grad = self._from_maps = self._conv = None

    @property
    def model(self) -> AuditedModel:
        return self._model()

    @classmethod
    def of(cls, model: AuditedModel) -> "CompiledPasses":
        passes = cls._by_model.get(model)
        if passes is None:
            passes = cls._by_model[model] = cls(model)
        return passes

    def run_shared(self, x: np.ndarray, target: int, input_grad: bool) -> SharedPass:
        """The one forward + backward pass on preprocessed frames ``(T, H, W, C)``.

        Args:
            target: a class index, or -1 for the predicted class (chosen inside the pass).
            input_grad: also take the gradient down to the pixels (the costly half).
        """
        input_grad = input_grad or self.model.conv is None  # without conv maps, only the input
        logits, a, f, gx, ga, t = self.shared(input_grad)(tf.constant(x), tf.constant(target, tf.int32))
        has_conv = self.model.conv is not None
        return SharedPass(logits.numpy(), int(t), a.numpy() if has_conv else None, f.numpy(),
                          gx.numpy() if input_grad else None, ga.numpy() if has_conv else None)

    def shared(self, input_grad: bool):
        if input_grad not in self._shared:
            self._shared[input_grad] = self._build_shared(input_grad)
        return self._shared[input_grad]

    def _build_shared(self, input_grad: bool):
        conv, pool, head = self.model.conv, self.model.pool, self.model.head

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
                target = tf.where(target < 0, tf.cast(tf.argmax(logits), tf.int32), target)
                y = tf.gather(logits, target)
            if conv is not None and input_grad:
                gx, ga = tape.gradient(y, [x, a])
            elif conv is not None:  # stop at the conv maps: no backward through the CNN
                gx, ga = tf.zeros((0,)), tape.gradient(y, a)
            else:
                gx, ga = tape.gradient(y, x), tf.zeros((0,))
            return logits, a, f, gx, ga, target
        return tf.function(run, reduce_retracing=True, autograph=False)

    def conv_maps(self, x: np.ndarray) -> np.ndarray:
        """Conv maps ``(N, h, w, c)`` of preprocessed frames (forward only, compiled)."""
        if self._conv is None:
            conv = self.model.conv

            def maps_of(z):
                return conv(z, training=False)
            self._conv = tf.function(maps_of, reduce_retracing=True, autograph=False)
        return self._conv(tf.constant(x, tf.float32)).numpy()

    def run_from_maps(self, maps: np.ndarray, target: int) -> SharedPass:
        """The shared pass for a window whose conv maps ``(T, h, w, c)`` are already known (a
        clip's frames went through the CNN once): only the pooling and the head run, forward
        and backward. Without a conv layer, ``maps`` are the per-frame features and only the
        head runs. Gives what :meth:`run_shared` gives with ``input_grad=False``."""
        if self._from_maps is None:
            self._from_maps = self._build_from_maps()
        logits, f, ga, t = self._from_maps(tf.constant(maps, tf.float32), tf.constant(target, tf.int32))
        has_conv = self.model.conv is not None
        return SharedPass(logits.numpy(), int(t), maps if has_conv else None, f.numpy(), None,
                          ga.numpy() if has_conv else None)

    def _build_from_maps(self):
        has_conv, pool, head = self.model.conv is not None, self.model.pool, self.model.head

        def run(a, target):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(a)
                f = pool(a, training=False) if has_conv else a
                logits = head(f[None], training=False)[0]
                target = tf.where(target < 0, tf.cast(tf.argmax(logits), tf.int32), target)
                y = tf.gather(logits, target)
            return logits, f, tape.gradient(y, a), target
        return tf.function(run, reduce_retracing=True, autograph=False)

    def head_grad(self):
        """``(gradient, logits)`` for feature sequences ``(B, T, *F)`` and a target."""
        if self._head_grad is None:
            head = self.model.head

            def logits_of(fb):
                return head(fb, training=False)
            self._head_grad = _target_grad(logits_of)
        return self._head_grad

    def input_grad(self):
        """``(gradient, logits)`` for windows ``(S, T, H, W, C)`` and a target."""
        if self._input_grad is None:
            self._input_grad = _target_grad(self._window_logits)
        return self._input_grad

    def _window_logits(self, xb):
        model = self.model
        s, t = tf.shape(xb)[0], tf.shape(xb)[1]
        f = model.frame_features(tf.reshape(xb, tf.concat([[s * t], tf.shape(xb)[2:]], 0)))
        return model.head(tf.reshape(f, tf.concat([[s, t], tf.shape(f)[1:]], 0)), training=False)


def _target_grad(logits_of):
    """Compiled: gradient of the summed target logit w.r.t. the batch that ``logits_of`` maps
    to logits ``(B, K)``, and the logits."""
    def run(batch, target):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(batch)
            logits = logits_of(batch)
            y = tf.reduce_sum(tf.gather(logits, target, axis=1))
        return tape.gradient(y, batch), logits
    return tf.function(run, reduce_retracing=True, autograph=False)
