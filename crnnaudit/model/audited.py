"""AuditedModel: a user's clip model, its decomposition and its card, read-only."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import keras
import numpy as np
import scipy.special
from keras import layers as L
from keras import ops

from ..lazy import LazyModule
from ..card import ModelCard
from ..footage.quality import QualityBounds
from ..errors import ModelError
from ..footage.video import Clip, Window
from .backend import ADAPTER, batch_frames, on_accelerator, to_numpy
from .statistics import FeatureStats
from .decompose import RECURRENT_TYPES, all_layers, decompose
from .scoring import Timeline, score

pd = LazyModule("pandas")  # imported on first use (see lazy.py)

VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


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


def weights_hash(model: keras.Model) -> str:
    """SHA-256 of every weight, in order: names an in-memory model that has no file."""
    h = hashlib.sha256()
    for w in model.weights:
        h.update(np.ascontiguousarray(to_numpy(w)).tobytes())
    return h.hexdigest()


class AuditedModel:
    """A user's clip model with its decomposition, card and capability flags.

    Build it with :func:`~crnnaudit.load_model` (or directly from an in-memory Keras model).
    ``feature_stats`` (from the card's calibration) let scoring say when a window is unlike
    the training data.
    The user's model is never changed; ``conv``, ``pool`` and ``head`` share its weight
    variables (see :func:`~crnnaudit.model.decompose.decompose`).
    """

    def __init__(self, model: keras.Model, card: ModelCard | None = None, *,
                 source: str | Path | None = None, sha256: str | None = None,
                 target_layer: str | None = None, feature_stats: FeatureStats | None = None,
                 registry: dict | None = None):
        self.model = model
        self.registry = registry  # the registry pin (crnnaudit.model.registry.Pin.to_dict()), if any
        self.feature_stats = feature_stats  # None: no check against the training data
        self.source = Path(source) if source else None
        self.sha256 = sha256 or weights_hash(model)
        parts = decompose(model, target_layer or (card.target_layer if card else None), self.name)
        self.conv, self.pool, self.head = parts.conv, parts.pool, parts.head
        self.per_frame_layers, self.target_layer = parts.per_frame_layers, parts.target_layer
        self.frame_shape, self.window_length_fixed = parts.frame_shape, parts.window_length_fixed
        self.feature_shape, self.n_outputs = parts.feature_shape, parts.n_outputs
        self.output_activation, self.capabilities = parts.output_activation, parts.capabilities
        has_vgg = any(x.name == "block1_conv1" for x in all_layers(model))
        self.card = (card or ModelCard(name=self.source.stem if self.source else model.name)).completed(
            n_outputs=self.n_outputs, fixed_frames=self.window_length_fixed,
            preprocessing="vgg19" if has_vgg else "unit", source=self.name)
        self._features_fn = ADAPTER.compile(self.features_op, [self.conv, self.pool])
        self._head_fn = ADAPTER.compile(self.logits_op, [self.head])
        self._verified: dict[int, float] = {}  # seed -> result of the random-window check

    @property
    def name(self) -> str:
        """How messages name this model: its registry URI and version, else its file, else its Keras name."""
        if self.registry:
            return f"{self.registry['uri']} (version {self.registry['version']})"
        return str(self.source) if self.source else f"model '{self.model.name}'"

    @property
    def quality_bounds(self):
        """The image-quality bounds the card's calibration records (:mod:`crnnaudit.footage.quality`),
        or None when it records none."""
        data = (self.card.calibration or {}).get("quality")
        return None if data is None else QualityBounds.from_dict(data, self.name)

    @property
    def window_length(self) -> int:
        return int(self.card.frames_per_window)

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.frame_shape[0], self.frame_shape[1]

    def prepare(self, frames: np.ndarray) -> np.ndarray:
        """RGB uint8 frames at the model's size -> model input (card preprocessing)."""
        return preprocess(frames, self.card.preprocessing)

    # --- the two forward passes everything else builds on -------------------------------
    # ``*_op``: the traced pieces, for passes that compose them (backend tensors in and out);
    # frame_features / head_logits: compiled (model.backend), numpy in and out.
    def features_op(self, z):
        a = self.conv(z, training=False) if self.conv is not None else z
        return self.pool(a, training=False)

    def logits_op(self, f):
        return self.head(f, training=False)

    def window_logits_op(self, xb):
        """Logits ``(S, K)`` for whole windows ``(S, T, H, W, C)``: each frame through the CNN."""
        f = self.features_op(ops.reshape(xb, (-1,) + tuple(self.frame_shape)))
        return self.logits_op(ops.reshape(f, (-1, ops.shape(xb)[1]) + tuple(self.feature_shape)))

    def batch_frames(self, gradients: bool = False, default: int = 32) -> int:
        """Frames per CNN batch: ``default`` on a CPU, else from the GPU's free memory and
        what one frame's activations take (:func:`.backend.batch_frames`)."""
        if not on_accelerator():  # every scoring call asks: no layer walk on a CPU
            return default
        layers = (all_layers(self.conv) if self.conv is not None else []) + all_layers(self.pool)
        return batch_frames(layers, gradients, default)

    def frame_features(self, x: np.ndarray) -> np.ndarray:
        """Per-frame features ``f`` for preprocessed frames ``(N, H, W, C)``."""
        return to_numpy(self._features_fn(np.asarray(x, np.float32)))

    def head_logits(self, f: np.ndarray) -> np.ndarray:
        """Logits ``(B, K)`` for feature sequences ``(B, T, *F)``."""
        return to_numpy(self._head_fn(np.asarray(f, np.float32)))

    def probabilities(self, logits) -> np.ndarray:
        logits = np.asarray(logits, np.float32)
        if self.output_activation == "softmax":
            return scipy.special.softmax(logits, axis=-1)
        return scipy.special.expit(logits)

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

    def score(self, clip: Clip, stride: int | None = None,
              progress: Callable[[int, int], None] | None = None, batch_frames: int | None = None,
              prefetch: bool | None = None, checkpoint: str | Path | None = None) -> Timeline:
        """Score every window of a clip.

        The clip is first sampled to the card's frame rate (:meth:`sampled`): window numbers,
        frames and strides count the model's frames; times stay the file's seconds.
        Each frame goes through the CNN once, however many windows hold it: features are
        cached per frame and only the head runs per window. Decoding streams, so memory holds
        a window's worth of features, not the clip.

        Args:
            batch_frames: frames per CNN batch (default: :meth:`batch_frames`).
            prefetch: decode the next frames in a thread while the model runs (default: on a
                GPU, where the model would otherwise wait for the decoder).
            checkpoint: a file that keeps each finished window as it is scored; a run after a
                kill finds there the windows already done (for this clip, model and setting:
                anything else is set aside) and starts decoding at the first one missing. The
                file goes when the run completes.

        Raises:
            ExplanationError: a stride that is not a whole number >= 1. ModelError:
            non-finite scores.
        """
        from .scoring import Checkpoint
        keep = Checkpoint(checkpoint) if checkpoint is not None else None
        timeline = score(self, self.sampled(clip), stride, progress, batch_frames or self.batch_frames(), prefetch,
                         checkpoint=keep)
        if keep is not None:
            keep.finish()
            timeline.resumed_windows, timeline.checkpoint_note = keep.reused, keep.note
        return timeline

    def sampled(self, clip: Clip) -> Clip:
        """The clip as this model sees it: sampled by its timestamps to the card's ``frame_rate``
        (:meth:`~crnnaudit.footage.video.Clip.at_rate`; every decoded frame when the card has
        none). Scoring does it itself; whoever takes a window of a clip takes it of this."""
        return clip.at_rate(self.card.frame_rate)

    def verify(self, window: Window | np.ndarray | None = None, seed: int = 0) -> float:
        """Largest |original - decomposed| over the output probabilities on one window.

        Args:
            window: a :class:`Window`, raw uint8 frames ``(T, H, W, 3)``, or ``None`` for
                random frames (seeded; computed once per model and seed).
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
        with ADAPTER.inference():
            original = to_numpy(self.model(x, training=False))
        b, t = x.shape[:2]
        f = self.frame_features(x.reshape((b * t,) + x.shape[2:])).reshape((b, t) + self.feature_shape)
        ours = self.probabilities(self.head_logits(f))
        if not (np.all(np.isfinite(original)) and np.all(np.isfinite(ours))):
            raise ModelError(f"{self.name}: the model produced non-finite outputs on the check window")
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
        recurrent = [x.name for x in all_layers(self.model) if isinstance(x, RECURRENT_TYPES)]
        return {"source": str(self.source) if self.source else None, "sha256": self.sha256, "registry": self.registry,
                "input": [None, self.window_length_fixed, *self.frame_shape],
                "window_length": self.window_length, "per_frame_layers": self.per_frame_layers,
                "target_layer": self.target_layer,
                "conv_maps": list(self.conv.outputs[0].shape[1:]) if self.conv else None,
                "feature_shape": list(self.feature_shape), "recurrent_layers": recurrent,
                "outputs": self.n_outputs, "output_activation": self.output_activation,
                "capabilities": self.capabilities.as_dict()}
