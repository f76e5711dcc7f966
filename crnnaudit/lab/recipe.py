"""The demo model's recipe: TimeDistributed(VGG19) + GRU, trained here on synthetic clips, on labels alone.

No weights can be downloaded (ImageNet included), so crnnaudit trains its own, and ships the
result (:mod:`.shipped`): the app is ready in seconds, and ``crnnaudit demo --rebuild``
recreates it from this recipe. A frozen, randomly initialised VGG19 is not enough (its
pooled block5 features barely separate the classes), and training all of VGG19 on two CPU
cores is out of reach. The recipe:

1. Render seeded clips of the four classes as long as the sample clips (48 frames), the event
   starting anywhere, as H.264 MP4, and read them back through :class:`~crnnaudit.Clip` (the
   model sees the compression and the resizing the app shows).
2. Run each frame once through the frozen VGG19 layers up to ``block5_conv3``; keep the maps.
3. Train ``block5_conv4`` with the GRU head on every window of those clips (before, across
   and inside the event), labelled as the evaluation labels windows (:mod:`.training`).
   Nothing in the loss looks at an explanation: what the maps show is what the model does.
4. Assemble the full model from the same layer objects, save it as ``.keras`` with a card that
   states the recipe, and calibrate the per-frame feature statistics (``unlike the training
   data``) on separate clips. ``--evaluate`` measures the figures through the app's path.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from ..card import ModelCard
from ..config import samples_dir
from ..errors import CrnnauditError
from ..model.backend import BACKEND
from ..model.sandbox import trust_own_file
from .evaluation import classification_figures, evaluate_demo, roc_auc
from ..demo.assembly import ensure_demo
from ..demo.paths import (CLIP_FRAMES, FRAMES, FROZEN_UNTIL, RECIPE_VERSION, SIZE, TRAINABLE, demo_card_path, demo_dir,
                    demo_is_current, demo_model_path, render_clips)
from ..demo.shipped import ShippedDemoMismatch
from ..demo.synth import ANOMALY_CLASSES, CLASSES, FPS
from .training import WINDOW_STEP, FrozenMaps, build_parts, cache_maps, init_tail, native_bfloat16, train

L1_ACTIVITY = 1e-6
FRAME_WEIGHT = 3.0  # the per-frame label loss, next to the windows' (see training.py)
LABEL_SMOOTHING = 0.1
WHY = ("A frozen random VGG19's pooled block5 features separate these classes poorly; "
       "training the last conv layer (the Grad-CAM target) on cached block5_conv3 maps "
       "costs one conv layer per frame and epoch. Its initial weights are scaled to its "
       "inputs (they are ~1/50 of the pixels' scale after 15 random layers), else training "
       "stalls. Clips as long as the sample clips with the event anywhere, and every "
       "window of them, because the app reads a clip window by window and an earlier "
       "recipe trained on single 16-frame windows missed two of the three sample events. "
       "The GRU reads the pooled features through a fixed per-channel normalisation (its "
       "mean and variance set once from the training frames): without it training stalled "
       "at the class prior. A second loss reads each frame's class off its pooled features "
       "(frame labels from the event's interval, a training-only layer not in the model): "
       "dense labels, because the clips are few. Label smoothing 0.1 and the average of "
       "the settled epochs' weights, because the model overfits so few clips. Two phases: "
       "block5_conv4 with the head for 4 epochs, then the head alone for 30 on each frame's "
       "pooled features computed once (the conv is most of the cost; on 176 clips this matched "
       "14 epochs of the first phase in a third of the time). The frozen layers' maps of the "
       "training clips are computed in bfloat16 where the CPU has it natively (twice as fast, "
       "within about 1% of float32; the same figures on 176 clips); validation, calibration "
       "and the app compute in float32. 224 training clips: on three selection seeds (1-3, "
       "180 clips) 176 clips reached accuracy 0.922 and macro ROC-AUC 0.985, 224 clips 0.961 "
       "and 0.993 (measured on cached maps, read as the app reads clips). Recipe 9 changed two "
       "things, for Grad-CAM's sake, found by measuring where it peaked: 128 x 128 instead of "
       "112 x 112 (at 112 block5_pool drops the last row and column of block5_conv4's 7 x 7 "
       "cells, which the head never sees and training never constrains; 84% of Grad-CAM's peaks "
       "on the frames of anomalous clips' top windows lay there), and each frame's feature is the peak of each block5_pool map "
       "(global max pooling) instead of their mean (with the mean, a channel's constant response "
       "to the zero-padded border cost nothing, and the peaks moved to the other border cells "
       "and corners). The generator draws no border cue: the class mean frames differ from the "
       "normal one less in a 12-16 pixel border band than inside (0.5-0.9 vs 1.3-1.5 levels).")

LIMITATIONS = (  # the card's known limitations
    "Trained only on synthetic top-down scenes of simple figures; meaningless on real video "
    "(its windows are flagged as unlike the training data).",
    "Trained on labels alone: nothing in training looked at an explanation, so its maps show "
    "what it uses; evaluation.explanations gives each method's pointing game on held-out "
    "anomalous windows.",
    "What Grad-CAM can and cannot show here: deleting the top 20% of its map lowers the "
    "class more than deleting 20% at random on about 6 anomalous windows in 10 "
    "(evaluation.explanations.beats_random_deletion), so it often marks regions the model "
    "uses; but its single peak lands inside the event on about one event frame in eight "
    "(evaluation.explanations.pointing_game): it does not say where the event is. Nearly "
    "all 512 block5_conv4 channels respond "
    "over much of the frame (the layers below are random), and per frame the channel "
    "weights are about half positive, half negative: the weighted sum nearly cancels, and "
    "its sign flips from frame to frame as the GRU reads changes between frames. Read "
    "Grad-CAM here as 'regions that matter', not 'the place'; gradient x input points at "
    "the event on about 0.9 of frames. Each map's own verdict against random deletion is "
    "shown beside it.",
    "VGG19 up to block5_conv3 keeps its random initial weights: no ImageNet weights could "
    "be downloaded.",
    "Each clip holds exactly one event class, lasting to the end of the clip; mixed, "
    "overlapping or ending events were never seen.",
    "Held-out figures vary with the seed of the synthetic clips (evaluation.seeds gives them "
    "per seed of 40 clips). Normal scenes where two figures overlap or a figure is near-white "
    "can read as fight or shooting.",
    "Blurred, dark, noisy or heavily compressed footage is misread; the image-quality checks "
    "calibrated in this card flag such windows (evaluation.degraded), which then get no "
    "reliable reading.")

__all__ = ["CLASSES", "FRAMES", "RECIPE_VERSION", "build_demo", "classification_figures", "demo_is_current",
           "demo_model_path", "evaluate_demo", "ready_demo", "roc_auc"]


def ready_demo(progress: Callable[[str, int, int], None] | None = None) -> Path:
    """The demo model, ready: as built, else the shipped weights assembled (seconds), else
    rebuilt from the recipe (minutes) when the shipped weights do not check out here."""
    try:
        return ensure_demo(progress)
    except ShippedDemoMismatch:
        return build_demo(force=True, progress=progress)


def build_demo(seed: int = 0, train_clips: int = 224, validation_clips: int = 16, epochs: int = 4,
               head_epochs: int = 30, units: int = 128, learning_rate: float = 1e-3, force: bool = False,
               progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Build the demo model, its card and its feature statistics under ``CRNNAUDIT_HOME/demo``
    from the recipe (deterministic ops, seeded data: two builds on one machine agree).

    A second call returns the existing model unless ``force`` or it was built by an older
    recipe (its card's ``recipe.version``). Figures: :func:`evaluate_demo`.

    Returns:
        The path of the ``.keras`` file (its card is ``<name>.card.json`` beside it).
    """
    if not force and demo_is_current():
        return demo_model_path()
    if BACKEND != "tensorflow":
        raise CrnnauditError(f"building the demo needs TensorFlow (deterministic ops make two builds agree); "
                             f"this process runs Keras on {BACKEND}: run `KERAS_BACKEND=tensorflow crnnaudit demo "
                             "--rebuild`, then load the file on any backend")
    import tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    t0 = time.perf_counter()
    clips = demo_dir() / "clips"
    train_set = render_clips(clips / "train", train_clips, seed, progress, "training", anywhere=True)
    val_set = render_clips(clips / "validation", validation_clips, seed + 2, progress, "validation", anywhere=True)
    full, frozen, tail = build_parts(seed, units)
    precision = "bfloat16" if native_bfloat16() else "float32"
    data = cache_maps(FrozenMaps(frozen, precision), train_set, progress, "training")
    val = cache_maps(frozen, val_set, progress, "validation")  # float32, as the app computes
    init_tail(tail, data[0], seed)
    history = train(tail, data, val, epochs=epochs, head_epochs=head_epochs, learning_rate=learning_rate,
                    l1=L1_ACTIVITY, seed=seed, frame_weight=FRAME_WEIGHT, smoothing=LABEL_SMOOTHING,
                    progress=progress)
    card = _card(seed=seed, train_clips=train_clips, validation_clips=validation_clips, epochs=(epochs, head_epochs),
                 units=units, learning_rate=learning_rate, history=history, precision=precision)
    demo_dir().mkdir(parents=True, exist_ok=True)
    card.calibration = _calibrate(tail, data[0], val[0], train_clips, validation_clips)
    card.calibration["quality"] = _quality_bounds([p for p, _ in train_set + val_set], progress).to_dict()
    card.extra["build_seconds"] = round(time.perf_counter() - t0, 1)
    _save(full, card)
    return demo_model_path()


