"""Screening demo recipes on a pretrained trunk: where Grad-CAM points, and why.

The README's *A pretrained trunk* table came from this script, on a trunk made by
``crnnaudit.lab.pretrain`` (``--trunk``). ``cache`` runs the demo's frozen part (VGG19 up to
``block5_conv3``, with the trunk's weights) once over the recipe's 224 training clips
(bfloat16 where the CPU has it, as the recipe does), its 16 validation clips and the 40
selection clips of seed 77 (never the evaluation seeds), about 3 minutes. ``train`` then trains
the demo's tail with the recipe's losses (labels only) in a variant and measures, on the
selection clips' anomalous top windows, per event frame, whether each map's peak lies in the
event (the maps of ``benchmarks/gradcam_screen.py``: Grad-CAM, positive-weight channels only,
weights averaged over the window, the gradient, the summed activation), plus Grad-CAM per class
and per position in the window, and the correlation across channels between each channel's
Grad-CAM weight and how much more it responds inside the event than outside. Variants:

- ``--conv4 reinit|trunk|frozen``: ``block5_conv4`` re-initialised as the recipe does, or
  starting from the trunk's and fine-tuned, or the trunk's kept (the head alone);
- ``--pool max|average``; ``--sequence-mean``: the GRU's outputs averaged over the window;
- ``--variance-floor Q``: the normalisation's per-channel variance floored at its Q-th percentile;
- ``--input-scale S``: the GRU's inputs multiplied by S; ``--centre-output``: the output layer
  centred over the classes (the probabilities do not change);
- ``--bottleneck``: a 4-unit per-frame layer (the frame-label head) before the GRU.

Run (2 cores: about 1 to 3 minutes per variant)::

    python benchmarks/trunk_screen.py cache --trunk trunk/trunk.npz
    python benchmarks/trunk_screen.py train --trunk trunk/trunk.npz --conv4 reinit
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

WORK = Path("/tmp/crnnaudit-trunk-screen")
CLIPS = Path("/tmp/crnnaudit-gradcam-screen")  # where gradcam_screen.py rendered the same clips


def cache(work: Path, clips: Path, trunk: dict) -> None:
    from crnnaudit.lab import training as T
    from crnnaudit.demo.paths import render_clips
    _, frozen, _ = T.build_parts(0, 128, trunk=trunk)
    sets = {"train": render_clips(clips / "train", 224, 0, None, "train", anywhere=True),
            "val": render_clips(clips / "val", 16, 2, None, "val", anywhere=True),
            "sel": render_clips(clips / "sel", 40, 77, None, "sel")}
    precision = "bfloat16" if T.native_bfloat16() else "float32"
    for name, paths in sets.items():
        net = T.FrozenMaps(frozen, precision) if name == "train" else frozen
        maps, event, classes = T.cache_maps(net, paths, None, name)
        np.save(work / f"{name}_maps.npy", maps.astype(np.float16))
        np.save(work / f"{name}_event.npy", event)
        np.save(work / f"{name}_classes.npy", classes)
        if name == "sel":
            from crnnaudit.footage.video import open_clip
            np.save(work / "sel_masks.npy", np.stack([open_clip(p).ground_truth.masks for p, _ in paths]))
        print(f"cached {name}: {maps.shape}", flush=True)


class _Wrapped:
    """A callable standing in for one of the tail's layers, with its trainable variables."""

    def __init__(self, fn, variables_of):
        self.fn, self.variables_of = fn, variables_of

    def __call__(self, x, training=False):
        return self.fn(x, training)

    @property
    def trainable_variables(self):
        return [v for layer in self.variables_of for v in layer.trainable_variables]


def _variant(tail, args, train_maps) -> None:
    import keras
    from crnnaudit.lab import training as T
    if args.pool == "average":
        tail.gap = keras.layers.GlobalAveragePooling2D(name="frame_pool")
    if args.conv4 == "reinit":
        T.rescale_init(tail.conv4, train_maps, 0)
    sample = train_maps.reshape((-1,) + train_maps.shape[-3:])
    idx = np.sort(np.random.default_rng(0).choice(len(sample), 1024, replace=False))
    tail.norm.adapt(tail.frame_features(sample[idx].astype(np.float32))[None])
    norm = tail.norm
    if args.variance_floor is not None:
        v = norm.adapt_variance.numpy()
        norm.adapt_variance.assign(np.maximum(v, np.percentile(v, args.variance_floor)))
        norm.finalize_state()
    if args.input_scale != 1.0:
        norm.adapt_variance.assign(norm.adapt_variance / args.input_scale ** 2)
        norm.finalize_state()
    if args.bottleneck:
        frame_scores = keras.layers.Dense(4, name="frame_scores")
        tail.gru = keras.layers.GRU(128, name="gru_on_scores")
        tail.norm = _Wrapped(lambda x, t: frame_scores(norm(x[None]))[0] if len(x.shape) == 2
                             else frame_scores(norm(x)), [frame_scores])
        tail.frame_head = tail.norm
    if args.sequence_mean:
        gru = keras.layers.GRU(128, return_sequences=True, name="gru_sequence")
        tail.gru = _Wrapped(lambda x, t: keras.ops.mean(gru(x, training=t), axis=1), [gru])


