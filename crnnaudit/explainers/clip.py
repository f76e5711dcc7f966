"""Every window of a clip explained, each frame through the CNN once.

Overlapping windows share frames. :func:`explain` on one window runs that window's frames
through the CNN; explaining every window of a clip that way runs each frame through it
``T / stride`` times. :func:`explain_clip` streams the clip once, computes each frame's conv
maps once (forward only), and for each window runs only the pooling and the head, forward
and backward, from those maps (:meth:`~.passes.CompiledPasses.run_from_maps`). Grad-CAM,
Grad-CAM++ and the temporal methods need nothing else, so their results are those of
:func:`explain` on the same window (the tests compare them). A method that needs the
gradient down to the pixels (saliency, gradient x input, SmoothGrad, ...) makes that
window fall back to its own full pass.

Memory holds the frames and maps of the windows not yet explained, as scoring does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from ..errors import ExplanationError
from ..model import AuditedModel
from ..model.backend import ADAPTER, on_accelerator, to_numpy
from ..model.scoring import WindowScheduler, prefetched
from ..footage.video import Clip, Window
from .base import REGISTRY, ExplanationSet, Progress
from .cache import ExplanationCache
from . import blocks
from .engine import _from_cache, _serve, _validate, first_target, open_cache
from .passes import CompiledPasses

CLIP_METHODS = ("gradcam", "frame_occlusion", "temporal_ig", "prefix_score")


@dataclass
class ExplainedWindow:
    """One window of a clip with its explanations and the per-frame features the head read."""

    window: Window
    explanations: ExplanationSet
    features: np.ndarray  # (T, *F)


def shares_clip_pass(methods: Iterable[str]) -> bool:
    """Whether these methods are served from conv maps computed once per clip."""
    return not any(REGISTRY[m].input_grad for m in methods)


def without_window_passes(model: AuditedModel, methods: Iterable[str]) -> bool:
    """Whether :func:`explain_clip` serves these methods with no CNN pass of its own per window
    (conv maps once per clip, or pixel gradients per block of windows): then explaining every
    window costs little more than scoring it, and its windows give the timeline too."""
    methods = list(methods)
    return shares_clip_pass(methods) or blocks.serves(model, methods)


def explain_clip(model: AuditedModel, clip: Clip, methods: Iterable[str] | str = CLIP_METHODS,
                 windows: Iterable[int] | None = None, stride: int | None = None, target=None,
                 params: dict[str, dict] | None = None, cache: ExplanationCache | bool | None = True,
                 progress: Callable[[int, int], None] | None = None, cancel=None,
                 batch_frames: int | None = None) -> Iterator[ExplainedWindow]:
    """Explain windows of ``clip`` (all, or the indices in ``windows``), streaming.

    Args:
        model: an :class:`~crnnaudit.AuditedModel`.
        clip: the clip; windows of the model's length every ``stride`` frames (the card's).
        methods, target, params, cache: as :func:`~crnnaudit.explainers.explain`; ``target``
            ``None`` explains each window's own predicted class.
        progress: ``progress(windows done, windows asked for)``.
        batch_frames: frames per CNN batch (default: ``model.batch_frames()``); on a GPU the
            next frames are decoded in a thread while the model works.

    Yields:
        :class:`ExplainedWindow` in window order; the results equal :func:`explain` on
        ``clip.window(k, ...)`` and share its cache entries.

    Raises:
        ExplanationError: as :func:`explain`; a window index the clip does not have.
    """
    T = model.window_length
    stride = int(stride or model.card.stride)
    clip = model.sampled(clip)  # windows of the clip as the model sees it (its card's frame rate)
    starts = clip.window_starts(T, stride)
    wanted = sorted(set(range(len(starts)) if windows is None else (int(k) for k in windows)))
    bad = [k for k in wanted if not 0 <= k < len(starts)]
    if bad:
        raise ExplanationError(f"{clip.name}: no window {bad[0]}; with {T} frames every {stride} the clip "
                               f"has windows 0..{len(starts) - 1}")
    if not wanted:
        return
    methods = [methods] if isinstance(methods, str) else list(methods)
    store, steps = open_cache(cache), Progress(progress, cancel)
    use_maps = shares_clip_pass(methods)
    if blocks.serves(model, methods):  # pixel gradients: one forward pass per block of windows
        yield from _stream_blocks(model, clip, [starts[k] for k in wanted], wanted, stride,
                                  lambda window: _validate(model, window, methods, target, params), store, steps)
        return
    yield from _stream(model, clip, [starts[k] for k in wanted], wanted, stride,
                       lambda window, maps: _serve(_validate(model, window, methods, target, params), store,
                                                   steps, maps if use_maps else None), steps,
                       batch_frames or model.batch_frames())


def _stream(model: AuditedModel, clip: Clip, starts: list[int], numbers: list[int], stride: int, serve,
            steps: Progress, batch_frames: int) -> Iterator[ExplainedWindow]:
    """Decode the frames the windows need once, maps per frame once, then each window."""
    T = model.window_length
    needed = min(clip.frame_count, starts[-1] + T)
    scheduler = WindowScheduler(starts, T, needed)  # holds each frame's maps until no window needs them
    frames: dict[int, np.ndarray] = {}  # and each frame's pooled features, pruned alike
    features: dict[int, np.ndarray] = {}
    pending: list[tuple[int, np.ndarray]] = []
    done = 0

    def flush() -> Iterator[ExplainedWindow]:
        nonlocal done
        if pending:
            x = model.prepare(np.stack([img for _, img in pending]))
            maps = _maps(model, x)
            scheduler.add([i for i, _ in pending], maps)
            features.update(zip([i for i, _ in pending], _features(model, maps)))  # once per frame
            pending.clear()
        for w, idx, maps in scheduler.ready():
            window = _window(clip, frames, starts[w], T, numbers[w], stride)
            eset = serve(window, maps)
            done += 1
            steps(done, len(starts), "explaining windows")
            yield ExplainedWindow(window, eset, np.stack([features[i] for i in idx]))
        for i in [i for i in frames if i not in scheduler.features]:
            del frames[i], features[i]

    decoded = clip.iter_frames(min(starts), needed, model.frame_size, keep=_in_windows(starts, T))
    for i, img in prefetched(decoded, 2 * batch_frames) if on_accelerator() else decoded:
        frames[i] = img
        pending.append((i, img))
        if len(pending) >= batch_frames:
            yield from flush()
    yield from flush()
    if done < len(starts):
        raise ExplanationError(f"{clip.name}: only {done} of {len(starts)} windows could be decoded")


def _stream_blocks(model: AuditedModel, clip: Clip, starts: list[int], numbers: list[int], stride: int,
                   request_of, store, steps: Progress) -> Iterator[ExplainedWindow]:
    """Decode the frames once; each block of windows (:mod:`.blocks`) through the CNN forward
    once, and back once per window through its own frames. A window running past the clip's
    end (its last frame repeated) is explained on its own, as :func:`explain` does."""
    T = model.window_length
    needed = min(clip.frame_count, starts[-1] + T)
    todo = blocks.plan([s for s in starts if s + T <= needed], T, blocks.block_frames(model))
    todo += [blocks.Block(s, needed, [k]) for k, s in enumerate(starts) if s + T > needed]
    frames: dict[int, np.ndarray] = {}
    done = 0

    def run(block: blocks.Block) -> Iterator[ExplainedWindow]:
        nonlocal done
        windows = [_window(clip, frames, starts[k], T, numbers[k], stride) for k in block.windows]
        requests = [request_of(w) for w in windows]
        passes = [None] * len(windows)
        found = [_from_cache(r, store) for r in requests]  # read once: what it holds is served as read
        cached = store is not None and all(len(f) == len(r.methods) for f, r in zip(found, requests))
        x = None if windows[0].padded else model.prepare(np.stack([frames[i] for i in range(block.first, block.stop)]))
        if x is not None and not cached:
            passes = blocks.run_block(model, x, [starts[k] - block.first for k in block.windows],
                                      first_target(requests[0]))
        # served from the cache: each frame's features once per block (forward only), not per window
        per_frame = _features(model, _maps(model, x)) if x is not None and cached else None
        for k, window, request, shared, held in zip(block.windows, windows, requests, passes, found):
            eset = _serve(request, store, steps, shared=shared, found=held)
            done += 1
            steps(done, len(starts), "explaining windows")
            if shared is not None:
                features = shared.features
            elif per_frame is not None:
                features = per_frame[starts[k] - block.first:starts[k] - block.first + T]
            else:  # a window past the clip's end, its last frame repeated
                features = model.frame_features(model.prepare(window.frames))
            yield ExplainedWindow(window, eset, features)

    decoded = clip.iter_frames(min(starts), needed, model.frame_size, keep=_in_windows(starts, T))
    for i, img in prefetched(decoded, 2 * model.batch_frames()) if on_accelerator() else decoded:
        frames[i] = img
        while todo and min(todo[0].stop, needed) - 1 <= i:
            yield from run(todo.pop(0))
            keep_from = todo[0].first if todo else needed
            for j in [j for j in frames if j < keep_from]:
                del frames[j]
    if done < len(starts):
        raise ExplanationError(f"{clip.name}: only {done} of {len(starts)} windows could be decoded")


def _in_windows(starts: list[int], length: int):
    """``keep(i)`` for decoding: whether frame ``i`` is in one of the windows (the frames between
    windows far apart are decoded, never converted, kept or sent through the CNN)."""
    wanted = {i for s in starts for i in range(s, s + length)}
    return wanted.__contains__


def _window(clip: Clip, frames: dict, start: int, length: int, number: int, stride: int) -> Window:
    """Window ``number`` from decoded frames (the last frame repeated past the clip's end)."""
    idx = [min(i, clip.frame_count - 1) for i in range(start, start + length)]
    return Window(np.stack([frames[i] for i in idx]), np.asarray(idx),
                  np.asarray([clip.time_of(i) for i in idx], np.float64), number, stride, clip.sha256,
                  padded=start + length > clip.frame_count)


def _maps(model: AuditedModel, x: np.ndarray) -> np.ndarray:
    """Conv maps (per-frame features without a conv layer) of preprocessed frames."""
    if model.conv is None:
        return model.frame_features(x)
    return CompiledPasses.of(model).conv_maps(x)


def _features(model: AuditedModel, maps: np.ndarray) -> np.ndarray:
    """Per-frame features from conv maps (the pooling only)."""
    if model.conv is None:
        return maps
    with ADAPTER.inference():
        return to_numpy(model.pool(maps, training=False))
