"""Pretraining VGG19 on synthetic frames, on frame labels alone: a candidate trunk for the demo.

With VGG19 frozen at random weights up to ``block5_conv3`` (the demo's recipe 9), nearly every
``block5_conv4`` channel responds over much of the frame, and Grad-CAM's weighted sum of them
cancels: its peak lies in the event on about one event frame in eight. This module trains all of
VGG19 as a per-frame classifier: each frame of a seeded synthetic clip, labelled with its clip's
class when it lies in the event's interval, else ``normal`` (the frame labels the recipe's second
loss uses; no mask, no explanation is looked at). The layer after ``block5_pool`` is the demo's
own frame pooling (the peak of each map), then a linear layer that is dropped afterwards. The
weights are written int8-quantised per output channel (20 MB instead of 80 MB; a model computes
with the dequantised float32 values).

A trunk made by the command below (one H200, 5.5 minutes) was tried as the demo's (a recipe-10
candidate) and not adopted: README, *The demo model*, gives its figures and why. Backend-neutral
Keras: it runs on TensorFlow (two CPU cores: about a day) and on JAX (a GPU: minutes)::

    KERAS_BACKEND=jax python -m crnnaudit.lab.pretrain --out trunk/ --clips 1600 --epochs 6 \
        --precision bfloat16 --workers 12 --pointing-clips 30

``benchmarks/trunk_screen.py --trunk trunk/trunk.npz`` screens demo recipes on such a trunk.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ..errors import CrnnauditError
from ..demo.paths import CLIP_FRAMES, SIZE
from ..demo.synth import CLASSES

PRETRAIN_SEED = 5  # the clips' seed: not the recipe's (0), validation's (2), selection (77) or evaluation (21-23)
CONV_LAYERS = ("block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1", "block3_conv2",
               "block3_conv3", "block3_conv4", "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
               "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4")


def _clip_frames(args) -> tuple[np.ndarray, np.ndarray]:
    """One clip's frames at the model's input size (resized as the app resizes) and labels."""
    from ..footage.video import _resize
    from ..demo.synth import synth_clip
    cls, seed, start = args
    clip = synth_clip(cls, seed, frames=CLIP_FRAMES, start=start)
    frames = np.stack([_resize(f, (SIZE, SIZE)) for f in clip.frames])
    labels = np.zeros(len(frames), np.int32)
    if clip.interval is not None:
        labels[clip.interval[0]:] = CLASSES.index(cls)
    return frames, labels


def frame_set(count: int, seed: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``count`` clips (classes in turn, the event starting anywhere, as the recipe's training
    clips) as frames ``(count * 48, SIZE, SIZE, 3)`` uint8 and frame labels."""
    starts = np.random.default_rng([seed, 7]).integers(2, CLIP_FRAMES - 3, count)
    jobs = [(CLASSES[i % len(CLASSES)], seed * 1_000_003 + i, int(starts[i])) for i in range(count)]
    if workers > 1:
        from multiprocessing import get_context
        with get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_clip_frames, jobs, chunksize=8)
    else:
        parts = [_clip_frames(j) for j in jobs]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def he_init(vgg, seed: int, input_rms: float = 1.0) -> None:
    """He-normal kernels and zero biases for every conv layer, the first one's divided by the
    inputs' RMS, so that every layer's activations start at about unit scale (with Keras'
    default, Glorot, they shrink about 50-fold through VGG19's 16 layers; with plain He they
    keep the pixels' scale, an RMS of about 20 after the caffe preprocessing, and the first
    epoch's loss was 72 instead of 3.4)."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(CONV_LAYERS):
        layer = vgg.get_layer(name)
        kernel, bias = (np.asarray(w) for w in layer.get_weights())
        fan_in = int(np.prod(kernel.shape[:3]))
        std = np.sqrt(2.0 / fan_in) / (input_rms if k == 0 else 1.0)
        layer.set_weights([rng.normal(0, std, kernel.shape).astype(np.float32),
                           np.zeros_like(bias)])


def frame_classifier(seed: int, precision: str = "float32", input_rms: float = 1.0):
    """VGG19 (He-initialised) -> the peak of each ``block5_pool`` map -> a linear layer."""
    import keras
    keras.utils.set_random_seed(seed)
    old = keras.config.dtype_policy()
    if precision == "bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
        pooled = keras.layers.GlobalMaxPooling2D(name="frame_pool")(vgg.output)
        logits = keras.layers.Dense(len(CLASSES), dtype="float32", name="frame_classes")(pooled)
    finally:
        keras.config.set_dtype_policy(old)
    he_init(vgg, seed, input_rms)
    return keras.Model(vgg.input, logits, name="pretrain_vgg19"), vgg


class _Batches:
    """Shuffled, preprocessed batches of uint8 frames (flipped left-right at random)."""

    def __init__(self, frames, labels, batch, seed, train=True):
        self.frames, self.labels, self.batch, self.train = frames, labels, batch, train
        self.rng = np.random.default_rng(seed)

    def epoch(self):
        from ..model import preprocess
        order = self.rng.permutation(len(self.frames)) if self.train else np.arange(len(self.frames))
        for i in range(0, len(order) - (self.batch - 1 if self.train else 0), self.batch):
            idx = np.sort(order[i:i + self.batch])
            x = self.frames[idx]
            if self.train:
                flip = self.rng.random(len(idx)) < 0.5
                x = np.where(flip[:, None, None, None], x[:, :, ::-1], x)
            yield preprocess(x, "vgg19"), self.labels[idx]


def pretrain(model, frames, labels, val, *, epochs: int, batch: int, learning_rate: float, seed: int,
             log=print, after_epoch=None) -> list[dict]:
    """Adam with a linear warm-up over the first epoch and a cosine decay after it."""
    import keras
    steps = epochs * (len(frames) // batch)
    warm = max(1, len(frames) // batch)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate / 10, max(1, steps - warm), warmup_target=learning_rate,
                                                      warmup_steps=warm, alpha=0.02)
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                  jit_compile=True)
    train, held = _Batches(frames, labels, batch, seed), _Batches(*val, 256, seed, train=False)
    history = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        losses = [float(model.train_on_batch(x, y)[0]) for x, y in train.epoch()]
        correct = sum(int((np.asarray(model.predict_on_batch(x)).argmax(1) == y).sum()) for x, y in held.epoch())
        history.append({"epoch": epoch + 1, "loss": round(float(np.mean(losses)), 4),
                        "validation_frame_accuracy": round(correct / len(val[1]), 4),
                        "seconds": round(time.perf_counter() - t0, 1)})
        log(json.dumps(history[-1]))
        if after_epoch:
            after_epoch(history)
    return history


def quantize(vgg) -> dict[str, np.ndarray]:
    """Each conv layer's kernel as int8 with one float32 scale per output channel (symmetric),
    and its bias in float32."""
    out = {}
    for name in CONV_LAYERS:
        kernel, bias = (np.asarray(w, np.float32) for w in vgg.get_layer(name).get_weights())
        scale = np.maximum(np.abs(kernel).max(axis=(0, 1, 2)), 1e-12) / 127.0
        out[f"{name}/q"] = np.clip(np.round(kernel / scale), -127, 127).astype(np.int8)
        out[f"{name}/scale"] = scale.astype(np.float32)
        out[f"{name}/bias"] = bias
    return out


def dequantized(arrays, name: str) -> list[np.ndarray]:
    """The float32 weights a layer computes with, from :func:`quantize`'s arrays."""
    return [arrays[f"{name}/q"].astype(np.float32) * arrays[f"{name}/scale"], arrays[f"{name}/bias"]]


