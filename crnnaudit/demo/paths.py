"""Where the demo lives, what its recipe is called, and its synthetic clips on disk."""

from __future__ import annotations

from pathlib import Path

from ..card import ModelCard
from ..config import home
from ..errors import CrnnauditError
from .synth import CLASSES, synth_clip, write_clip

FRAMES = 16
SIZE = 112
TRAINABLE = "block5_conv4"
FROZEN_UNTIL = "block5_conv3"
RECIPE_VERSION = 5  # a demo built by an older recipe is rebuilt


def demo_dir() -> Path:
    return home() / "demo"


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
        extra = ModelCard.read(demo_card_path()).extra
    except CrnnauditError:
        return False
    return extra.get("recipe", {}).get("version") == RECIPE_VERSION and "evaluation" in extra


def render_clips(folder: Path, count: int, seed: int, progress, label: str):
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


