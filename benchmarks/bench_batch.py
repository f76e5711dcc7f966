"""Dataset audits: throughput of `crnnaudit batch` and the cost of explaining every window.

1. ``--clips`` synthetic clips (48 frames, 120 x 160, H.264) through the demo model:
   clips/s and frames/s with the local executor and with Ray at each of ``--workers`` actors
   (actor start-up included: it is part of what a user waits for), against frames/s of one
   compiled forward pass (CNN on a batch of 32 frames + the head on its windows) on the same
   machine: the share of time lost to decoding and bookkeeping in local mode. Peak resident
   memory per process.
2. The explain-all ratio on the real clip with the paper-shape model (VGG19 + GRU(1024),
   T = 20, stride 10): explaining every window with gradcam, frame_occlusion, temporal_ig
   and prefix_score from one CNN pass per clip, against scoring the clip; and against the
   per-window path (each window's frames through the CNN again).

Everything is measured in this one run. Run: python benchmarks/bench_batch.py [--clips 200]
[--workers 1 2] [--vtest-frames 200]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from common import VTEST, commit, machine, paper_model

METHODS = ["gradcam", "frame_occlusion", "temporal_ig", "prefix_score"]


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def forward_fps(model, batch: int = 32, repeats: int = 5) -> float:
    """Frames/s of the compiled CNN on ``batch`` frames plus the head on the windows they make."""
    x = model.prepare(np.random.default_rng(0).integers(0, 255, (batch,) + model.frame_shape[:2] + (3,), np.uint8))
    T, stride = model.window_length, model.card.stride
    starts = list(range(0, batch - T + 1, stride))

    def once():
        f = model.frame_features(x)
        model.head_logits(np.stack([f[s:s + T] for s in starts]))
    once()
    seconds, _ = timed(lambda: [once() for _ in range(repeats)])
    return batch * repeats / seconds


def throughput(args, work: Path) -> list[str]:
    from crnnaudit.dataset.executors import run_batch
    from crnnaudit.demo import synthesize
    from crnnaudit.lab import ready_demo as ensure_demo
    from crnnaudit.model import load_model
    path = ensure_demo()
    model = load_model(path)
    synthesize(work / "clips", count=args.clips, seed=99, frames=48)
    frames = 48 * args.clips
    ref = forward_fps(model)
    local_s, summary = timed(lambda: run_batch(model, [str(work / "clips")], work / "local"))
    rows = [f"| local, 1 process | {args.clips / local_s:.2f} | {frames / local_s:.1f} | "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} (this process) |"]
    for w in args.workers:
        ray_s, s = timed(lambda: run_batch(path, [str(work / "clips")], work / f"ray{w}", executor="ray", workers=w))
        peaks = ", ".join(f"{v['peak_rss_mb']:.0f}" for v in s["workers"].values())
        rows.append(f"| ray, {w} actor(s) | {args.clips / ray_s:.2f} | {frames / ray_s:.1f} | {peaks} |")
    overhead = 1 - (frames / local_s) / ref
    return ["| executor | clips/s | frames/s | peak memory per process (MB) |", "|---|---|---|---|", *rows,
            "", f"compiled forward pass (batch 32, CNN + head): {ref:.1f} frames/s; local batch: "
                f"{frames / local_s:.1f} frames/s, so decoding and bookkeeping take {overhead:.0%} of the time "
                f"(target at most 25%); {summary['clips']} clips, accuracy {summary.get('accuracy', float('nan')):.3f}"]


def short_vtest(frames: int, folder: Path) -> Path:
    """The first ``frames`` frames of the real clip, as H.264 (the benchmark's clip)."""
    from crnnaudit.render import write_video
    from crnnaudit.footage.video import open_clip
    out = folder / f"vtest_{frames}.mp4"
    clip = open_clip(VTEST)
    write_video(out, (img for _, img in clip.iter_frames(0, frames)), fps=clip.fps)
    return out


def explain_ratio(args, work: Path) -> list[str]:
    from crnnaudit import ModelCard
    from crnnaudit.explainers import explain
    from crnnaudit.explainers.clip import explain_clip
    from crnnaudit.model import AuditedModel
    from crnnaudit.footage.video import open_clip
    model = AuditedModel(paper_model(), ModelCard(frames_per_window=20, stride=10))
    clip = open_clip(short_vtest(args.vtest_frames, work) if args.vtest_frames else VTEST)
    n = clip.window_count(20, 10)
    model.score(clip)  # warm-up: tracing
    list(explain_clip(model, clip, METHODS, windows=[0], cache=False))
    score_s, _ = timed(lambda: model.score(clip))
    clip_s, _ = timed(lambda: list(explain_clip(model, clip, METHODS, cache=False)))
    per_s, _ = timed(lambda: [explain(model, clip.window(k, 20, 10, model.frame_size), METHODS, cache=False)
                              for k in range(n)])
    from crnnaudit.explainers import DEFAULT_METHODS
    from crnnaudit.explainers.blocks import block_frames
    list(explain_clip(model, clip, DEFAULT_METHODS, windows=range(min(n, 4)), cache=False))  # trace the blocks
    blocks_s, _ = timed(lambda: list(explain_clip(model, clip, DEFAULT_METHODS, cache=False)))
    per_default_s, _ = timed(lambda: [explain(model, clip.window(k, 20, 10, model.frame_size), DEFAULT_METHODS,
                                              cache=False) for k in range(n)])
    return [f"{clip.name}: {clip.frame_count} frames, {n} windows (T = 20, stride 10), paper shape",
            "", "| what | seconds | ratio to scoring |", "|---|---|---|",
            f"| score every window | {score_s:.1f} | 1.00 |",
            f"| explain every window, one CNN pass per clip ({', '.join(METHODS)}) | {clip_s:.1f} | "
            f"{clip_s / score_s:.2f} (target at most 1.3) |",
            f"| the same, window by window (the CNN again for each window) | {per_s:.1f} | {per_s / score_s:.2f} |",
            f"| explain every window, default set ({', '.join(DEFAULT_METHODS)}), blocks of "
            f"{block_frames(model)} frames at most | {blocks_s:.1f} | {blocks_s / score_s:.2f} (target at most 3) |",
            f"| the same, window by window | {per_default_s:.1f} | {per_default_s / score_s:.2f} |",
            "", f"peak resident memory of this process: {peak_mb():.0f} MB"]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--clips", type=int, default=200)
    p.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    p.add_argument("--vtest-frames", type=int, default=200, help="0: the whole clip")
    p.add_argument("--skip-throughput", action="store_true")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["CRNNAUDIT_HOME"] = str(work / "home")
        print(f"machine: {machine()}; commit {commit()}\n")
        if not args.skip_throughput:
            print("\n".join(throughput(args, work)), "\n", flush=True)
        print("\n".join(explain_ratio(args, work)))


if __name__ == "__main__":
    main()
