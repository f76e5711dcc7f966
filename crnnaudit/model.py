"""Load a CNN + RNN clip model and decompose it into ``conv``, ``pool`` and ``head``.

``TimeDistributed`` runs the CNN on each frame independently, so the model factors as

    scores = activation( head( pool( conv(x_t) ) for t in 1..T ) )

``conv`` maps one frame to the target conv layer's maps ``A_t``; ``pool`` maps ``A_t`` to the
feature vector ``f_t`` the recurrent part reads; ``head`` maps ``f_1..f_T`` to logits (the
output activation removed). The pieces reuse the user's layers (same weight variables, never
changed) and :meth:`AuditedModel.verify` proves that they reproduce the original output.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers as L  # noqa: E402

from .card import ModelCard, sidecar_path  # noqa: E402
from .errors import CardError, ModelError, UnsafeModelError, UnsupportedModelError  # noqa: E402
from .video import Clip, Window, sha256_file  # noqa: E402

tf.get_logger().setLevel("ERROR")  # retracing notices are expected: one trace per shape

MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")
CONV_TYPES = (L.Conv2D, L.SeparableConv2D, L.DepthwiseConv2D, L.Conv2DTranspose)
# Layers that act on each element (or the channel axis) and so may sit outside
# TimeDistributed in the per-frame part.
ELEMENTWISE_TYPES = (L.Rescaling, L.Normalization, L.Dropout, L.Activation, L.GaussianNoise,
                     L.GaussianDropout, L.ReLU, L.LeakyReLU)
VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)
DEFAULT_FRAMES = 20
DEFAULT_SIZE = 112


def preprocess(frames: np.ndarray, mode: str) -> np.ndarray:
    """RGB uint8 frames ``(..., H, W, 3)`` -> the model's input, as the card says.

    ``vgg19``: RGB->BGR and ImageNet mean subtracted (Keras ``vgg19.preprocess_input``);
    ``unit``: pixels / 255; ``none``: pixels as float32.
    """
    x = frames.astype(np.float32)
    if mode == "vgg19":
        return x[..., ::-1] - VGG_MEAN_BGR
    if mode == "unit":
        return x / 255.0
    return x


def _chain(stages: Iterable, x):
    for stage in stages:
        x = stage(x)
    return x


def _flatten_stages(layer) -> list:
    """Expand Sequential models into their layers (recursively); other layers stay whole."""
    if isinstance(layer, keras.Sequential):
        out = []
        for inner in layer.layers:
            out.extend(_flatten_stages(inner))
        return out
    return [layer]


def _is_model(layer) -> bool:
    return isinstance(layer, keras.Model) and not isinstance(layer, keras.Sequential)


def _activation_name(layer) -> str | None:
    if isinstance(layer, L.Softmax):
        return "softmax"
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "__name__", str(act))


@dataclass
class Capabilities:
    """What a model supports. ``spatial_cam`` needs a per-frame conv layer."""

    gradients: bool = True
    spatial_cam: bool = True
    temporal: bool = True
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"gradients": self.gradients, "spatial_cam": self.spatial_cam,
                "temporal": self.temporal, "notes": list(self.notes)}


@dataclass
class Timeline:
    """Scores of every window of a clip.

    ``table`` has one row per window: window, first_frame, last_frame, start_s, end_s,
    ``p_<class>`` per class, anomaly_score, predicted, decision.
    """

    table: pd.DataFrame
    clip_sha256: str
    model_sha256: str
    window_length: int
    stride: int
    threshold: float

    def top_window(self) -> int:
        return int(self.table["anomaly_score"].idxmax())


class AuditedModel:
    """A user's clip model with its decomposition, card and capability flags.

    Build it with :func:`load_model` (or directly from an in-memory Keras model). The user's
    model is never changed; ``conv``, ``pool`` and ``head`` share its weight variables.
    """

    def __init__(self, model: keras.Model, card: ModelCard | None = None, *,
                 source: str | Path | None = None, sha256: str | None = None,
                 target_layer: str | None = None):
        self.model = model
        self.source = Path(source) if source else None
        self.sha256 = sha256 or _weights_hash(model)
        self._decompose(target_layer or (card.target_layer if card else None))
        self.card = self._complete_card(card)
        self._fn_cache: dict = {}
        self._verified: dict[int, float] = {}  # seed -> result of the random-window check

    # --- decomposition ---------------------------------------------------------------
    def _name(self) -> str:
        return str(self.source) if self.source else f"model '{self.model.name}'"

    def _decompose(self, target_layer: str | None) -> None:
        model = self.model
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise UnsupportedModelError(
                f"{self._name()}: has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                "crnnaudit takes one clip input (batch, time, height, width, channels) and one output")
        in_shape = tuple(model.inputs[0].shape)
        if len(in_shape) != 5:
            raise UnsupportedModelError(
                f"{self._name()}: input shape {in_shape} has no time axis; expected "
                "(batch, time, height, width, channels) as a TimeDistributed CNN + RNN takes")
        _, t, h, w, c = in_shape
        self.window_length_fixed = t
        self.frame_shape = (h or DEFAULT_SIZE, w or DEFAULT_SIZE, c or 3)
        # Walk this model's own graph nodes: a layer shared with another model has nodes
        # there too, so ``layer.input``/``layer.output`` (its first node) can be elsewhere.
        sequential = isinstance(model, keras.Sequential)
        if sequential:
            body = list(model.layers)
            consumers = None
        else:
            nodes = _graph_nodes(model)
            body = [op for op, _ in nodes]
            consumers = {}
            for op, node in nodes:
                for t_in in node.input_tensors:
                    consumers.setdefault(id(t_in), []).append((op, node))
        prefix, prefix_out = [], []
        tensor = None if sequential else model.inputs[0]
        for k in range(len(body)):
            if sequential:
                lay = body[k]
            else:
                cons = consumers.get(id(tensor), [])
                if len(cons) != 1:
                    break  # the per-frame part must be a chain from the input
                lay, node = cons[0]
                tensor = node.output_tensors[0]
            if not isinstance(lay, (L.TimeDistributed,) + ELEMENTWISE_TYPES):
                break
            prefix.append(lay)
            prefix_out.append(tensor)
        if not any(isinstance(lay, L.TimeDistributed) for lay in prefix):
            raise UnsupportedModelError(
                f"{self._name()}: no TimeDistributed per-frame part found after the input "
                f"(first layers: {[type(x).__name__ for x in body[:3]]}); crnnaudit takes "
                "TimeDistributed(CNN) or TimeDistributed around each per-frame layer, then an RNN")
        while prefix and not isinstance(prefix[-1], L.TimeDistributed):
            prefix.pop()  # trailing elementwise layers belong to the head
            prefix_out.pop()
        self.per_frame_layers = [lay.name for lay in prefix]
        stages: list = []
        for lay in prefix:
            stages.extend(_flatten_stages(lay.layer if isinstance(lay, L.TimeDistributed) else lay))

        split = self._find_target(stages, target_layer)
        frame_in = keras.Input(self.frame_shape, name="frame")
        self.capabilities = Capabilities()
        if split is None:
            self.target_layer = None
            self.conv = None
            self.pool = keras.Model(frame_in, _chain(stages, frame_in), name="frame_features")
            self.capabilities.spatial_cam = False
            self.capabilities.notes.append(
                "no 2-D conv layer in the per-frame part: Grad-CAM is unavailable; gradient and "
                "temporal methods work")
        else:
            i, pre, post, name = split
            self.target_layer = name
            conv_out = _chain(stages[:i] + pre, frame_in)
            self.conv = keras.Model(frame_in, conv_out, name="conv")
            maps_in = keras.Input(tuple(conv_out.shape[1:]), name="maps")
            self.pool = keras.Model(maps_in, _chain(post + stages[i + 1:], maps_in), name="pool")
        self.feature_shape = tuple(self.pool.outputs[0].shape[1:])

        # The head: everything after the per-frame part, its output activation removed.
        if sequential:
            last, last_input = model.layers[-1], None
        else:
            last, last_node = _producer(model.outputs[0])
            last_input = last_node.input_tensors[0]
        self.output_activation = _activation_name(last)
        out_shape = tuple(model.outputs[0].shape)
        if len(out_shape) != 2:
            raise UnsupportedModelError(
                f"{self._name()}: output shape {out_shape}; crnnaudit needs one score vector per "
                "clip (batch, classes). Pool a return_sequences output before the last layer")
        self.n_outputs = int(out_shape[1])
        strip = self.output_activation in ("softmax", "sigmoid")
        if self.output_activation not in ("softmax", "sigmoid", "linear", None):
            raise UnsupportedModelError(
                f"{self._name()}: output activation '{self.output_activation}' of layer "
                f"'{last.name}'; supported: softmax, sigmoid or linear (logits)")
        if not strip:
            self.output_activation = "softmax" if self.n_outputs > 1 else "sigmoid"
            self.capabilities.notes.append(
                "the output is linear: crnnaudit reads it as logits and applies "
                f"{self.output_activation} for probabilities")
        t_dim = self.window_length_fixed
        feat_in = keras.Input((t_dim,) + self.feature_shape, name="features")
        if isinstance(last, (L.Softmax, L.Activation)) and strip:
            tail = []  # the logits are this layer's input
        else:
            tail = [_linear_copy(last)] if strip else [last]
        if sequential:
            pre_logits = _chain(body[len(prefix):-1], feat_in)
        else:
            try:
                inner = keras.Model(prefix_out[-1], last_input)
            except ValueError as e:
                raise UnsupportedModelError(
                    f"{self._name()}: the layers after the per-frame part read more than the "
                    f"per-frame features ({e}); crnnaudit cannot split this model") from e
            pre_logits = inner(feat_in)
        self.head = keras.Model(feat_in, _chain(tail, pre_logits), name="head")

    def _find_target(self, stages: list, wanted: str | None):
        """Locate the conv layer Grad-CAM reads: ``(stage index, pre, post, name)``."""
        for i in range(len(stages) - 1, -1, -1):
            stage = stages[i]
            if isinstance(stage, CONV_TYPES) and wanted in (None, stage.name):
                return i, [stage], [], stage.name
            if _is_model(stage):
                inner = [x for x in stage.layers if isinstance(x, CONV_TYPES)]
                if wanted is not None:
                    inner = [x for x in inner if x.name == wanted]
                for conv in reversed(inner):
                    try:
                        if len(stage.inputs) != 1 or len(stage.outputs) != 1:
                            continue
                        pre = keras.Model(stage.inputs[0], conv.output)
                        post = keras.Model(conv.output, stage.outputs[0])
                    except ValueError:
                        continue  # not a cut of the graph (a skip connection passes it)
                    return i, [pre], [post], conv.name
        if wanted is not None:
            raise UnsupportedModelError(
                f"{self._name()}: target layer '{wanted}' is not a 2-D conv layer of the per-frame "
                "part (or its output is not a cut of the graph)")
        return None

    # --- card ---------------------------------------------------------------------
    def _complete_card(self, card: ModelCard | None) -> ModelCard:
        card = card or ModelCard(name=self.source.stem if self.source else self.model.name)
        defaulted = []
        if not card.classes:
            card.classes = ["anomaly"] if self.n_outputs == 1 else [f"class_{k}" for k in range(self.n_outputs)]
            defaulted.append("classes")
        if len(card.classes) != self.n_outputs:
            raise CardError(f"{self._name()}: the card names {len(card.classes)} classes "
                            f"{card.classes} but the model has {self.n_outputs} outputs")
        if not card.anomaly_classes:
            normal = [c for c in card.classes if c.lower() in ("normal", "normal_videos", "none")]
            if self.n_outputs == 1:
                card.anomaly_classes = list(card.classes)
            elif normal:
                card.anomaly_classes = [c for c in card.classes if c not in normal]
            else:
                card.anomaly_classes = card.classes[:-1]
            defaulted.append("anomaly_classes")
        if card.preprocessing is None:
            names = {x.name for x in _all_layers(self.model)}
            card.preprocessing = "vgg19" if "block1_conv1" in names else "unit"
            defaulted.append("preprocessing")
        if card.frames_per_window is None:
            card.frames_per_window = self.window_length_fixed or DEFAULT_FRAMES
            defaulted.append("frames_per_window")
        elif self.window_length_fixed and card.frames_per_window != self.window_length_fixed:
            raise CardError(f"{self._name()}: the card says {card.frames_per_window} frames per "
                            f"window but the model's time axis is fixed at {self.window_length_fixed}")
        if card.stride is None:
            card.stride = max(1, card.frames_per_window // 2)
            defaulted.append("stride")
        if defaulted:
            card.extra["defaulted"] = sorted(set(card.extra.get("defaulted", [])) | set(defaulted))
        return card.validate(self._name())

    # --- computation ----------------------------------------------------------------
    @property
    def window_length(self) -> int:
        return int(self.card.frames_per_window)

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.frame_shape[0], self.frame_shape[1]

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        """RGB uint8 frames at the model's size -> model input (card preprocessing)."""
        return preprocess(frames, self.card.preprocessing)

    def compiled(self, key: str, builder: Callable):
        """A ``tf.function`` built once per model and kept (shapes retrace as usual)."""
        if key not in self._fn_cache:
            self._fn_cache[key] = builder()
        return self._fn_cache[key]

    def frame_features(self, x: np.ndarray | tf.Tensor) -> tf.Tensor:
        """Per-frame features ``f`` for preprocessed frames ``(N, H, W, C)``."""
        return self.compiled("features", self._features_fn)(tf.convert_to_tensor(x, tf.float32))

    def head_logits(self, f: np.ndarray | tf.Tensor) -> tf.Tensor:
        """Logits ``(B, K)`` for feature sequences ``(B, T, *F)``."""
        return self.compiled("head", self._head_fn)(tf.convert_to_tensor(f, tf.float32))

    # Named functions, not lambdas: autograph reads a lambda's source and, with two lambdas
    # close together, can compile the wrong one (it did: conv was skipped).
    def _features_fn(self):
        conv, pool = self.conv, self.pool

        def features(z):
            return pool(conv(z, training=False) if conv is not None else z, training=False)
        return tf.function(features, reduce_retracing=True, autograph=False)

    def _head_fn(self):
        head = self.head

        def logits(z):
            return head(z, training=False)
        return tf.function(logits, reduce_retracing=True, autograph=False)

    def probabilities(self, logits) -> np.ndarray:
        logits = tf.convert_to_tensor(logits)
        if self.output_activation == "softmax":
            return tf.nn.softmax(logits, axis=-1).numpy()
        return tf.sigmoid(logits).numpy()

    def anomaly_score(self, probs: np.ndarray) -> np.ndarray:
        """One anomaly score per row: summed anomaly-class probability (softmax) or the max
        over anomaly classes (independent sigmoids)."""
        idx = self.card.anomaly_indices()
        if self.output_activation == "softmax":
            return probs[..., idx].sum(axis=-1)
        return probs[..., idx].max(axis=-1)

    def default_target(self, logits: np.ndarray) -> int:
        """``None`` target: the predicted class (softmax) or the anomaly logit (one sigmoid)."""
        if self.n_outputs == 1:
            return 0
        return int(np.argmax(logits))

    def verify(self, window: Window | np.ndarray | None = None, seed: int = 0) -> float:
        """Largest |original - decomposed| over the output probabilities on one window.

        Args:
            window: a :class:`Window`, raw uint8 frames ``(T, H, W, 3)``, or ``None`` for
                random frames (seeded).
        """
        if window is None and seed in self._verified:
            return self._verified[seed]  # pages show it on every rerun: compute once
        if window is None:
            rng = np.random.default_rng(seed)
            frames = rng.integers(0, 256, (2, self.window_length) + self.frame_shape, dtype=np.uint8)
        else:
            frames = window.frames if isinstance(window, Window) else np.asarray(window)
            frames = frames[None] if frames.ndim == 4 else frames
        x = self.prepare(frames)
        original = np.asarray(self.model(x, training=False))
        b, t = x.shape[:2]
        f = tf.reshape(self.frame_features(x.reshape((b * t,) + x.shape[2:])), (b, t) + self.feature_shape)
        ours = self.probabilities(self.head_logits(f))
        if not (np.all(np.isfinite(original)) and np.all(np.isfinite(ours))):
            raise ModelError(f"{self._name()}: the model produced non-finite outputs on the check window")
        diff = float(np.max(np.abs(original - ours)))
        if window is None:
            self._verified[seed] = diff
        return diff

    def layers_table(self) -> pd.DataFrame:
        """One row per top-level layer: name, type, output shape, role in the decomposition."""
        rows = []
        for lay in self.model.layers:
            kind = type(lay).__name__
            if isinstance(lay, L.TimeDistributed):
                kind += f"({type(lay.layer).__name__})"
            role = "per-frame" if lay.name in self.per_frame_layers else "head"
            if isinstance(lay, L.InputLayer):
                role = "input"
            try:
                shape = str(tuple(lay.output.shape))
            except (AttributeError, ValueError):
                shape = ""
            rows.append({"layer": lay.name, "type": kind, "output": shape, "role": role,
                         "params": int(lay.count_params()) if lay.built else 0})
        return pd.DataFrame(rows)

    def describe(self) -> dict:
        """What was found, for ``crnnaudit info``, the Model page and reports."""
        recurrent = [x.name for x in _all_layers(self.model)
                     if isinstance(x, (L.RNN, L.Bidirectional, L.GRU, L.LSTM, L.SimpleRNN))]
        return {"source": str(self.source) if self.source else None, "sha256": self.sha256,
                "input": [None, self.window_length_fixed, *self.frame_shape],
                "window_length": self.window_length, "per_frame_layers": self.per_frame_layers,
                "target_layer": self.target_layer,
                "conv_maps": list(self.conv.outputs[0].shape[1:]) if self.conv else None,
                "feature_shape": list(self.feature_shape), "recurrent_layers": recurrent,
                "outputs": self.n_outputs, "output_activation": self.output_activation,
                "capabilities": self.capabilities.as_dict()}

    # --- scoring --------------------------------------------------------------------
    def score(self, clip: Clip, stride: int | None = None,
              progress: Callable[[int, int], None] | None = None,
              batch_frames: int = 32) -> Timeline:
        """Score every window of a clip.

        Each frame goes through the CNN once, however many windows hold it: features are
        cached per frame and only the head runs per window. Decoding streams, so memory holds
        a window's worth of features, not the clip.

        Returns:
            A :class:`Timeline`.
        """
        T = self.window_length
        stride = int(stride or self.card.stride)
        starts = clip.window_starts(T, stride)
        needed = min(clip.frame_count, starts[-1] + T)
        feats: dict[int, np.ndarray] = {}
        rows, pending_idx, pending_img = [], [], []
        k = 0

        def flush():
            nonlocal k
            if pending_img:
                f = self.frame_features(self.prepare(np.stack(pending_img))).numpy()
                feats.update(zip(pending_idx, f))
                pending_idx.clear()
                pending_img.clear()
            ready = []
            while k < len(starts) and (starts[k] + T - 1 in feats or (
                    starts[k] + T > needed and needed - 1 in feats)):
                ready.append(k)
                k += 1
            if ready:
                seqs, meta = [], []
                for w in ready:
                    idx = [min(i, needed - 1) for i in range(starts[w], starts[w] + T)]
                    seqs.append(np.stack([feats[i] for i in idx]))
                    meta.append((w, idx))
                logits = self.head_logits(np.stack(seqs)).numpy()
                if not np.all(np.isfinite(logits)):
                    raise ModelError(f"{self._name()}: non-finite scores on {clip.name} "
                                     f"windows {ready}")
                probs = self.probabilities(logits)
                for (w, idx), p, lg in zip(meta, probs, logits):
                    rows.append((w, idx, p, lg))
                keep_from = starts[k] if k < len(starts) else needed
                for i in [i for i in feats if i < keep_from]:
                    del feats[i]
                if progress:
                    progress(len(rows), len(starts))

        for i, img in clip.iter_frames(0, needed, self.frame_size):
            pending_idx.append(i)
            pending_img.append(img)
            if len(pending_img) >= batch_frames:
                flush()
        flush()
        classes = self.card.classes
        table = pd.DataFrame({
            "window": [r[0] for r in rows],
            "first_frame": [r[1][0] for r in rows],
            "last_frame": [r[1][-1] for r in rows],
            "start_s": [clip.time_of(r[1][0]) for r in rows],
            "end_s": [clip.time_of(r[1][-1]) for r in rows],
            **{f"p_{c}": [float(r[2][j]) for r in rows] for j, c in enumerate(classes)},
        })
        probs = np.stack([r[2] for r in rows])
        table["anomaly_score"] = self.anomaly_score(probs)
        table["predicted"] = [classes[self.default_target(r[3])] for r in rows]
        table["decision"] = np.where(table["anomaly_score"] >= self.card.threshold, "anomaly", "normal")
        table["padded"] = clip.frame_count < T
        return Timeline(table, clip.sha256, self.sha256, T, stride, self.card.threshold)


