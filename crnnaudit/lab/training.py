"""Training the demo on labels alone: the frozen VGG19 part, the trainable tail, the loop.

Each training clip is as long as the sample clips (48 frames) and its event starts anywhere.
Every frame goes once through the frozen layers (up to ``block5_conv3``) and its maps are
kept. Each step takes a batch of clips, runs ``block5_conv4`` and the pooling once per frame,
then the GRU head on every window of those clips (windows before, across and inside the
event), each labelled as the evaluation labels it: the clip's class when at least half of the
window lies in the event, else ``normal``. Overlapping windows share their frames' conv work,
as they do when the app scores a clip. There is no loss term on any explanation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..demo.architecture import build_model
from ..demo.paths import FRAMES, FROZEN_UNTIL, SIZE, TRAINABLE

WINDOW_STEP = 4  # training windows start every 4 frames (the app's stride is 8)


def build_parts(seed: int, units: int, trunk: dict | None = None):
    """The full model (:func:`crnnaudit.demo.architecture.build_model`), its frozen part (to
    ``block5_conv3``) and its trainable tail, sharing layer objects. A pretrained ``trunk``
    (:func:`~crnnaudit.lab.pretrain.read_trunk`'s arrays) replaces VGG19's conv weights
    (screening only: the shipped recipe keeps the random ones, docs *The demo model*)."""
    import keras
    full = build_model(seed, units)
    vgg = full.get_layer("td_vgg19").layer
    if trunk is not None:
        from .pretrain import load_trunk
        load_trunk(vgg, trunk)
    frozen = keras.Model(vgg.input, vgg.get_layer(FROZEN_UNTIL).output, name="frozen_vgg19")
    tail = Tail(vgg.get_layer(TRAINABLE), vgg.get_layer("block5_pool"), full.get_layer("td_pool").layer,
                *(full.get_layer(n) for n in ("feature_norm", "gru", "mlp", "dropout", "classes")))
    return full, frozen, tail


class Tail:
    """The trainable part on cached block5_conv3 maps, built from the full model's own layer
    objects (trained in place, so the saved model needs no copying)."""

    def __init__(self, conv4, pool5, gap, norm, gru, mlp, drop, out):
        import keras
        self.conv4, self.pool5, self.gap, self.norm = conv4, pool5, gap, norm
        self.gru, self.mlp, self.drop, self.out = gru, mlp, drop, out
        # Training only: which class each frame shows, read off its pooled features. Frame
        # labels come from the event's interval (a label, not an explanation); this layer is
        # not part of the saved model.
        self.frame_head = keras.layers.Dense(out.units, name="frame_labels")
        self._features = None

    @property
    def layers(self) -> list:
        return [self.conv4, self.gru, self.mlp, self.out]  # trained (feature_norm: adapted once)

    @property
    def variables(self) -> list:
        return [v for layer in self.layers + [self.frame_head] for v in layer.trainable_variables]

    @property
    def kept_variables(self) -> list:
        return [v for layer in self.layers for v in layer.trainable_variables]

    def frame_features(self, maps: np.ndarray, batch: int = 64) -> np.ndarray:
        """Per-frame features (what the GRU reads) of cached maps ``(N, 7, 7, 512)``."""
        import tensorflow as tf
        if self._features is None:
            self._features = tf.function(lambda a: self.gap(self.pool5(self.conv4(a))))
        return np.concatenate([self._features(tf.constant(maps[i:i + batch], tf.float32)).numpy()
                               for i in range(0, len(maps), batch)])

    def window_logits(self, f, starts, training: bool):
        """Logits of every window ``starts`` of each clip's per-frame features ``(B, F, D)``."""
        import tensorflow as tf
        seqs = self.norm(tf.concat([f[:, s:s + FRAMES] for s in starts], axis=0))  # (S*B, T, D)
        h = self.drop(self.mlp(self.gru(seqs, training=training)), training=training)
        return tf.matmul(h, self.out.kernel) + self.out.bias

    @property
    def head_variables(self) -> list:
        return [v for layer in (self.gru, self.mlp, self.out) for v in layer.trainable_variables]

    def _losses(self, p, y, yf, starts, smoothing):
        """The windows' cross-entropy (labels smoothed) and the frames' class cross-entropy,
        from per-frame features ``p`` ``(B, F, D)``."""
        import tensorflow as tf
        logits = self.window_logits(p, starts, True)
        k = logits.shape[-1]
        soft = tf.one_hot(y, k) * (1 - smoothing) + smoothing / k
        ce = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(soft, logits))
        frame_logits = self.frame_head(tf.reshape(p, (-1, p.shape[-1])))
        return ce, tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(yf, frame_logits))

    def head_step(self, optimizer, starts: list[int], frame_weight: float, smoothing: float = 0.0):
        """A compiled step of the head alone on per-frame features ``(B, F, D)`` (block5_conv4
        fixed); the same losses as :meth:`train_step` without the conv's L1 term."""
        import tensorflow as tf

        @tf.function
        def step(x, y, yf):
            with tf.GradientTape() as tape:
                ce, frame_ce = self._losses(x, y, yf, starts, smoothing)
                loss = ce + frame_weight * frame_ce
            variables = self.head_variables + self.frame_head.trainable_variables  # built by now
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return ce
        return step

    def train_step(self, optimizer, starts: list[int], l1: float, frame_weight: float, smoothing: float = 0.0):
        """A compiled step on a batch of clips' maps ``(B, F, 7, 7, 512)``, window labels
        ``(S*B,)`` (window-major) and frame labels ``(B*F,)``: the windows' cross-entropy, the
        frames' (weighted) and an L1 penalty on block5_conv4's maps."""
        import tensorflow as tf

        @tf.function
        def step(x, y, yf):
            with tf.GradientTape() as tape:
                b, n = tf.shape(x)[0], tf.shape(x)[1]
                a = self.conv4(tf.reshape(x, (-1,) + tuple(x.shape[2:])))
                p = self.gap(self.pool5(a))
                ce, frame_ce = self._losses(tf.reshape(p, (b, n, p.shape[-1])), y, yf, starts, smoothing)
                loss = ce + frame_weight * frame_ce + l1 * tf.reduce_sum(tf.abs(a)) / tf.cast(b * n, tf.float32)
            variables = self.variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return ce
        return step