def read_trunk(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a trunk file written by this module (``trunk.npz``).

    Raises:
        CrnnauditError: the file cannot be read, is not an ``.npz`` archive, or lacks a layer.
    """
    import zipfile
    try:
        z = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise CrnnauditError(f"{path}: not a readable trunk file ({e})") from e
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise CrnnauditError(f"{path}: not a trunk file (one array, not an .npz archive of layers)")
    with z:
        arrays = {k: z[k] for k in z.files}
    missing = [f"{n}/{part}" for n in CONV_LAYERS for part in ("q", "scale", "bias") if f"{n}/{part}" not in arrays]
    if missing:
        raise CrnnauditError(f"{path}: not a VGG19 trunk (missing {', '.join(missing[:3])})")
    return arrays


def load_trunk(vgg, arrays, layers=CONV_LAYERS) -> None:
    """Set ``layers`` of a Keras VGG19 to the dequantised pretrained weights."""
    for name in layers:
        vgg.get_layer(name).set_weights(dequantized(arrays, name))


def frame_pointing(model, vgg, count: int, seed: int, every: int = 3) -> dict:
    """Diagnostic: on ``count`` anomalous clips of ``seed``, per event frame (every ``every``th),
    whether the peak of the frame classifier's Grad-CAM at ``block5_conv4`` (for the clip's
    class) lies in the event's mask, and the mask's share of the frame (chance)."""
    import cv2
    import keras
    from ..model import preprocess
    from ..model.backend import ADAPTER, to_numpy
    from ..footage.video import _resize
    from ..demo.synth import ANOMALY_CLASSES, synth_clip
    conv = keras.Model(vgg.input, vgg.get_layer("block5_conv4").output)
    pool, peak, linear = vgg.get_layer("block5_pool"), model.get_layer("frame_pool"), model.get_layer("frame_classes")
    hits, chance = [], []
    for i in range(count):
        cls = ANOMALY_CLASSES[i % len(ANOMALY_CLASSES)]
        clip = synth_clip(cls, seed * 1_000_003 + i, frames=CLIP_FRAMES)
        idx = np.arange(clip.interval[0], CLIP_FRAMES, every)
        x = preprocess(np.stack([_resize(clip.frames[t], (SIZE, SIZE)) for t in idx]), "vgg19")
        a = keras.ops.cast(conv(x), "float32")
        _, pullback = ADAPTER.vjp(lambda m: linear(peak(pool(m))), a)
        target = np.zeros((len(idx), len(CLASSES)), np.float32)
        target[:, CLASSES.index(cls)] = 1
        g, a = to_numpy(pullback(keras.ops.convert_to_tensor(target))[0]), to_numpy(a)
        cams = np.maximum((a * g.mean(axis=(1, 2), keepdims=True)).sum(-1), 0)
        for cam, t in zip(cams, idx):
            mask = clip.masks[t]
            up = cv2.resize(cam, (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)
            hits.append(bool(up.max() > 0 and mask.ravel()[int(np.argmax(up))]))
            chance.append(float(mask.mean()))
    return {"event_frames": len(hits), "gradcam_pointing": round(float(np.mean(hits)), 3),
            "chance": round(float(np.mean(chance)), 3), "clips": count, "seed": seed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--clips", type=int, default=1600)
    ap.add_argument("--validation-clips", type=int, default=96)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--learning-rate", type=float, default=3e-4)
    ap.add_argument("--precision", choices=["float32", "bfloat16"], default="float32")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pointing-clips", type=int, default=0, help="diagnostic: Grad-CAM pointing on N clips of seed 78")
    ap.add_argument("--split", action="store_true", help="two files under 16 MiB (blocks 1-4, block 5), not trunk.npz")
    args = ap.parse_args()
    import keras
    t0 = time.perf_counter()
    frames, labels = frame_set(args.clips, PRETRAIN_SEED, args.workers)
    val = frame_set(args.validation_clips, PRETRAIN_SEED + 1, args.workers)
    print(f"rendered {len(frames)} + {len(val[0])} frames in {time.perf_counter() - t0:.0f} s", flush=True)
    from ..model import preprocess
    rms = float(np.sqrt(np.mean(np.square(preprocess(frames[::97], "vgg19")))))
    model, vgg = frame_classifier(args.seed, args.precision, rms)
    args.out.mkdir(parents=True, exist_ok=True)

    def save(history, pointing=None):  # after every epoch: a run cut short keeps what it trained
        arrays = quantize(vgg)
        parts = ((("trunk_blocks1-4", lambda k: not k.startswith("block5")),
                  ("trunk_block5", lambda k: k.startswith("block5"))) if args.split else (("trunk", lambda k: True),))
        for part, keep in parts:
            np.savez(args.out / f"{part}.npz", **{k: arrays[k] for k in sorted(arrays) if keep(k)})
        record = {"clips": args.clips, "clip_seed": PRETRAIN_SEED, "validation_clips": args.validation_clips,
                  "validation_seed": PRETRAIN_SEED + 1, "epochs": args.epochs, "batch": args.batch,
                  "learning_rate": args.learning_rate, "precision": args.precision, "seed": args.seed,
                  "input_rms": round(rms, 3), "frame_classifier_pointing": pointing,
                  "backend": keras.backend.backend(), "keras": keras.__version__, "history": history,
                  "seconds": round(time.perf_counter() - t0, 1)}
        (args.out / "trunk.json").write_text(json.dumps(record, indent=1) + "\n")
        return record

    history = pretrain(model, frames, labels, val, epochs=args.epochs, batch=args.batch,
                       learning_rate=args.learning_rate, seed=args.seed,
                       log=lambda s: print(s, flush=True), after_epoch=save)
    pointing = frame_pointing(model, vgg, args.pointing_clips, 78) if args.pointing_clips else None
    record = save(history, pointing)
    print(json.dumps({k: v for k, v in record.items() if k != "history"}), flush=True)


if __name__ == "__main__":
    main()
