"""What Keras does not abstract across its backends, in one small adapter per backend.

The explanation engine's passes are written once over ``keras.ops``; three things differ by
backend and live here:

- :meth:`Adapter.compile`: ``tf.function`` (TensorFlow), ``jax.jit`` over the weights' current
  values (JAX: the weights are arguments, not constants folded into the compiled code, so a
  randomised or fine-tuned model is seen as it is now), plain eager calls (PyTorch);
- :meth:`Adapter.vjp`: a vector-Jacobian product, the one primitive every gradient here is
  built from (``GradientTape``, ``jax.vjp``, ``torch.autograd.grad``);
- :func:`to_numpy`: a tensor of any backend, read back.

``KERAS_BACKEND`` chooses the backend before Keras is first imported (TensorFlow by default,
the mission's stack); :data:`ADAPTER` is the one for the backend Keras runs on. Compare
Captum's ``_forward_layer_eval`` / ``compute_gradients`` pair: the same two primitives, for
PyTorch only.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import keras
import numpy as np

from ..errors import ModelError


def to_numpy(x) -> np.ndarray:
    """A tensor of the running backend (or an array) as a numpy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


@dataclass(frozen=True)
class Accelerator:
    """A GPU: its name, its free memory in bytes (None where the backend cannot say) and what
    the backend holds on it now."""

    name: str
    free_bytes: int | None
    used_bytes: int


#: the share of a GPU's free memory one batch may take (the rest: weights, workspace, the
#: backend's own pools); where the backend cannot say what is free, a fixed budget
MEMORY_SHARE, UNKNOWN_FREE_BYTES = 0.5, 4 << 30
#: a cap on a batch of frames on a GPU (a CPU keeps its measured defaults): each new batch size
#: is compiled once, and where throughput stops growing is what bench_gpu.py's sweep shows
#: (not yet measured on a GPU)
MAX_BATCH_FRAMES = 2048


def frame_bytes(layers: Iterable, gradients: bool) -> int:
    """Bytes one frame's activations take in the per-frame layers (float32), three times
    that when a backward pass keeps them and their gradients."""
    total = 0
    for layer in layers:
        try:
            shape = layer.output.shape[1:]
        except (AttributeError, ValueError):
            continue
        if all(isinstance(d, int) for d in shape):
            total += int(np.prod(shape, dtype=np.int64))
    return 4 * total * (3 if gradients else 1)


@functools.lru_cache(maxsize=1)
def on_accelerator() -> bool:
    """Whether the backend computes on a GPU (asked once per process)."""
    return ADAPTER.accelerator() is not None


