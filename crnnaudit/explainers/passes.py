"""The compiled gradient passes, built once per model and kept in their own cache.

- :meth:`CompiledPasses.shared`: one forward and one backward pass for a window; the
  gradient of the target logit with respect to the input and to every frame's conv maps
  comes from the same tape (``input_grad=False`` stops the backward at the conv maps).
- :meth:`CompiledPasses.head_grad`: gradient of the target logit for a batch of feature
  sequences (the head only).
- :meth:`CompiledPasses.input_grad`: the same for a batch of whole windows (every frame
  through the CNN, then the head).
- :meth:`CompiledPasses.block`: the shared passes of a block of windows from one forward pass
  of their frames (see :mod:`.blocks`).

Written once over ``keras.ops``: every gradient is a vector-Jacobian product from
:mod:`crnnaudit.model.backend` (``GradientTape``, ``jax.vjp`` or ``torch.autograd``), and each
pass is compiled there (``tf.function``, ``jax.jit`` over the weights' values, or eager). The
gradient to the conv maps and to the input come from one chain: the head's pullback gives
the maps' gradient, the CNN's pullback carries it on to the pixels.
:meth:`CompiledPasses.of` keeps one set per model for as long as the model lives; the sessions of
one server share it from their own threads, so each pass is built once, under a lock, and the
block passes (one per layout of window starts) are kept for the :data:`BLOCK_LAYOUTS` last used.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from keras import ops

from ..model import AuditedModel
from ..model.backend import ADAPTER, to_numpy

# Block passes kept per model: a clip's blocks take one or two layouts (full blocks and its
# tail), so a few cover the clips being explained; each holds a traced graph of its own.
BLOCK_LAYOUTS = 8


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
    _by_model_lock = threading.Lock()

    def __init__(self, model: AuditedModel):
        self._model = weakref.ref(model)  # a strong one would keep the cache key alive
        self._shared: dict[bool, object] = {}  # input_grad -> compiled pass
        self._head_grad = self._input_grad = self._from_maps = self._conv = None
        self._block: OrderedDict[tuple, object] = OrderedDict()  # windows' starts -> block pass, last used last
        self._lock = threading.RLock()  # one build of each pass, whichever session's thread asks first

    @property
    def model(self) -> AuditedModel:
        return self._model()

    @classmethod
    def of(cls, model: AuditedModel) -> "CompiledPasses":
        with cls._by_model_lock:  # two sessions asking at once get one set, compiled once
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
        logits, a, f, gx, ga, t = self.shared(input_grad)(np.asarray(x, np.float32), as_target(target))
        has_conv = self.model.conv is not None
        return SharedPass(to_numpy(logits), int(to_numpy(t)), to_numpy(a) if has_conv else None,
                          to_numpy(f), to_numpy(gx) if input_grad else None,
                          to_numpy(ga) if has_conv else None)

    def shared(self, input_grad: bool):
        with self._lock:
            if input_grad not in self._shared:
                self._shared[input_grad] = self._build_shared(input_grad)
            return self._shared[input_grad]

    def _parts(self):
        return (self.model.conv, self.model.pool, self.model.head)

    def _build_shared(self, input_grad: bool):
        conv, pool, head = self._parts()
        from_maps = _head_pass(pool, head)  # without conv the "maps" are the frames

        def conv_of(x):
            return conv(x, training=False)

        def run(x, target):
            if conv is None:  # the "maps" are the frames: the head pass reaches the input
                logits, f, gx, t = from_maps(x, target)
                return logits, ops.zeros((0,)), f, gx, ops.zeros((0,)), t
            if not input_grad:  # stop at the conv maps: no backward through the CNN
                a = conv_of(x)
                logits, f, ga, t = from_maps(a, target)
                return logits, a, f, ops.zeros((0,)), ga, t
            a, pullback = ADAPTER.vjp(conv_of, x)
            logits, f, ga, t = from_maps(a, target)
            return logits, a, f, pullback(ga)[0], ga, t
        return ADAPTER.compile(run, self._parts())

    def conv_maps(self, x: np.ndarray) -> np.ndarray:
        """Conv maps ``(N, h, w, c)`` of preprocessed frames (forward only, compiled)."""
        with self._lock:
            if self._conv is None:
                conv = self.model.conv

                def maps_of(z):
                    return conv(z, training=False)
                self._conv = ADAPTER.compile(maps_of, [conv])
        return to_numpy(self._conv(np.asarray(x, np.float32)))

    def run_from_maps(self, maps: np.ndarray, target: int) -> SharedPass:
        """The shared pass for a window whose conv maps ``(T, h, w, c)`` are already known (a
        clip's frames went through the CNN once): only the pooling and the head run, forward
        and backward. Without a conv layer, ``maps`` are the per-frame features and only the
        head runs. Gives what :meth:`run_shared` gives with ``input_grad=False``."""
        with self._lock:
            if self._from_maps is None:
                has_conv, pool, head = self.model.conv is not None, self.model.pool, self.model.head
                self._from_maps = ADAPTER.compile(_head_pass(pool if has_conv else None, head), [pool, head])
        logits, f, ga, t = self._from_maps(np.asarray(maps, np.float32), as_target(target))
        has_conv = self.model.conv is not None
        return SharedPass(to_numpy(logits), int(to_numpy(t)), maps if has_conv else None,
                          to_numpy(f), None, to_numpy(ga) if has_conv else None)

    def block(self, starts: tuple[int, ...]):
        """The block pass of :mod:`.blocks` for windows starting at ``starts`` (relative to the
        block): many windows' shared passes from one forward pass of their frames. The
        :data:`BLOCK_LAYOUTS` layouts last used are kept."""
        with self._lock:
            if starts in self._block:
                self._block.move_to_end(starts)
                return self._block[starts]
            run = _block_pass(*self._parts(), tuple(self.model.feature_shape), self.model.window_length, starts)
            fn = self._block[starts] = ADAPTER.compile(run, self._parts())
            while len(self._block) > BLOCK_LAYOUTS:
                self._block.popitem(last=False)
            return fn

    def head_grad(self):
        """``(gradient, logits)`` for feature sequences ``(B, T, *F)`` and a target."""
        with self._lock:
            if self._head_grad is None:
                head = self.model.head

                def logits_of(fb):
                    return head(fb, training=False)
                self._head_grad = ADAPTER.compile(_target_grad(logits_of), [head])
            return self._head_grad

    def input_grad(self):
        """``(gradient, logits)`` for windows ``(S, T, H, W, C)`` and a target."""
        with self._lock:
            if self._input_grad is None:
                def window_logits(xb):  # through the weak reference: the cache must not keep the model alive
                    return self.model.window_logits_op(xb)
                self._input_grad = ADAPTER.compile(_target_grad(window_logits), self._parts())
            return self._input_grad


def as_target(target: int) -> np.ndarray:
    """A target as the passes take it: an int32 scalar (a Python int would recompile per class)."""
    return np.asarray(target, np.int32)


def _resolve(logits, target):
    """``target``, or the arg-max class where it is -1 (inside the compiled pass)."""
    return ops.where(target < 0, ops.cast(ops.argmax(logits), "int32"), target)


def _head_pass(pool, head):
    """``(maps, target) -> (logits, features, d target logit / d maps, target)`` for one
    window; ``pool=None`` when the maps already are the features."""
    def logits_of(a):
        f = pool(a, training=False) if pool is not None else a
        return head(f[None], training=False)[0], f

    def run(a, target):
        (logits, f), pullback = ADAPTER.vjp(logits_of, a, has_aux=True)
        t = _resolve(logits, target)
        (ga,) = pullback(ops.one_hot(t, logits.shape[-1], dtype=logits.dtype))
        return logits, f, ga, t
    return run


def _target_grad(logits_of):
    """Gradient of the summed target logit w.r.t. the batch that ``logits_of`` maps to logits
    ``(B, K)``, and the logits (compile the result)."""
    def run(batch, target):
        logits, pullback = ADAPTER.vjp(logits_of, batch)
        onehot = ops.zeros_like(logits) + ops.one_hot(target, logits.shape[-1], dtype=logits.dtype)
        return pullback(onehot)[0], logits
    return run


def segments(starts: list[int], length: int) -> list[tuple[int, int]]:
    """The block's frames cut wherever a window (ascending ``starts``, relative to the block)
    starts or ends: every window is a run of whole segments."""
    cuts = sorted(set(starts) | {s + length for s in starts})
    return list(zip(cuts[:-1], cuts[1:]))


def _block_pass(conv, pool, head, feature_shape: tuple, length: int, starts: tuple[int, ...]):
    """The block pass of :mod:`.blocks` for windows starting at ``starts`` (relative to the
    block, ascending, every frame of the block in some window): ``(x, target) -> (logits,
    maps, features, grad_input, grad_maps, targets)``, per window. The frames go through the
    CNN forward once, in segments cut where a window starts or ends; each window pulls back
    through the segments it holds, so no frame's backward pass runs for a window without it.
    Compile one per layout of starts."""
    cuts = segments(list(starts), length)
    idx = np.asarray(starts, np.int32)[:, None] + np.arange(length, dtype=np.int32)[None]

    def conv_of(x):
        return conv(x, training=False)

    def window_logits(aw):  # (B, T, h, w, c) -> logits (B, K), features (B, T, *F)
        f = pool(ops.reshape(aw, (-1,) + tuple(aw.shape[2:])), training=False)
        f = ops.reshape(f, (-1, length) + tuple(feature_shape))
        return head(f, training=False), f

    def run(x, target):
        pieces = [ADAPTER.vjp(conv_of, x[b0:b1]) for b0, b1 in cuts]  # forward once, per segment
        a = ops.concatenate([m for m, _ in pieces], axis=0)
        aw = ops.reshape(ops.take(a, idx.reshape(-1), axis=0), (len(starts), length) + tuple(a.shape[1:]))
        (logits, f), head_pullback = ADAPTER.vjp(window_logits, aw, has_aux=True)
        t = ops.where(target < 0, ops.cast(ops.argmax(logits, axis=-1), "int32"), target)
        (ga,) = head_pullback(ops.one_hot(t, logits.shape[-1], dtype=logits.dtype))
        gx = []
        for w, s in enumerate(starts):  # each window back through its own segments
            gx.append(ops.concatenate([pullback(ga[w, b0 - s:b1 - s])[0] for (b0, b1), (_, pullback)
                                       in zip(cuts, pieces) if s <= b0 and b1 <= s + length], axis=0))
        return logits, aw, f, ops.stack(gx), ga, t
    return run