def _save(full, card: ModelCard) -> None:
    from ..model import weights_hash
    path = demo_model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    card.extra["weights_sha256"] = weights_hash(full)
    tmp = path.with_name(path.stem + ".partial.keras")
    full.save(tmp)
    card.model_sha256 = trust_own_file(tmp)  # every later load checks the file against it
    card.write(demo_card_path())
    tmp.replace(path)  # the model appears only once complete


def _calibrate(tail, train_maps, val_maps, n_train: int, n_val: int) -> dict:
    """Feature statistics of the training frames (the per-frame features the GRU reads, from
    the maps already cached), the threshold set on every window of the validation clips, so
    the model can say when a window is unlike its training data."""
    from ..model.calibration import write_calibration
    from ..model.statistics import statistics
    features = [tail.frame_features(m) for m in train_maps]
    held = [tail.frame_features(m) for m in val_maps]
    stats = statistics(features, held, FRAMES, WINDOW_STEP, percentile=99.5)
    return write_calibration(stats, demo_card_path(), n_train + n_val,
                             note=f"mean and covariance of the {n_train} training clips' frames; threshold "
                                  f"over every window (step {WINDOW_STEP}) of the {n_val} validation clips")


def _quality_bounds(paths, progress=None):
    """Image-quality bounds from every window (the app's length and stride) of the training and
    validation clips, read at the model's input size as the app reads them."""
    from ..footage.quality import calibrate_bounds, frame_measures, window_values
    from ..footage.video import open_clip
    windows = []
    for i, path in enumerate(paths):
        clip = open_clip(path)
        m = frame_measures(np.stack([img for _, img in clip.iter_frames(0, clip.frame_count, (SIZE, SIZE))]))
        windows += [window_values(m[s:s + FRAMES]) for s in range(0, len(m) - FRAMES + 1, FRAMES // 2)]
        if progress:
            progress("calibrating the image-quality checks", i + 1, len(paths))
    return calibrate_bounds(windows)


def evaluate_and_record(progress=None, real_clip: Path | None = None) -> dict:
    """Measure the demo's figures through the app's path and write them into its card."""
    figures = evaluate_demo(demo_model_path(), samples=samples_dir(), real_clip=real_clip, progress=progress)
    card = ModelCard.read(demo_card_path())
    card.extra["evaluation"] = figures
    card.write(demo_card_path())
    return figures


def _card(*, seed, train_clips, validation_clips, epochs, units, learning_rate, history, precision) -> ModelCard:
    """The demo's card: what it is for, what it is not, the recipe and why. ``epochs``: those
    of block5_conv4 with the head, then of the head alone."""
    return ModelCard(
        name="crnnaudit demo: VGG19 + GRU on synthetic surveillance clips", version=f"v{RECIPE_VERSION}-seed{seed}",
        classes=list(CLASSES), anomaly_classes=list(ANOMALY_CLASSES), preprocessing="vgg19",
        frames_per_window=FRAMES, stride=FRAMES // 2, frame_rate=FPS, threshold=0.5,
        intended_use="Demonstration of crnnaudit only. Not for use on real people or real footage.",
        training_data=f"{train_clips} seeded synthetic clips ({CLIP_FRAMES} frames at 12 fps, 120x160 read at "
                      f"{SIZE}x{SIZE}, H.264, "
                      f"the event starting anywhere) made by crnnaudit.demo.synth (seed {seed}); every "
                      f"window of {FRAMES} frames every {WINDOW_STEP}, labelled with the clip's class when "
                      "at least half of it lies in the event, else normal.",
        known_limitations=list(LIMITATIONS),
        owner="crnnaudit project",
        extra={"recipe": {
            "why": WHY,
            "version": RECIPE_VERSION,
            "explanation_loss": None,
            "trainable_layers": [TRAINABLE, "gru", "mlp", "classes"],
            "frozen": f"VGG19 up to {FROZEN_UNTIL}",
            "input_size": [SIZE, SIZE], "frame_pool": "global max pooling of block5_pool",
            "optimizer": f"Adam {learning_rate} in each phase, 0.3x for its last third",
            "l1_activity_on_block5_conv4": L1_ACTIVITY, "learning_rate": learning_rate,
            "epochs": {"block5_conv4_and_head": epochs[0], "head_alone": epochs[1]},
            "clips_per_batch": 4, "window_step": WINDOW_STEP, "clip_frames": CLIP_FRAMES,
            "label_smoothing": LABEL_SMOOTHING, "frame_label_weight": FRAME_WEIGHT,
            "averaged_epochs": [h["averaged_epochs"] for h in history if "averaged_epochs" in h],
            "weights": "in each phase the average of the settled epochs' (the last third, at 0.3x the "
                       "rate): stochastic weight averaging",
            "training_maps_precision": precision,
            "validation": f"{validation_clips} clips, seed {seed + 2}: window accuracy per epoch; the "
                          "threshold of the training-data check",
            "deterministic": "tf.config.experimental.enable_op_determinism(), seeded data and shuffles",
            "gru_units": units, "seed": seed, "history": history}})
