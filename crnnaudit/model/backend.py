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
from typing import Callable, Iterable, Sequence

import keras
import numpy as np

from ..errors import ModelError


def to_numpy(x) -> np.ndarray:
    """A tensor of the running backend (or an array) as a numpy array."""
    return np.asarray(keras.ops.convert_to_numpy(x))


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
        gradients of ``<out, cotangent>`` with respect to each primal. With ``has_aux``, ``fn``
        returns ``(y, aux)``, ``out`` is that pair and the gradient is of ``y`` alone."""
        raise NotImplementedError

    def inference(self):
        """A context in which forward passes record nothing for a backward pass."""
        return contextlib.nullcontext()

    def version(self) -> str:
        raise NotImplementedError

    def limit_threads(self, threads: int) -> None:
        """At most ``threads`` threads inside one operation (a Ray worker's share of the cores)."""


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
        with tf.GradientTape(watch_accessed_variables=False) as tape:
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


class TorchAdapter(Adapter):
    name = "torch"

    def compile(self, fn, weights_of=()):
        import torch

        def call(*args):  # eager: torch.compile's first call costs more than a window saves
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
            return tuple(torch.autograd.grad(y, primals, grad_outputs=cotangent))
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