def window_starts(frames: int) -> list[int]:
    return list(range(0, frames - FRAMES + 1, WINDOW_STEP))


def window_labels(in_event: np.ndarray, classes: np.ndarray, starts: list[int]) -> np.ndarray:
    """``(S, N)`` labels: the clip's class where at least half the window is in the event."""
    inside = np.stack([in_event[:, s:s + FRAMES].sum(axis=1) for s in starts])  # (S, N)
    return np.where(2 * inside >= FRAMES, classes[None, :], 0).astype(np.int32)


def init_tail(tail, maps: np.ndarray, seed: int) -> None:
    """Initial weights for the scale of the real inputs: :func:`rescale_init` for the
    trainable conv, then the features' per-channel mean and variance (fixed, saved with the
    model) for the normalisation before the GRU. Without it the GRU reads features that
    barely vary around a large mean (ReLU outputs, pooled) and training stalls at the prior."""
    rescale_init(tail.conv4, maps, seed)
    sample = maps.reshape((-1,) + maps.shape[-3:])
    idx = np.random.default_rng(seed).choice(len(sample), min(len(sample), 1024), replace=False)
    tail.norm.adapt(tail.frame_features(sample[np.sort(idx)])[None])  # (1, N, D): built for (B, T, D)


def rescale_init(conv, maps: np.ndarray, seed: int) -> None:
    """Re-initialise the trainable conv for the scale of its real inputs.

    Through 15 random conv layers the activations shrink to about 1/50 of their input's
    scale, so a default-initialised block5_conv4 hands the GRU near-constant features and
    training stalls. He initialisation divided by the inputs' RMS (data-dependent, as in
    LSUV) gives outputs of unit scale; it is a choice of initial weights, so the architecture
    stays exactly VGG19.
    """
    sample = maps.reshape((-1,) + maps.shape[-3:])[:256]
    rms = float(np.sqrt(np.mean(np.square(sample.astype(np.float32)))))
    kernel, bias = conv.get_weights()
    fan_in = kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
    rng = np.random.default_rng(seed)
    conv.set_weights([rng.normal(0, np.sqrt(2.0 / fan_in) / max(rms, 1e-6), kernel.shape).astype(kernel.dtype),
                      np.zeros_like(bias)])


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512_BF16 or AMX): there the frozen
    layers run twice as fast in bfloat16; elsewhere bfloat16 is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class FrozenMaps:
    """Runs the frozen layers for caching, in ``precision``: ``"float32"`` (what the app
    computes) or ``"bfloat16"`` (a twin with the same weights computing in bfloat16, outputs
    returned as float32; the maps differ from float32's by about 1% of their mean magnitude)."""

    def __init__(self, frozen, precision: str):
        import keras
        if precision not in ("float32", "bfloat16"):
            raise ValueError(f"precision must be float32 or bfloat16, got {precision!r}")
        self.precision, self.model = precision, frozen
        if precision == "bfloat16":
            old = keras.config.dtype_policy()
            keras.config.set_dtype_policy("mixed_bfloat16")
            try:
                vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
            finally:
                keras.config.set_dtype_policy(old)
            self.model = keras.Model(vgg.input, vgg.get_layer(FROZEN_UNTIL).output, name="frozen_vgg19_bf16")
            self.model.set_weights(frozen.get_weights())

    def predict_on_batch(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_on_batch(x)).astype(np.float32)


