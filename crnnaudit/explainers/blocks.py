"""Pixel gradients for many windows of a clip from one forward pass of their frames.

Explaining every window with saliency or gradient x input one window at a time runs each
frame through the CNN forward and backward once for every window that holds it (twice with
20-frame windows every 10 frames). The CNN is applied to each frame on its own, so the
gradient of window ``w``'s target logit with respect to frame ``i`` is the CNN's pullback at
frame ``i`` applied to ``w``'s gradient at frame ``i``'s conv maps: the forward pass can be
shared by every window that holds the frame; only the pullbacks differ.

A *block* is a run of consecutive windows whose frames go through the CNN once, keeping what
the backward pass needs (:func:`block_frames` bounds its size by memory). The forward pass is
cut into *segments* wherever a window starts or ends (:func:`segments`); the head runs forward
and backward on all of the block's windows at once (a batch); then each window pulls its
gradient back through the segments it holds. Each frame's backward pass runs once per window
that holds it, as one window at a time would, but its forward pass runs once. The results are
those of :func:`~.engine.explain` on each window (the tests compare them): only the order of
floating-point sums differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import AuditedModel
from ..model.backend import frame_bytes, to_numpy
from ..model.decompose import all_layers
from .base import REGISTRY
from .passes import CompiledPasses, SharedPass, as_target, segments  # noqa: F401 (segments: part of the plan)

# What a block's activations may take on a CPU, as :func:`.backend.frame_bytes` estimates them
# (three times the forward's). Measured with the paper shape (VGG19 at 112 x 112 + GRU(1024),
# 48.6 MB a frame estimated): a block of 40 frames (3 windows) added 0.74 GB to the process
# (1.68 GB peak), 60 frames 1.2 GB (2.15 GB); per window 1.24 s and 1.13 s.
CPU_BLOCK_BYTES = 2 << 30
MAX_BLOCK_FRAMES = 512
# Windows in one block: each adds its pullbacks to the compiled pass, unrolled (a GPU's memory
# alone would allow hundreds, and a graph that size takes minutes to compile).
MAX_BLOCK_WINDOWS = 16


def serves(model: AuditedModel, methods) -> bool:
    """Whether these methods can be served from block passes: some need the gradient down to
    the pixels, and all of those read it from the shared pass (no sampling of their own)."""
    pixel = [m for m in methods if REGISTRY[m].input_grad]
    return model.conv is not None and bool(pixel) and all(REGISTRY[m].shared for m in pixel)


def block_frames(model: AuditedModel) -> int:
    """Frames one block may hold: what :data:`CPU_BLOCK_BYTES` keeps for a backward pass on a
    CPU, or the GPU's share of its free memory; never fewer than one window's."""
    T = model.window_length
    layers = all_layers(model.conv) + all_layers(model.pool)
    cpu = int(min(MAX_BLOCK_FRAMES, CPU_BLOCK_BYTES // max(1, frame_bytes(layers, gradients=True))))
    return max(T, min(MAX_BLOCK_FRAMES, model.batch_frames(gradients=True, default=cpu)))


@dataclass
class Block:
    """Consecutive windows (positions in the list of starts) whose frames ``first..stop-1``
    go through the CNN once."""

    first: int
    stop: int
    windows: list[int]


def plan(starts: list[int], length: int, max_frames: int, max_windows: int = MAX_BLOCK_WINDOWS) -> list[Block]:
    """Windows (ascending starts) grouped into blocks of at most ``max_frames`` frames and
    ``max_windows`` windows; a window that shares no frame with the block before it starts a
    new one."""
    blocks: list[Block] = []
    for k, s in enumerate(starts):
        last = blocks[-1] if blocks else None
        if (last is not None and s < last.stop and s + length - last.first <= max_frames
                and len(last.windows) < max_windows):
            last.windows.append(k)
            last.stop = s + length
        else:
            blocks.append(Block(s, s + length, [k]))
    return blocks


def run_block(model: AuditedModel, x: np.ndarray, starts: list[int], target: int) -> list[SharedPass]:
    """The shared pass (with the gradient to the pixels) of each window of a block.

    Args:
        x: the block's preprocessed frames ``(F, H, W, C)``.
        starts: each window's first frame, relative to the block, ascending.
        target: a class index, or -1 for each window's predicted class.
    """
    fn = CompiledPasses.of(model).block(tuple(int(s) for s in starts))
    logits, a, f, gx, ga, t = (to_numpy(v) for v in fn(np.asarray(x, np.float32), as_target(target)))
    return [SharedPass(logits[b], int(t[b]), a[b], f[b], gx[b], ga[b]) for b in range(len(starts))]