def _producer(tensor):
    """The layer and the graph node that produced a symbolic tensor."""
    op, node_index, _ = tensor._keras_history
    return op, op._inbound_nodes[node_index]


def _graph_nodes(model) -> list:
    """``(layer, node)`` for every node of this functional model, inputs first."""
    seen, order = set(), []

    def visit(t):
        op, node = _producer(t)
        if id(node) in seen:
            return
        seen.add(id(node))
        for t_in in node.input_tensors:
            visit(t_in)
        if not isinstance(op, L.InputLayer):
            order.append((op, node))
    for out in model.outputs:
        visit(out)
    return order


def _all_layers(model) -> list:
    out = []
    for lay in model.layers:
        out.append(lay)
        inner = lay.layer if isinstance(lay, (L.TimeDistributed, L.Bidirectional)) and hasattr(lay, "layer") else lay
        if inner is not lay:
            out.append(inner)
        if isinstance(inner, keras.Model):
            out.extend(_all_layers(inner))
    return out


class _DenseLogits(keras.layers.Layer):
    """A Dense layer's pre-activation, reading the source layer's own weight variables (so a
    randomised or fine-tuned model stays in step) without touching the layer."""

    def __init__(self, source: L.Dense, **kwargs):
        super().__init__(name=source.name + "_logits", **kwargs)
        self.source = source

    def call(self, x):
        y = keras.ops.matmul(x, self.source.kernel)
        return y + self.source.bias if self.source.use_bias else y