def cache_maps(frozen, paths, progress, label):
    """Every frame of each clip through the frozen layers, read as the app reads it:
    maps ``(N, F, 7, 7, 512)``, whether each frame is in the event ``(N, F)``, classes.
    The next clip is decoded in a thread while the frozen layers run on this one."""
    from concurrent.futures import ThreadPoolExecutor
    from ..model import preprocess
    maps, in_event = [], []
    with ThreadPoolExecutor(1) as pool:
        ahead = pool.submit(decode_clip, paths[0][0]) if paths else None
        for i in range(len(paths)):
            frames, event = ahead.result()
            if i + 1 < len(paths):
                ahead = pool.submit(decode_clip, paths[i + 1][0])
            maps.append(np.concatenate([frozen.predict_on_batch(preprocess(frames[j:j + 24], "vgg19"))
                                        for j in range(0, len(frames), 24)]))
            in_event.append(event)
            if progress:
                progress(f"caching VGG19 features ({label})", i + 1, len(paths))
    return np.stack(maps), np.stack(in_event), np.array([c for _, c in paths], np.int32)


def decode_clip(path) -> tuple[np.ndarray, np.ndarray]:
    """A clip's frames as the app reads them and whether each lies in the event."""
    from ..footage.video import open_clip
    clip = open_clip(path)
    frames = np.stack([img for _, img in clip.iter_frames(0, clip.frame_count, (SIZE, SIZE))])
    truth = clip.ground_truth
    return frames, np.array([truth.frame_is_anomalous(t) for t in range(len(frames))])


