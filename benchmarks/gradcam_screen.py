"""Screening demo recipes for Grad-CAM: which part of block 5 to train, and where the maps point.

This screens the shipped recipe's *random* trunk (the VGG19 below block 5 at its seeded initial
weights, saved once by ``cache``); ``benchmarks/trunk_screen.py`` screens on a pretrained one.

Issue 21 asks for a demo on which Grad-CAM points at the event (pointing game >= 0.5). Rebuilding
and evaluating the demo through the app's path takes about 20 minutes per candidate; this script
screens candidates in a few: it caches the frozen VGG19 (random weights, seed 0) up to
``block4_pool`` once for the 224 training clips (bfloat16 where the CPU has it), the 16 validation
clips and the 40 *selection* clips of seed 77 (never the evaluation seeds), then trains the
demo's tail (``crnnaudit.lab.training``: the same losses, labels only) with block 5 trainable
from ``--first`` on, and measures on the selection clips' anomalous top windows, per event frame,
whether the peak of each map lies in the event:

- ``gradcam``: Grad-CAM at ``block5_conv4``, as the engine computes it;
- ``positive_weights``: the same sum over the channels with a positive Grad-CAM weight only;
- ``clip_weights``: Grad-CAM with each channel's weight averaged over the window's frames;
- ``gradient``: the gradient at ``block5_conv4`` summed over channels (where the decision flows);
- ``activation``: the summed ``block5_conv4`` activations (where the layer responds at all).

These are diagnostics, not methods the product offers. Run:

    python benchmarks/gradcam_screen.py cache
    python benchmarks/gradcam_screen.py train --first block5_conv4 --epochs 4
    python benchmarks/gradcam_screen.py train --first block5_conv3 --epochs 6
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

WORK = Path("/tmp/crnnaudit-gradcam-screen")
BLOCK5 = ["block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4"]


def cache(work: Path) -> None:
    import keras
    from crnnaudit.demo.paths import SIZE, render_clips
    from crnnaudit.lab.training import decode_clip, native_bfloat16
    from crnnaudit.model import preprocess
    from crnnaudit.footage.video import open_clip
    sets = {"train": render_clips(work / "train", 224, 0, None, "train", anywhere=True),
            "val": render_clips(work / "val", 16, 2, None, "val", anywhere=True),
            "sel": render_clips(work / "sel", 40, 77, None, "sel")}
    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    vgg.save_weights(work / "vgg.weights.h5")
    nets = {"float32": keras.Model(vgg.input, vgg.get_layer("block4_pool").output)}
    if native_bfloat16():
        old = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16")
        twin = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
        keras.config.set_dtype_policy(old)
        twin.set_weights(vgg.get_weights())
        nets["bfloat16"] = keras.Model(twin.input, twin.get_layer("block4_pool").output)
    for name, paths in sets.items():
        net = nets.get("bfloat16", nets["float32"]) if name == "train" else nets["float32"]
        maps, events, masks = [], [], []
        for path, _ in paths:
            frames, event = decode_clip(path)
            maps.append(np.concatenate([np.asarray(net.predict_on_batch(preprocess(frames[j:j + 24], "vgg19")),
                                                   np.float16) for j in range(0, len(frames), 24)]))
            events.append(event)
            if name == "sel":
                masks.append(open_clip(path).ground_truth.masks)
        np.save(work / f"{name}_maps.npy", np.stack(maps))
        np.save(work / f"{name}_event.npy", np.stack(events))
        np.save(work / f"{name}_classes.npy", np.array([c for _, c in paths], np.int32))
        if masks:
            np.save(work / "sel_masks.npy", np.stack(masks))
        print(f"cached {name}: {len(paths)} clips", flush=True)


class Stack:
    """Consecutive layers called as one (the trainable part of block 5)."""

    def __init__(self, layers):
        self.layers = layers

    def __call__(self, a):
        for layer in self.layers:
            a = layer(a)
        return a

    @property
    def trainable_variables(self):
        return [v for layer in self.layers for v in layer.trainable_variables]


def _through(layers, maps: np.ndarray) -> np.ndarray:
    import tensorflow as tf
    if not layers:
        return maps.astype(np.float32)
    run = tf.function(lambda a: Stack(layers)(a))
    flat = maps.reshape((-1,) + maps.shape[-3:])
    out = np.concatenate([run(tf.constant(flat[i:i + 256], tf.float32)).numpy() for i in range(0, len(flat), 256)])
    return out.reshape(maps.shape[:2] + out.shape[1:])


def _init(layers, sample: np.ndarray, seed: int) -> None:
    """He initialisation divided by each layer's input RMS, layer by layer (as the recipe
    rescales ``block5_conv4``)."""
    rng = np.random.default_rng(seed)
    a = sample
    for layer in layers:
        rms = float(np.sqrt(np.mean(np.square(a))))
        kernel, bias = layer.get_weights()
        fan_in = int(np.prod(kernel.shape[:3]))
        layer.set_weights([rng.normal(0, np.sqrt(2.0 / fan_in) / max(rms, 1e-6), kernel.shape).astype(kernel.dtype),
                           np.zeros_like(bias)])
        a = np.asarray(layer(a))


def train_and_screen(work: Path, first: str, epochs: int) -> dict:
    import tensorflow as tf
    from crnnaudit.lab import training as T
    from crnnaudit.lab.recipe import FRAME_WEIGHT, L1_ACTIVITY, LABEL_SMOOTHING
    tf.config.experimental.enable_op_determinism()
    t0 = time.perf_counter()
    full, _, tail = T.build_parts(0, 128)
    vgg = full.get_layer("td_vgg19").layer
    vgg.load_weights(work / "vgg.weights.h5")
    k = BLOCK5.index(first)
    frozen, trainable = [vgg.get_layer(n) for n in BLOCK5[:k]], [vgg.get_layer(n) for n in BLOCK5[k:]]
    data = {s: (_through(frozen, np.load(work / f"{s}_maps.npy")), np.load(work / f"{s}_event.npy"),
                np.load(work / f"{s}_classes.npy")) for s in ("train", "val", "sel")}
    tail.conv4 = Stack(trainable)
    sample = data["train"][0].reshape((-1,) + data["train"][0].shape[-3:])[:256]
    _init(trainable, sample, 0)
    tail.norm.adapt(tail.frame_features(sample)[None])
    history = T.train(tail, data["train"], data["val"], epochs=epochs, head_epochs=30, learning_rate=1e-3,
                      l1=L1_ACTIVITY, seed=0, frame_weight=FRAME_WEIGHT, smoothing=LABEL_SMOOTHING)
    figures = _screen(tail, *data["sel"], np.load(work / "sel_masks.npy"))
    return {"trainable_from": first, "epochs": epochs, "validation_window_accuracy":
            history[-1]["validation_window_accuracy"], **figures, "seconds": round(time.perf_counter() - t0)}


def window_gradient(tail, maps: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """``(d target logit / d block5_conv4 maps, the maps)`` of one window of cached input maps."""
    import tensorflow as tf
    with tf.GradientTape() as tape:
        a = tail.conv4(tf.constant(maps, tf.float32))
        tape.watch(a)
        h = tail.mlp(tail.gru(tail.norm(tail.gap(tail.pool5(a))[None]), training=False))
        y = (tf.matmul(h, tail.out.kernel) + tail.out.bias)[0, target]
    return tape.gradient(y, a).numpy(), a.numpy()


def _screen(tail, maps, events, classes, masks) -> dict:
    import cv2
    import tensorflow as tf
    from crnnaudit.demo.paths import FRAMES
    from crnnaudit.lab.training import pooled_features
    starts = list(range(0, maps.shape[1] - FRAMES + 1, FRAMES // 2))  # the card's stride
    logits = tail.window_logits(pooled_features(tail, maps), starts, False).numpy().reshape(len(starts), len(maps), -1)
    probs = tf.nn.softmax(logits).numpy()
    top = probs[..., 1:].sum(-1).argmax(0)  # the most anomalous window, as the app reads a clip
    accuracy = float(np.mean(probs[top, np.arange(len(maps))].argmax(-1) == classes))
    hits: dict[str, list[bool]] = {}
    for i in np.flatnonzero(classes > 0):
        s = starts[top[i]]
        g, a = window_gradient(tail, maps[i, s:s + FRAMES], int(classes[i]))
        w = g.mean(axis=(1, 2), keepdims=True)
        candidates = {"gradcam": np.maximum((a * w).sum(-1), 0), "positive_weights": (a * np.maximum(w, 0)).sum(-1),
                      "clip_weights": np.maximum((a * w.mean(0, keepdims=True)).sum(-1), 0),
                      "gradient": np.maximum(g.sum(-1), 0), "activation": a.sum(-1)}
        for t in np.flatnonzero(events[i, s:s + FRAMES]):
            mask = masks[i, s + t]
            for name, m in candidates.items():
                up = cv2.resize(m[t], (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)
                hits.setdefault(name, []).append(bool(up.max() > 0 and mask.ravel()[int(np.argmax(up))]))
    return {"selection_accuracy": accuracy, "event_frames": len(hits.get("gradcam", [])),
            "pointing": {k: round(float(np.mean(v)), 3) for k, v in hits.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["cache", "train"])
    ap.add_argument("--first", choices=BLOCK5, default="block5_conv4", help="the first trainable layer of block 5")
    ap.add_argument("--epochs", type=int, default=4, help="epochs of block 5 with the head (then 30 of the head)")
    ap.add_argument("--work", type=Path, default=WORK)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "cache":
        cache(args.work)
    else:
        print(json.dumps(train_and_screen(args.work, args.first, args.epochs)))


if __name__ == "__main__":
    main()