def batch_frames(layers: Iterable, gradients: bool, default: int) -> int:
    """How many frames one batch of the CNN takes: ``default`` on a CPU (the measured best
    there); on a GPU, as many as :data:`MEMORY_SHARE` of its free memory holds."""
    if not on_accelerator():
        return default
    device = ADAPTER.accelerator()
    if device is None:
        return default
    per_frame = max(1, frame_bytes(layers, gradients))
    free = device.free_bytes if device.free_bytes is not None else UNKNOWN_FREE_BYTES
    return int(min(MAX_BATCH_FRAMES, max(default, MEMORY_SHARE * free // per_frame)))


def _variables(sources: Iterable) -> list:
    """Every weight variable of the given Keras models or layers, once each, in order."""
    seen: dict[int, object] = {}
    for src in sources:
        if src is not None:
            for v in src.variables:
                seen.setdefault(id(v), v)
    return list(seen.values())


class Adapter:
    """The backend-specific half of a pass. Subclasses: one per Keras backend."""

    name = "?"

    def compile(self, fn: Callable, weights_of: Sequence = ()) -> Callable:
        """``fn`` compiled; the result takes numpy arrays (or tensors) and returns tensors.

        Args:
            weights_of: the Keras models whose weights ``fn`` reads (JAX passes their current
                values in on every call; the others read the variables directly).
        """
        raise NotImplementedError

    def vjp(self, fn: Callable, *primals, has_aux: bool = False):
        """``(out, pullback)``: ``out = fn(*primals)`` and ``pullback(cotangent)``, the tuple of
        gradients of ``<out, cotangent>`` with respect to each primal; it may be called more
        than once (several cotangents, one forward pass). With ``has_aux``, ``fn`` returns
        ``(y, aux)``, ``out`` is that pair and the gradient is of ``y`` alone."""
        raise NotImplementedError

    def inference(self):
        """A context in which forward passes record nothing for a backward pass."""
        return contextlib.nullcontext()

    def version(self) -> str:
        raise NotImplementedError

    def limit_threads(self, threads: int) -> None:
        """At most ``threads`` threads inside one operation (a Ray worker's share of the cores).
        JAX takes its CPU threads from ``XLA_FLAGS`` at start; nothing to do here."""

    def accelerator(self) -> Accelerator | None:
        """The first GPU the backend computes on, with its free memory, or None (CPU)."""
        return None


class TensorFlowAdapter(Adapter):
    name = "tensorflow"

    def compile(self, fn, weights_of=()):
        import tensorflow as tf
        # Named functions, not lambdas, go in here: autograph reads a lambda's source and, with
        # two lambdas close together, compiled the wrong one (conv was skipped). Autograph off.
        return tf.function(fn, reduce_retracing=True, autograph=False)

    def vjp(self, fn, *primals, has_aux=False):
        import tensorflow as tf
        primals = [tf.convert_to_tensor(p) for p in primals]
        # persistent: a pullback may be called more than once (one forward, several
        # cotangents); inside a compiled function that keeps nothing the graph does not need
        with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            for p in primals:
                tape.watch(p)
            out = fn(*primals)
        y = out[0] if has_aux else out

        def pullback(cotangent):
            return tuple(tape.gradient(y, primals, output_gradients=cotangent))
        return out, pullback

    def version(self):
        import tensorflow as tf
        return tf.__version__

    def limit_threads(self, threads):
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)

    def accelerator(self):
        import tensorflow as tf
        gpus = tf.config.list_logical_devices("GPU")
        if not gpus:
            return None
        # TensorFlow reports what it holds, not what the card has free; its allocator grows
        # into the card, so the budget is a fixed share it is known to get.
        used = tf.config.experimental.get_memory_info(gpus[0].name)["current"]
        return Accelerator(gpus[0].name, None, used)


class JaxAdapter(Adapter):
    name = "jax"

    def compile(self, fn, weights_of=()):
        import jax
        variables = _variables(weights_of)

        def pure(values, *args):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return fn(*args)
        jitted = jax.jit(pure)

        def call(*args):
            return jitted([v.value for v in variables], *args)
        return call

    def vjp(self, fn, *primals, has_aux=False):
        import jax
        if has_aux:
            y, pullback, aux = jax.vjp(fn, *primals, has_aux=True)
            return (y, aux), pullback
        return jax.vjp(fn, *primals)

    def version(self):
        import jax
        return jax.__version__

    def accelerator(self):
        import jax
        device = jax.devices()[0]
        if device.platform == "cpu":
            return None
        stats = device.memory_stats() or {}
        limit = stats.get("bytes_limit")
        return Accelerator(str(device.device_kind), None if limit is None else limit - stats.get("bytes_in_use", 0),
                           stats.get("bytes_in_use", 0))


class TorchAdapter(Adapter):
    name = "torch"

    def compile(self, fn, weights_of=()):
        import torch

        def call(*args):  # eager; torch.compile not tried yet (its first call compiles)
            args = [keras.ops.convert_to_tensor(a) for a in args]
            with torch.no_grad():
                return fn(*args)
        return call

    def vjp(self, fn, *primals, has_aux=False):
        import torch
        primals = [keras.ops.convert_to_tensor(p).detach().requires_grad_(True) for p in primals]
        with torch.enable_grad():
            out = fn(*primals)
        y = out[0] if has_aux else out

        def pullback(cotangent):
            return tuple(torch.autograd.grad(y, primals, grad_outputs=cotangent, retain_graph=True))
        return out, pullback

    def inference(self):
        import torch
        return torch.no_grad()

    def version(self):
        import torch
        return torch.__version__

    def limit_threads(self, threads):
        import torch
        torch.set_num_threads(threads)

    def accelerator(self):
        import torch
        if not torch.cuda.is_available():
            return None
        free, _total = torch.cuda.mem_get_info()
        return Accelerator(torch.cuda.get_device_name(), free, torch.cuda.memory_allocated())


class UnsupportedAdapter(Adapter):
    """A backend crnnaudit has no adapter for (numpy, openvino: no gradients): every pass
    refuses, naming it."""

    def __init__(self, name: str):
        self.name = name

    def _refuse(self, *args, **kwargs):
        raise ModelError(f"Keras backend '{self.name}' (KERAS_BACKEND): crnnaudit's passes run on "
                         f"{', '.join(ADAPTERS)}")
    compile = vjp = _refuse

    def version(self):
        return "unsupported"


ADAPTERS = {a.name: a for a in (TensorFlowAdapter, JaxAdapter, TorchAdapter)}
BACKEND = keras.backend.backend()
ADAPTER: Adapter = ADAPTERS[BACKEND]() if BACKEND in ADAPTERS else UnsupportedAdapter(BACKEND)


def versions() -> dict:
    """The backend that computed a result, and its version (recorded with every explanation)."""
    return {"backend": BACKEND, BACKEND: ADAPTER.version(), "keras": keras.__version__}
