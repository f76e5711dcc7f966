"""Graph surgery: a Keras clip model -> ``conv``, ``pool`` and ``head``.

``TimeDistributed`` runs the CNN on each frame independently, so the model factors as

    scores = activation( head( pool( conv(x_t) ) for t in 1..T ) )

``conv`` maps one frame to the target conv layer's maps ``A_t``; ``pool`` maps ``A_t`` to the
feature vector ``f_t`` the recurrent part reads; ``head`` maps ``f_1..f_T`` to logits (the
output activation removed). :func:`decompose` is a pure function: the pieces reuse the user's
layers and weight variables and only add graph nodes; no weight or config is touched.
Kept apart from loading and scoring, as tf-keras-vis keeps its model modifiers apart from
its visualisers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import keras
from keras import layers as L

from ..errors import UnsupportedModelError

CONV_TYPES = (L.Conv2D, L.SeparableConv2D, L.DepthwiseConv2D, L.Conv2DTranspose)
# Layers that act on each element (or the channel axis) and so may sit outside
# TimeDistributed in the per-frame part.
ELEMENTWISE_TYPES = (L.Rescaling, L.Normalization, L.Dropout, L.Activation, L.GaussianNoise,
                     L.GaussianDropout, L.ReLU, L.LeakyReLU)
RECURRENT_TYPES = (L.RNN, L.Bidirectional, L.GRU, L.LSTM, L.SimpleRNN)
DEFAULT_SIZE = 112


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
class Decomposition:
    """The three pieces and what was found on the way.

    Attributes:
        conv: frame -> target conv maps, or ``None`` when the per-frame part has no 2-D conv.
        pool: conv maps (or the frame, without ``conv``) -> per-frame features.
        head: feature sequence ``(B, T, *F)`` -> logits.
        window_length_fixed: the model's time axis, ``None`` when it takes any length.
        output_activation: ``softmax`` or ``sigmoid``, applied to the head's logits.
    """

    conv: keras.Model | None
    pool: keras.Model
    head: keras.Model
    per_frame_layers: list[str]
    target_layer: str | None
    frame_shape: tuple[int, int, int]
    window_length_fixed: int | None
    feature_shape: tuple
    n_outputs: int
    output_activation: str
    capabilities: Capabilities


@dataclass
class _Graph:
    """The model's layers in order, and for a functional model who reads each tensor."""

    model: keras.Model
    sequential: bool
    body: list
    consumers: dict | None


def decompose(model: keras.Model, target_layer: str | None = None,
              name: str | None = None) -> Decomposition:
    """Split a clip model into ``conv``, ``pool`` and ``head``.

    Args:
        model: a Keras model taking ``(batch, time, height, width, channels)``.
        target_layer: the conv layer Grad-CAM reads; ``None`` = the last per-frame 2-D conv.
        name: how error messages name the model (its file, usually).

    Returns:
        A :class:`Decomposition` whose pieces share the model's weight variables.

    Raises:
        UnsupportedModelError: several inputs or outputs, no time axis, no per-frame part, an
            output that is not one score vector, or an unknown output activation.
    """
    name = name or f"model '{model.name}'"
    frame_shape, fixed = _check_io(model, name)
    graph = _graph(model)
    prefix, prefix_out = _per_frame_prefix(graph, name)
    caps = Capabilities()
    conv, pool, target = _frame_pieces(_stages(prefix), frame_shape, target_layer, name, caps)
    feature_shape = tuple(pool.outputs[0].shape[1:])
    head, n_outputs, activation = _head(graph, prefix, prefix_out, fixed, feature_shape, name, caps)
    return Decomposition(conv, pool, head, [lay.name for lay in prefix], target, frame_shape,
                         fixed, feature_shape, n_outputs, activation, caps)


def _check_io(model, name: str) -> tuple[tuple[int, int, int], int | None]:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError(
            f"{name}: has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            "crnnaudit takes one clip input (batch, time, height, width, channels) and one output")
    in_shape = tuple(model.inputs[0].shape)
    if len(in_shape) != 5:
        raise UnsupportedModelError(
            f"{name}: input shape {in_shape} has no time axis; expected "
            "(batch, time, height, width, channels) as a TimeDistributed CNN + RNN takes")
    _, t, h, w, c = in_shape
    return (h or DEFAULT_SIZE, w or DEFAULT_SIZE, c or 3), t


def _graph(model) -> _Graph:
    # Walk this model's own graph nodes: a layer shared with another model has nodes there
    # too, so ``layer.input``/``layer.output`` (its first node) can be elsewhere.
    if isinstance(model, keras.Sequential):
        return _Graph(model, True, list(model.layers), None)
    nodes = graph_nodes(model)
    consumers: dict = {}
    for op, node in nodes:
        for t_in in node.input_tensors:
            consumers.setdefault(id(t_in), []).append((op, node))
    return _Graph(model, False, [op for op, _ in nodes], consumers)


def _per_frame_prefix(graph: _Graph, name: str) -> tuple[list, list]:
    """The chain of TimeDistributed (and elementwise) layers from the input."""
    prefix, prefix_out = [], []
    tensor = None if graph.sequential else graph.model.inputs[0]
    for k in range(len(graph.body)):
        if graph.sequential:
            lay = graph.body[k]
        else:
            cons = graph.consumers.get(id(tensor), [])
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
            f"{name}: no TimeDistributed per-frame part found after the input "
            f"(first layers: {[type(x).__name__ for x in graph.body[:3]]}); crnnaudit takes "
            "TimeDistributed(CNN) or TimeDistributed around each per-frame layer, then an RNN")
    while prefix and not isinstance(prefix[-1], L.TimeDistributed):
        prefix.pop()  # trailing elementwise layers belong to the head
        prefix_out.pop()
    return prefix, prefix_out