def _linear_copy(layer):
    """The layer with its activation removed: a view on Dense, else a copy of the weights."""
    if type(layer) is L.Dense:
        return _DenseLogits(layer)
    cfg = layer.get_config()
    cfg["activation"] = "linear"
    cfg["name"] = layer.name + "_logits"
    copy = type(layer).from_config(cfg)
    copy.build(layer.input.shape)
    copy.set_weights(layer.get_weights())
    return copy


def _weights_hash(model: keras.Model) -> str:
    import hashlib
    h = hashlib.sha256()
    for w in model.weights:
        h.update(np.ascontiguousarray(w.numpy()).tobytes())
    return h.hexdigest()


def _config_of(path: Path) -> dict | None:
    """The model's JSON config, read without deserialising anything."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None:
                return None
            return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise ModelError(f"{path}: not a Keras model file ({e}); expected .keras or .h5 "
                         "saved by model.save()") from e


def _unsafe_layers(config) -> tuple[list[str], list[str]]:
    """Lambda layers, and classes from outside Keras, named in a model config."""
    found, custom = [], []

    def walk(node):
        if isinstance(node, dict):
            if node.get("class_name") in ("Lambda", "TFOpLambda"):
                found.append(node.get("config", {}).get("name", "?"))
            module = node.get("module")
            if "class_name" in node and isinstance(module, str) and not module.startswith("keras"):
                custom.append(f"{module}.{node['class_name']}")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(config)
    return found, custom


def load_model(path: str | Path, card: ModelCard | str | Path | None = None,
               target_layer: str | None = None) -> AuditedModel:
    """Load a ``.keras`` or legacy ``.h5`` clip model, safely, and decompose it.

    Args:
        path: the model file. Keras safe mode stays on; nothing in the file is executed.
        card: a :class:`ModelCard`, a path to one, or ``None`` for the sidecar beside the
            model (``m.card.json``/``.yaml``), else defaults.
        target_layer: the conv layer for Grad-CAM (default: the card's, else the last
            per-frame 2-D conv).

    Returns:
        An :class:`AuditedModel`.

    Raises:
        ModelError: unreadable file. UnsafeModelError: needs unsafe deserialisation.
        UnsupportedModelError: not a per-frame CNN + temporal model. CardError: bad card.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path}: unsupported model file type '{path.suffix}'; expected "
                         f"one of {MODEL_SUFFIXES}")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: the model file is empty (0 bytes)")
    config = _config_of(path)
    unsafe, custom = _unsafe_layers(config) if config else ([], [])
    if custom:
        raise UnsafeModelError(
            f"{path}: needs classes from outside Keras ({sorted(set(custom))}); crnnaudit never "
            "imports or runs code named by a model file. Rebuild the model from built-in layers")
    if unsafe:
        raise UnsafeModelError(
            f"{path}: layers {unsafe} are Lambda layers, whose Python code would have to run to "
            "load them; crnnaudit keeps Keras safe mode on and never runs code from a model "
            "file. Replace them with built-in layers and save again")
    try:
        model = keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for bad files
        msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if "safe_mode" in str(e) or "unsafe" in str(e).lower():
            raise UnsafeModelError(f"{path}: needs unsafe deserialisation ({msg}); refused") from e
        raise ModelError(f"{path}: cannot load the model ({msg})") from e
    if isinstance(card, (str, Path)):
        card = ModelCard.read(card)
    elif card is None and (side := sidecar_path(path)):
        card = ModelCard.read(side)
    return AuditedModel(model, card, source=path, sha256=sha256_file(path), target_layer=target_layer)
