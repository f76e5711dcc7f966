"""Training the demo: the frozen VGG19 part, the trainable tail, the cached maps, the loop.

See :mod:`crnnaudit.demo.model` for the recipe and why.
"""

from __future__ import annotations

import numpy as np

from .synth import CLASSES
from .paths import FRAMES, FROZEN_UNTIL, SIZE, TRAINABLE


def build_parts(seed: int, units: int):
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(seed)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    gap = L.GlobalAveragePooling2D(name="frame_pool")  # global max pooling learnt slower here
    gru = L.GRU(units, name="gru")
    dense = L.Dense(32, activation="relu", name="mlp")
    drop = L.Dropout(0.3, name="dropout")
    out = L.Dense(len(CLASSES), activation="softmax", name="classes")
    inp = keras.Input((FRAMES, SIZE, SIZE, 3), name="clip")
    y = L.TimeDistributed(vgg, name="td_vgg19")(inp)
    y = L.TimeDistributed(gap, name="td_pool")(y)
    full = keras.Model(inp, out(drop(dense(gru(y)))), name="demo_vgg19_gru")
    frozen = keras.Model(vgg.input, vgg.get_layer(FROZEN_UNTIL).output, name="frozen_vgg19")
    tail = Tail(vgg.get_layer(TRAINABLE), vgg.get_layer("block5_pool"), gap, gru, dense, drop, out)
    return full, frozen, tail


class Tail:
    """The trainable part on cached block5_conv3 maps, built from the full model's own layer
    objects (trained in place, so the saved model needs no copying)."""

    def __init__(self, conv4, pool5, gap, gru, mlp, drop, out):
        self.conv4, self.pool5, self.gap = conv4, pool5, gap
        self.gru, self.mlp, self.drop, self.out = gru, mlp, drop, out

    def logits(self, maps: np.ndarray) -> np.ndarray:
        """Inference logits ``(B, K)`` for cached maps ``(B, T, 7, 7, 512)``."""
        import tensorflow as tf
        if not hasattr(self, "_infer"):
            @tf.function
            def infer(x):
                a = self.conv4(tf.reshape(x, (-1,) + tuple(x.shape[2:])))
                return self.logits_from(a, tf.shape(x)[0], tf.shape(x)[1], False)
            self._infer = infer
        return self._infer(tf.constant(maps, tf.float32)).numpy()

    def logits_from(self, a, b, t, training: bool):
        import tensorflow as tf
        p = self.gap(self.pool5(a))
        h = self.drop(self.mlp(self.gru(tf.reshape(p, (b, t, p.shape[-1])), training=training)),
                      training=training)
        return tf.matmul(h, self.out.kernel) + self.out.bias

    @property
    def variables(self):
        return [v for layer in (self.conv4, self.gru, self.mlp, self.out) for v in layer.trainable_variables]

    def train_step(self, optimizer, l1: float, guidance: float):
        """A compiled step: cross-entropy + L1 on block5_conv4's maps + Grad-CAM guidance.

        Guidance: for each frame that shows the event, Grad-CAM of the true class (per-frame
        weights, as the engine computes it) before its ReLU, scaled to [-8, 8], is read as
        logits over the 7 x 7 cells; the loss is the cross-entropy of the cells that hold the
        event. Its gradient flows through the Grad-CAM weights too (a second-order term).
        """
        import tensorflow as tf

        @tf.function
        def step(x, y, cells):
            with tf.GradientTape() as tape:
                with tf.GradientTape() as inner:
                    b, t = tf.shape(x)[0], tf.shape(x)[1]
                    a = self.conv4(tf.reshape(x, (-1,) + tuple(x.shape[2:])))
                    inner.watch(a)
                    logits = self.logits_from(a, b, t, True)
                    true_logit = tf.reduce_sum(tf.gather(logits, y, batch_dims=1))
                grads = inner.gradient(true_logit, a)
                weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
                cam = tf.reshape(tf.reduce_sum(weights * a, -1), (-1, a.shape[1] * a.shape[2]))
                cam = 8.0 * cam / (tf.reduce_max(tf.abs(cam), -1, keepdims=True) + 1e-6)
                inside = tf.reshape(cells, tf.shape(cam))
                shown = tf.cast(tf.reduce_max(inside, -1) > 0, tf.float32)
                miss = tf.reduce_logsumexp(cam, -1) - tf.reduce_logsumexp(cam + tf.math.log(inside + 1e-9), -1)
                guide = tf.reduce_sum(miss * shown) / (tf.reduce_sum(shown) + 1e-6)
                ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
                sparse = l1 * tf.reduce_sum(tf.abs(a)) / tf.cast(b, tf.float32)
                loss = ce + sparse + guidance * guide
            variables = self.variables
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            return ce, guide
        return step


