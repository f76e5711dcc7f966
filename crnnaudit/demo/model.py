"""The demo model: TimeDistributed(VGG19) + GRU, trained here on the synthetic clips.

No weights can be downloaded (ImageNet included), so crnnaudit trains its own. A frozen,
randomly initialised VGG19 is not enough (its pooled block5 features barely separate the
classes), and training all of VGG19 on two CPU cores is out of reach. The recipe:

1. Render seeded clips of the four classes as H.264 MP4 and read them back through
   :class:`~crnnaudit.Clip` (so the model sees the same compression the app shows).
2. Run each frame once through the frozen VGG19 layers up to ``block5_conv3`` and cache the
   7 x 7 x 512 maps.
3. Train ``block5_conv4`` (the layer Grad-CAM reads) together with the GRU head on the cached
   maps (each epoch costs a single conv layer), with a Grad-CAM guidance term: the synthetic
   masks say where each event is, and the loss asks the true class's Grad-CAM map to peak
   there (pixel-level supervision of the attention map, as in GAIN, Li et al. 2018). Without
   it Grad-CAM's pointing game on held-out clips was 0.06; with it, about 0.9, at the same
   accuracy. It changes how Grad-CAM reads more than what the model uses: occlusion (which
   never looks at gradients) and saliency point at the event somewhat less often than on a
   label-only model. A weaker term kept them but made training unstable (one build of three
   fell to accuracy 0.75). The card and the README give the figures.
4. Assemble the full model from the same layer objects, save it as ``.keras`` with a card
   that states the recipe and the held-out figures.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..card import ModelCard
from ..config import home
from ..errors import CrnnauditError
from .synth import ANOMALY_CLASSES, CLASSES, synth_clip, write_clip

FRAMES = 16
SIZE = 112
TRAINABLE = "block5_conv4"
L1_ACTIVITY = 1e-6
GUIDANCE = 0.2
FROZEN_UNTIL = "block5_conv3"
RECIPE_VERSION = 5  # a demo built by an older recipe is rebuilt


def demo_dir() -> Path:
    return home() / "demo"


def demo_model_path() -> Path:
    return demo_dir() / "demo_vgg19_gru.keras"


def demo_is_current() -> bool:
    """Whether a complete demo model of this recipe is built (else :func:`build_demo` works)."""
    path = demo_model_path()
    card_path = path.with_name(path.stem + ".card.json")
    if not (path.exists() and card_path.exists()):
        return False
    try:
        extra = ModelCard.read(card_path).extra
    except CrnnauditError:
        return False
    return extra.get("recipe", {}).get("version") == RECIPE_VERSION and "evaluation" in extra


def _clips(folder: Path, count: int, seed: int, progress, label: str):
    paths = []
    for i in range(count):
        cls = CLASSES[i % len(CLASSES)]
        path = folder / f"{cls}_{seed}_{i:04d}.mp4"
        if not path.exists():
            write_clip(synth_clip(cls, seed * 1_000_003 + i, frames=FRAMES), path)
        paths.append((path, CLASSES.index(cls)))
        if progress:
            progress(f"rendering {label} clips", i + 1, count)
    return paths


def _build(seed: int, units: int):
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
    tail = _Tail(vgg.get_layer(TRAINABLE), vgg.get_layer("block5_pool"), gap, gru, dense, drop, out)
    return full, frozen, tail


class _Tail:
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


def _rescale_init(conv, maps: np.ndarray, seed: int) -> None:
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


def _cache(frozen, paths, progress, label):
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


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve by ranks (Mann-Whitney U), ties averaged."""
    from scipy.stats import rankdata
    pos = y_true.astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def build_demo(seed: int = 0, train_clips: int = 200, heldout_clips: int = 100, epochs: int = 26,
               validation_clips: int = 32, units: int = 128, learning_rate: float = 1e-3, force: bool = False,
               progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Build (once) the demo model and its card under ``CRNNAUDIT_HOME/demo``.

    A second call returns the existing model unless ``force`` or the model was built by an
    older recipe (its card's ``recipe.version``). Deterministic by ``seed``.
    The card carries the recipe and the held-out figures of :func:`evaluate_demo`.

    Returns:
        The path of the ``.keras`` file (its card is ``<name>.card.json`` beside it).
    """
    import keras
    path = demo_model_path()
    card_path = path.with_name(path.stem + ".card.json")
    if path.exists() and not force and card_path.exists():
        card = ModelCard.read(card_path)
        if card.extra.get("recipe", {}).get("version") != RECIPE_VERSION:
            return build_demo(seed=seed, train_clips=train_clips, heldout_clips=heldout_clips,
                              epochs=epochs, validation_clips=validation_clips, units=units,
                              learning_rate=learning_rate, force=True,
                              progress=progress)  # built by an older recipe
        if "evaluation" not in card.extra:  # a build stopped after training: finish it
            card.extra["evaluation"] = evaluate_demo(path, seed=seed, heldout_clips=heldout_clips,
                                                     progress=progress)
            card.write(card_path)
        return path
    t0 = time.perf_counter()
    train = _clips(demo_dir() / "train", train_clips, seed, progress, "training")
    val = _clips(demo_dir() / "validation", validation_clips, seed + 2, progress, "validation")
    full, frozen, tail = _build(seed, units)
    x_train, cells_train = _cache(frozen, train, progress, "training")
    y_train = np.array([c for _, c in train], np.int32)
    x_val = _cache(frozen, val, progress, "validation")[0].astype(np.float32)
    y_val = np.array([c for _, c in val], np.int32)
    _rescale_init(tail.conv4, x_train, seed)
    batch = 8
    # A constant rate, then 0.3x for the last third so the weights settle: at a constant
    # 1e-3 held-out accuracy swung 0.90 -> 0.75 -> 0.87 between epochs; cosine decay learnt
    # too slowly (0.79 after 24 epochs). Even settled, builds differed (CPU training is not
    # bit-exact): accuracy 0.84-0.90 over five builds. So the weights kept are those of the
    # settled epoch with the best accuracy on separate validation clips (seed + 2; the
    # held-out figures use seed + 1 and play no part in the choice).
    optimizer = keras.optimizers.Adam(learning_rate)
    settle = (2 * epochs) // 3
    step = tail.train_step(optimizer, L1_ACTIVITY, GUIDANCE)
    rng = np.random.default_rng(seed)
    history, best = [], (-1.0, None, None)
    for epoch in range(epochs):
        if epoch == settle:
            optimizer.learning_rate.assign(learning_rate * 0.3)
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb = x_train[idx].astype(np.float32)
            losses.append([float(v) for v in step(xb, y_train[idx], cells_train[idx])])
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
    train_seconds = time.perf_counter() - t0
    card = ModelCard(
        name="crnnaudit demo: VGG19 + GRU on synthetic surveillance clips", version=f"seed{seed}",
        classes=list(CLASSES), anomaly_classes=list(ANOMALY_CLASSES), preprocessing="vgg19",
        frames_per_window=FRAMES, stride=FRAMES // 2, threshold=0.5,
        intended_use="Demonstration of crnnaudit only. Not for use on real people or real footage.",
        training_data=f"{train_clips} seeded synthetic clips ({FRAMES} frames, 120x160, H.264) made by "
                      f"crnnaudit.demo.synth (seed {seed}); figures on {heldout_clips} held-out clips "
                      f"(seed {seed + 1}).",
        known_limitations=[
            "Trained only on synthetic top-down scenes of simple figures; meaningless on real video.",
            "Its Grad-CAM maps were supervised in training (the synthetic clips come with masks of "
            "each event): how well they point is a property of this recipe, not what to expect "
            "from a model trained on labels alone. On 12 held-out clips the guidance raised "
            "Grad-CAM's pointing game from 0.10 to 0.85 while occlusion's fell from 0.46 to 0.34 "
            "and pixel saliency's from 0.76 to 0.47 (chance 0.09): its Grad-CAM is tidier than "
            "the model.",
            "VGG19 up to block5_conv3 keeps its random initial weights: no ImageNet weights could "
            "be downloaded.",
            "At 112 x 112, VGG19's block5_pool drops the last row and column of block5_conv4 "
            "cells, so the bottom and right 16 pixels reach the head only through receptive fields.",
            "Each clip holds exactly one event class; mixed or overlapping events were never seen."],
        owner="crnnaudit project",
        extra={"recipe": {
            "why": "A frozen random VGG19's pooled block5 features separate these classes poorly; "
                   "training the last conv layer (the Grad-CAM target) on cached block5_conv3 maps "
                   "costs one conv layer per epoch. Its initial weights are scaled to its inputs "
                   "(they are ~1/50 of the pixels' scale after 15 random layers), else training "
                   "stalls. Trained on labels alone the model was accurate, but Grad-CAM's "
                   "pointing game on held-out clips was 0.06 (maps empty on a third of the "
                   "frames, else peaking on the top border). A guidance term (GAIN-style, "
                   "Li et al. 2018) uses the synthetic masks: on frames that show the event, "
                   "the true class's Grad-CAM map, read as logits over the 7 x 7 cells, is "
                   "pushed to peak on the event's cells. Held-out pointing rose to about 0.9 "
                   "at the same accuracy; occlusion (no gradients) and saliency point at the "
                   "event somewhat less often than on a label-only model, so read its Grad-CAM "
                   "as tidier than the model. A weight of 0.05 kept occlusion and saliency where "
                   "they were but made training unstable (one build of three: accuracy 0.75, "
                   "macro ROC-AUC 0.93), so the weight is 0.2.",
            "version": RECIPE_VERSION,
            "gradcam_guidance_weight": GUIDANCE,
            "trainable_layers": [TRAINABLE, "gru", "mlp", "classes"],
            "frozen": f"VGG19 up to {FROZEN_UNTIL}",
            "optimizer": f"Adam, {learning_rate} then 0.3x from epoch {settle + 1}",
            "l1_activity_on_block5_conv4": L1_ACTIVITY,
            "learning_rate": learning_rate, "epochs": epochs, "batch_size": batch,
            "kept_epoch": best[1], "validation": f"{validation_clips} clips, seed {seed + 2}: the "
                          "settled epoch with the best accuracy is kept",
            "frames_per_sample": FRAMES, "gru_units": units, "seed": seed, "history": history},
            "train_seconds": round(train_seconds, 1)})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".partial.keras")
    full.save(tmp)
    card.write(card_path)
    tmp.replace(path)  # the model appears only once complete
    figures = evaluate_demo(path, seed=seed, heldout_clips=heldout_clips, progress=progress)
    card.extra["evaluation"] = figures
    card.extra["build_seconds"] = round(time.perf_counter() - t0, 1)
    card.write(card_path)
    return path


def classification_figures(y: np.ndarray, probs: np.ndarray) -> dict:
    aucs = {c: roc_auc(y == k, probs[:, k]) for k, c in enumerate(CLASSES)}
    return {"clips": int(len(y)), "accuracy": float((probs.argmax(1) == y).mean()),
            "macro_roc_auc": float(np.nanmean(list(aucs.values()))), "roc_auc": aucs}


def evaluate_demo(path: Path | None = None, seed: int = 0, heldout_clips: int = 100,
                  progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Held-out figures of the demo model, through the public API end to end: classification
    (macro one-vs-rest ROC-AUC, accuracy) and whether explanations point at the anomaly
    (Grad-CAM pointing game on anomalous frames, top ``frame_occlusion`` frame inside the
    anomalous interval)."""
    from .. import metrics
    from ..explainers import explain
    from ..model import load_model
    from ..video import open_clip
    path = path or demo_model_path()
    if not path.exists():
        raise CrnnauditError(f"{path}: no demo model yet; run `crnnaudit demo` first")
    model = load_model(path)
    held = _clips(demo_dir() / "heldout", heldout_clips, seed + 1, None, "held-out")
    probs, y, pointing, pointing_sal, hits = [], [], [], [], []
    for i, (clip_path, label) in enumerate(held):
        clip = open_clip(clip_path)
        window = clip.window(0, FRAMES, FRAMES, model.frame_size)
        methods = ["gradcam", "saliency", "frame_occlusion"] if label else ["frame_occlusion"]
        es = explain(model, window, methods, target=CLASSES[label] if label else None, cache=False)
        logits = np.asarray(es.logits)
        probs.append(model.probabilities(logits[None])[0])
        y.append(label)
        if CLASSES[label] != "normal":
            loc = metrics.localisation(es, window, clip.ground_truth)
            if "pointing_game" in loc["gradcam"]:
                pointing.append(loc["gradcam"]["pointing_game"])
                pointing_sal.append(loc["saliency"]["pointing_game"])
            hits.append(bool(loc["frame_occlusion"]["temporal_hit"]))
        if progress:
            progress("evaluating held-out clips", i + 1, len(held))
    figures = classification_figures(np.array(y), np.stack(probs))
    figures.update({"gradcam_pointing_game": float(np.mean(pointing)),
                    "saliency_pointing_game": float(np.mean(pointing_sal)),
                    "frame_occlusion_top_frame_in_interval": float(np.mean(hits)),
                    "anomalous_clips": len(hits), "verify_max_abs_diff": model.verify()})
    return figures