def _stages(prefix: list) -> list:
    stages: list = []
    for lay in prefix:
        stages.extend(_flatten(lay.layer if isinstance(lay, L.TimeDistributed) else lay))
    return stages


def _frame_pieces(stages, frame_shape, wanted, name, caps):
    """``conv`` (or ``None``), ``pool`` and the target layer's name."""
    frame_in = keras.Input(frame_shape, name="frame")
    split = _find_target(stages, wanted, name)
    if split is None:
        caps.spatial_cam = False
        caps.notes.append("no 2-D conv layer in the per-frame part: Grad-CAM is unavailable; "
                          "gradient and temporal methods work")
        return None, keras.Model(frame_in, _chain(stages, frame_in), name="frame_features"), None
    i, pre, post, target = split
    conv_out = _chain(stages[:i] + pre, frame_in)
    conv = keras.Model(frame_in, conv_out, name="conv")
    maps_in = keras.Input(tuple(conv_out.shape[1:]), name="maps")
    pool = keras.Model(maps_in, _chain(post + stages[i + 1:], maps_in), name="pool")
    return conv, pool, target


def _find_target(stages: list, wanted: str | None, name: str):
    """Locate the conv layer Grad-CAM reads: ``(stage index, pre, post, name)``."""
    for i in range(len(stages) - 1, -1, -1):
        stage = stages[i]
        if isinstance(stage, CONV_TYPES) and wanted in (None, stage.name):
            return i, [stage], [], stage.name
        if _is_model(stage) and len(stage.inputs) == 1 and len(stage.outputs) == 1:
            inner = [x for x in stage.layers if isinstance(x, CONV_TYPES)
                     and wanted in (None, x.name)]
            for conv in reversed(inner):
                try:
                    pre = keras.Model(stage.inputs[0], conv.output)
                    post = keras.Model(conv.output, stage.outputs[0])
                except ValueError:
                    continue  # not a cut of the graph (a skip connection passes it)
                return i, [pre], [post], conv.name
    if wanted is not None:
        raise UnsupportedModelError(
            f"{name}: target layer '{wanted}' is not a 2-D conv layer of the per-frame "
            "part (or its output is not a cut of the graph)")
    return None


def _head(graph: _Graph, prefix, prefix_out, fixed, feature_shape, name, caps):
    """Everything after the per-frame part, its output activation removed."""
    model = graph.model
    if graph.sequential:
        last, last_input = model.layers[-1], None
    else:
        last, last_node = producer(model.outputs[0])
        last_input = last_node.input_tensors[0]
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 2:
        raise UnsupportedModelError(
            f"{name}: output shape {out_shape}; crnnaudit needs one score vector per "
            "clip (batch, classes). Pool a return_sequences output before the last layer")
    n_outputs = int(out_shape[1])
    activation = _activation_name(last)
    if activation not in ("softmax", "sigmoid", "linear", None):
        raise UnsupportedModelError(
            f"{name}: output activation '{activation}' of layer '{last.name}'; supported: "
            "softmax, sigmoid or linear (logits)")
    strip = activation in ("softmax", "sigmoid")
    if not strip:
        activation = "softmax" if n_outputs > 1 else "sigmoid"
        caps.notes.append("the output is linear: crnnaudit reads it as logits and applies "
                          f"{activation} for probabilities")
    feat_in = keras.Input((fixed,) + feature_shape, name="features")
    if isinstance(last, (L.Softmax, L.Activation)) and strip:
        tail = []  # the logits are this layer's input
    else:
        tail = [_linear_copy(last)] if strip else [last]
    if graph.sequential:
        pre_logits = _chain(graph.body[len(prefix):-1], feat_in)
    else:
        try:
            inner = keras.Model(prefix_out[-1], last_input)
        except ValueError as e:
            raise UnsupportedModelError(
                f"{name}: the layers after the per-frame part read more than the per-frame "
                f"features ({e}); crnnaudit cannot split this model") from e
        pre_logits = inner(feat_in)
    return keras.Model(feat_in, _chain(tail, pre_logits), name="head"), n_outputs, activation


# --- graph helpers ----------------------------------------------------------------------
def _chain(stages: Iterable, x):
    for stage in stages:
        x = stage(x)
    return x


def _flatten(layer) -> list:
    """Expand Sequential models into their layers (recursively); other layers stay whole."""
    if isinstance(layer, keras.Sequential):
        return [x for inner in layer.layers for x in _flatten(inner)]
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


def producer(tensor):
    """The layer and the graph node that produced a symbolic tensor."""
    op, node_index, _ = tensor._keras_history
    return op, op._inbound_nodes[node_index]


def graph_nodes(model) -> list:
    """``(layer, node)`` for every node of this functional model, inputs first."""
    seen, order = set(), []

    def visit(t):
        op, node = producer(t)
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


def all_layers(model) -> list:
    """Every layer, nested models and wrapped layers included."""
    out = []
    for lay in model.layers:
        out.append(lay)
        inner = getattr(lay, "layer", lay) if isinstance(lay, (L.TimeDistributed, L.Bidirectional)) else lay
        if inner is not lay:
            out.append(inner)
        if isinstance(inner, keras.Model):
            out.extend(all_layers(inner))
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