def train(tail, data, val, *, epochs: int, head_epochs: int, learning_rate: float, l1: float, seed: int,
          batch: int = 4, frame_weight: float = 1.0, smoothing: float = 0.0, progress=None) -> list[dict]:
    """Train the tail in place on ``data = (maps, in_event, classes)``, in two phases.

    1. ``block5_conv4`` and the head together on the cached maps for ``epochs`` (the costly
       part: one conv layer per frame, forward and backward).
    2. ``block5_conv4`` fixed: each frame's pooled features computed once, the head alone
       trained ``head_epochs`` more on them (a GRU over 16 steps: seconds per epoch). With
       4 + 30 epochs the held-out figures matched 14 epochs of phase 1 alone in a third of
       the time (README, *The demo model*).

    Each phase keeps the average of its settled epochs' weights (the last third, at 0.3x the
    rate: stochastic weight averaging, Izmailov et al. 2018), which generalised better here
    than the single epoch with the best validation accuracy; ``val`` is reported per epoch.

    Returns:
        The per-epoch history (phase, loss, validation window accuracy).
    """
    maps, in_event, classes = data
    starts = window_starts(maps.shape[1])
    labels = window_labels(in_event, classes, starts)  # (S, N)
    frame_labels = np.where(in_event, classes[:, None], 0).astype(np.int32)  # (N, F)
    val_features = lambda: pooled_features(tail, val[0])  # noqa: E731
    val_labels = window_labels(val[1], val[2], starts)
    rng = np.random.default_rng(seed)

    def conv_and_head(step, idx):
        return step(maps[idx], labels[:, idx].reshape(-1), frame_labels[idx].reshape(-1))
    history = _phase("block5_conv4 + head", lambda opt: tail.train_step(opt, starts, l1, frame_weight, smoothing),
                     conv_and_head, tail.kept_variables, len(maps), epochs, learning_rate, batch, rng,
                     lambda: window_accuracy(tail, val_features(), val_labels, starts), progress)
    if head_epochs:
        features = pooled_features(tail, maps)  # block5_conv4 is fixed from here: once per frame
        held = val_features()

        def head_only(step, idx):
            return step(features[idx], labels[:, idx].reshape(-1), frame_labels[idx].reshape(-1))
        history += _phase("head", lambda opt: tail.head_step(opt, starts, frame_weight, smoothing), head_only,
                          tail.head_variables, len(maps), head_epochs, learning_rate, batch, rng,
                          lambda: window_accuracy(tail, held, val_labels, starts), progress)
    return history


def _phase(name, make_step, run, kept, n, epochs, learning_rate, batch, rng, validate, progress) -> list[dict]:
    """``epochs`` epochs of ``run(step, clip indices)`` in shuffled batches; then the
    ``kept`` variables take the average of the settled epochs' values."""
    import keras
    optimizer = keras.optimizers.Adam(learning_rate)
    step = make_step(optimizer)
    settle = (2 * epochs) // 3
    history, total, averaged = [], None, 0
    for epoch in range(epochs):
        if epoch == settle:
            optimizer.learning_rate.assign(learning_rate * 0.3)
        order = rng.permutation(n)
        ce = np.mean([float(run(step, order[i:i + batch])) for i in range(0, n, batch)])
        history.append({"phase": name, "loss": round(float(ce), 4), "validation_window_accuracy": round(validate(), 4)})
        if epoch >= settle:
            now = [v.numpy().astype(np.float64) for v in kept]
            total = now if total is None else [a + b for a, b in zip(total, now)]
            averaged += 1
        if progress:
            progress(f"training {name} (labels only)", epoch + 1, epochs)
    for v, value in zip(kept, total or []):
        v.assign((value / averaged).astype(v.dtype))
    if total is not None:
        history.append({"phase": name, "averaged_epochs": averaged, "validation_window_accuracy": round(validate(), 4)})
    return history


def pooled_features(tail, maps: np.ndarray) -> np.ndarray:
    """Per-frame pooled features ``(N, F, D)`` of cached maps ``(N, F, 7, 7, 512)``."""
    if not len(maps):
        return np.zeros(maps.shape[:2] + (0,), np.float32)
    f = tail.frame_features(maps.reshape((-1,) + maps.shape[2:]))
    return f.reshape(maps.shape[:2] + (-1,)).astype(np.float32)


def window_accuracy(tail, features: np.ndarray, labels: np.ndarray, starts: list[int]) -> float:
    """Share of windows whose argmax is their label, from per-frame features ``(N, F, D)``."""
    if not len(features):
        return 0.0
    logits = tail.window_logits(features, starts, False).numpy()
    return float((logits.argmax(1) == labels.reshape(-1)).mean())