def _diagnose(tail, maps, events, classes, masks) -> dict:
    """Grad-CAM per class, per position, and the weight/selectivity correlation."""
    import cv2
    import tensorflow as tf
    from gradcam_screen import window_gradient
    from crnnaudit.demo.paths import FRAMES
    from crnnaudit.lab.training import pooled_features
    starts = list(range(0, maps.shape[1] - FRAMES + 1, FRAMES // 2))
    logits = tail.window_logits(pooled_features(tail, maps), starts, False).numpy().reshape(len(starts), len(maps), -1)
    top = tf.nn.softmax(logits).numpy()[..., 1:].sum(-1).argmax(0)
    by_class, by_position, corr = {}, {}, []
    for i in np.flatnonzero(classes > 0):
        s = starts[top[i]]
        g, a = window_gradient(tail, maps[i, s:s + FRAMES], int(classes[i]))
        w = g.mean(axis=(1, 2))
        cam = np.maximum(np.einsum("thwk,tk->thw", a, w), 0)
        inside = cv2.resize(masks[i, s + FRAMES - 1].astype(np.uint8), a.shape[2:0:-1], interpolation=cv2.INTER_AREA) > 0
        if inside.any() and (~inside).any():
            selectivity = a[-1][inside].mean(0) - a[-1][~inside].mean(0)
            corr.append(float(np.corrcoef(selectivity, w[-1])[0, 1]))
        for t in np.flatnonzero(events[i, s:s + FRAMES]):
            mask = masks[i, s + t]
            up = cv2.resize(cam[t], (mask.shape[1], mask.shape[0]), interpolation=cv2.INTER_LINEAR)
            hit = bool(up.max() > 0 and mask.ravel()[int(np.argmax(up))])
            by_class.setdefault(int(classes[i]), []).append(hit)
            by_position.setdefault(int(t), []).append(hit)
    mean = lambda d: {k: round(float(np.mean(v)), 3) for k, v in sorted(d.items())}  # noqa: E731
    return {"gradcam_by_class": mean(by_class), "gradcam_by_position": mean(by_position),
            "weight_selectivity_correlation": round(float(np.nanmean(corr)), 3)}


def train_and_screen(work: Path, trunk: dict, args) -> dict:
    import tensorflow as tf
    from gradcam_screen import _screen
    from crnnaudit.lab import training as T
    from crnnaudit.lab.recipe import FRAME_WEIGHT, L1_ACTIVITY, LABEL_SMOOTHING
    tf.config.experimental.enable_op_determinism()
    t0 = time.perf_counter()
    _, _, tail = T.build_parts(0, 128, trunk=trunk)  # block5_conv4 starts from the trunk's
    data = {s: (np.load(work / f"{s}_maps.npy").astype(np.float32), np.load(work / f"{s}_event.npy"),
                np.load(work / f"{s}_classes.npy")) for s in ("train", "val", "sel")}
    _variant(tail, args, data["train"][0])
    history = T.train(tail, data["train"], data["val"], epochs=0 if args.conv4 == "frozen" else 4, head_epochs=30,
                      learning_rate=1e-3, l1=L1_ACTIVITY, seed=0, frame_weight=FRAME_WEIGHT, smoothing=LABEL_SMOOTHING)
    if args.centre_output:
        k, b = tail.out.kernel.numpy(), tail.out.bias.numpy()
        tail.out.kernel.assign(k - k.mean(1, keepdims=True))
        tail.out.bias.assign(b - b.mean())
    masks = np.load(work / "sel_masks.npy")
    return {"variant": {k: v for k, v in vars(args).items() if k not in ("step", "work", "clips", "trunk")},
            "validation_window_accuracy": history[-1]["validation_window_accuracy"],
            **_screen(tail, *data["sel"], masks), **_diagnose(tail, *data["sel"], masks),
            "seconds": round(time.perf_counter() - t0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("step", choices=["cache", "train"])
    ap.add_argument("--trunk", type=Path, required=True, help="a trunk.npz from crnnaudit.lab.pretrain")
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--clips", type=Path, default=CLIPS, help="where the clips are (or are rendered), for cache")
    ap.add_argument("--conv4", choices=["reinit", "trunk", "frozen"], default="reinit")
    ap.add_argument("--pool", choices=["max", "average"], default="max")
    ap.add_argument("--sequence-mean", action="store_true")
    ap.add_argument("--variance-floor", type=float)
    ap.add_argument("--input-scale", type=float, default=1.0)
    ap.add_argument("--centre-output", action="store_true")
    ap.add_argument("--bottleneck", action="store_true")
    args = ap.parse_args()
    from crnnaudit.lab.pretrain import read_trunk
    trunk = read_trunk(args.trunk)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.step == "cache":
        cache(args.work, args.clips, trunk)
    else:
        print(json.dumps(train_and_screen(args.work, trunk, args)))


if __name__ == "__main__":
    main()
