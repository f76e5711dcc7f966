"""Where the demo lives, what its recipe is called, and its synthetic clips on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..card import ModelCard
from ..errors import CrnnauditError
from .synth import CLASSES, FPS, degrade, synth_clip, write_clip

FRAMES = 16  # frames per window (T)
CLIP_FRAMES = 48  # the sample clips' length: demo clips are read the way the app reads them
SIZE = 128  # block5_pool keeps every block5_conv4 cell (8 x 8 -> 4 x 4); at 112 it dropped a row and a column
TRAINABLE = "block5_conv4"
FROZEN_UNTIL = "block5_conv3"
RECIPE_VERSION = 9  # a demo built by an older recipe is rebuilt


def demo_dir() -> Path:
    from ..model.places import default_models_dir
    return default_models_dir()


def demo_model_path() -> Path:
    return demo_dir() / "demo_vgg19_gru.keras"


def demo_card_path() -> Path:
    path = demo_model_path()
    return path.with_name(path.stem + ".card.json")


def demo_is_current() -> bool:
    """Whether a complete demo model of this recipe is built (else :func:`build_demo` works)."""
    if not (demo_model_path().exists() and demo_card_path().exists()):
        return False
    try:
        card = ModelCard.read(demo_card_path())
    except CrnnauditError:
        return False
    extra, calibration = card.extra, card.calibration or {}
    # a card from before the frame rate was recorded is assembled again (seconds, from the shipped weights)
    return (extra.get("recipe", {}).get("version") == RECIPE_VERSION and "weights_sha256" in extra
            and card.frame_rate == FPS and (demo_dir() / str(calibration.get("file"))).exists())


def render_clips(folder: Path, count: int, seed: int, progress, label: str, anywhere: bool = False,
                 degradation: str | None = None):
    """``count`` clips of :data:`CLIP_FRAMES` frames, classes in turn, written once as H.264
    (the model sees the compression the app shows). ``anywhere``: the event starts anywhere
    in the clip (training), else where ``crnnaudit synth`` puts it (evaluation).
    ``degradation``: one of :data:`~crnnaudit.demo.synth.DEGRADATIONS`, applied before encoding.

    Returns:
        ``(path, class index)`` per clip.
    """
    paths = []
    starts = np.random.default_rng([seed, 7]).integers(2, CLIP_FRAMES - 3, count)
    for i in range(count):
        cls = CLASSES[i % len(CLASSES)]
        path = folder / f"{cls}_{seed}_{i:04d}.mp4"
        if not path.exists():
            clip, crf = synth_clip(cls, seed * 1_000_003 + i, frames=CLIP_FRAMES,
                                   start=int(starts[i]) if anywhere else None), 23
            if degradation:
                clip, crf = degrade(clip, degradation, seed * 1_000_003 + i)
            write_clip(clip, path, crf=crf)
        paths.append((path, CLASSES.index(cls)))
        if progress:
            progress(f"rendering {label} clips", i + 1, count)
    return paths