def event_cells(masks: np.ndarray, cells: int = 7) -> np.ndarray:
    """Which of the ``cells x cells`` conv cells hold the event, per frame: the mask read at
    each cell's centre (the frame is resized to the model's square input, so cell ``i`` is
    centred at ``(i + 0.5) / cells`` of the height and width); a frame whose event falls
    between centres gets the cell its mask covers most. ``(N, H, W)`` bool ->
    ``(N, cells, cells)`` float32."""
    import cv2
    n, h, w = masks.shape
    ys = ((np.arange(cells) + 0.5) * h / cells).astype(int)
    xs = ((np.arange(cells) + 0.5) * w / cells).astype(int)
    out = masks[:, ys][:, :, xs].astype(np.float32)
    for t in np.flatnonzero(masks.reshape(n, -1).any(1) & ~out.reshape(n, -1).any(1)):
        cover = cv2.resize(masks[t].astype(np.float32), (cells, cells), interpolation=cv2.INTER_AREA)
        out[t][np.unravel_index(int(cover.argmax()), cover.shape)] = 1.0
    return out


def rescale_init(conv, maps: np.ndarray, seed: int) -> None:
    """Re-initialise the trainable conv for the scale of its real inputs.

    Through 15 random conv layers the activations shrink to about 1/50 of their input's
    scale, so a default-initialised block5_conv4 hands the GRU near-constant features and
    training stalls. He initialisation divided by the inputs' RMS (data-dependent, as in
    LSUV) gives outputs of unit scale; it is a choice of initial weights, so the architecture
    stays exactly VGG19.
    """
    rms = float(np.sqrt(np.mean(np.square(maps[: min(len(maps), 32)].astype(np.float32)))))
    kernel, bias = conv.get_weights()
    fan_in = kernel.shape[0] * kernel.shape[1] * kernel.shape[2]
    rng = np.random.default_rng(seed)
    conv.set_weights([rng.normal(0, np.sqrt(2.0 / fan_in) / max(rms, 1e-6), kernel.shape).astype(kernel.dtype),
                      np.zeros_like(bias)])


def cache_maps(frozen, paths, progress, label):
    """Each clip opened once: its frames through the frozen layers (the cached maps) and its
    mask read as :func:`event_cells` (the Grad-CAM guidance targets)."""
    from ..model import preprocess
    from ..video import open_clip
    feats = np.zeros((len(paths), FRAMES, 7, 7, 512), np.float16)
    cells = np.zeros((len(paths), FRAMES, 7, 7), np.float32)
    for i, (path, _) in enumerate(paths):
        clip = open_clip(path)
        w = clip.window(0, FRAMES, FRAMES, (SIZE, SIZE))
        feats[i] = frozen.predict_on_batch(preprocess(w.frames, "vgg19")).astype(np.float16)
        cells[i] = event_cells(clip.ground_truth.masks[:FRAMES])
        if progress:
            progress(f"caching VGG19 features ({label})", i + 1, len(paths))
    return feats, cells




def train(tail, x_train, cells_train, y_train, x_val, y_val, *, epochs: int, learning_rate: float,
          l1: float, guidance: float, seed: int, batch: int = 8, progress=None) -> tuple[list, int | None]:
    """Train the tail in place; keep the settled epoch with the best validation accuracy.

    A constant rate, then 0.3x for the last third so the weights settle: at a constant 1e-3
    held-out accuracy swung 0.90 -> 0.75 -> 0.87 between epochs; cosine decay learnt too
    slowly (0.79 after 24 epochs). Even settled, builds differed (CPU training is not
    bit-exact): accuracy 0.84-0.90 over five builds. So the weights kept are those of the
    settled epoch with the best accuracy on separate validation clips.

    Returns:
        The per-epoch history and the epoch kept (1-based).
    """
    import keras
    optimizer = keras.optimizers.Adam(learning_rate)
    settle = (2 * epochs) // 3
    step = tail.train_step(optimizer, l1, guidance)
    rng = np.random.default_rng(seed)
    history, best = [], (-1.0, None, None)
    for epoch in range(epochs):
        if epoch == settle:
            optimizer.learning_rate.assign(learning_rate * 0.3)
        order = rng.permutation(len(x_train))
        losses = [[float(v) for v in step(x_train[order[i:i + batch]].astype(np.float32),
                                          y_train[order[i:i + batch]], cells_train[order[i:i + batch]])]
                  for i in range(0, len(order), batch)]
        ce, guide = np.mean(losses, axis=0)
        val_logits = np.concatenate([tail.logits(x_val[i:i + 16]) for i in range(0, len(x_val), 16)])
        val_acc = float((val_logits.argmax(1) == y_val).mean()) if len(y_val) else 0.0
        history.append({"loss": round(float(ce), 4), "guidance_loss": round(float(guide), 4),
                        "validation_accuracy": round(val_acc, 4)})
        if epoch >= settle and val_acc >= best[0]:  # ties: the later epoch
            best = (val_acc, epoch + 1, [v.numpy() for v in tail.variables])
        if progress:
            progress("training block5_conv4 + GRU", epoch + 1, epochs)
    if best[2] is not None:
        for v, value in zip(tail.variables, best[2]):
            v.assign(value)
    return history, best[1]
