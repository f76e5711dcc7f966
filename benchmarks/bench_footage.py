"""Long footage: frames per second and peak memory of scoring a 1080p, 25 fps H.264 recording,
through the demo model and the paper shape, with every frame and sampled to the card's
``frame_rate`` (issue 34).

Each run is a fresh process (its own peak resident memory); the recording is written once,
frame by frame (it never sits in memory). "File frames/s" counts the recording's frames per
second of wall time, decoding included; "an hour takes" projects it to 90,000 frames.

Run: python benchmarks/bench_footage.py [--seconds 120] [--rate 5]   (prints a Markdown table)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import ROOT, child_json, commit, machine

FPS, WIDTH, HEIGHT = 25, 1920, 1080


def write_recording(path: Path, seconds: float) -> int:
    """A street-camera-like 1080p recording: a textured background, people-sized blobs moving."""
    import av
    import numpy as np
    rng = np.random.default_rng(0)
    background = (rng.integers(60, 120, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
                  .repeat(8, 0).repeat(8, 1))
    n = int(seconds * FPS)
    starts = rng.uniform([0, 0], [HEIGHT - 200, WIDTH - 100], (6, 2))
    speeds = rng.uniform(-6, 6, (6, 2))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "28"})
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for i in range(n):
            frame = background.copy()
            for (y, x), (dy, dx) in zip(starts, speeds):
                yy = int(abs((y + dy * i) % (2 * (HEIGHT - 200)) - (HEIGHT - 200)))
                xx = int(abs((x + dx * i) % (2 * (WIDTH - 100)) - (WIDTH - 100)))
                frame[yy:yy + 200, xx:xx + 100] = (200, 80 + (i % 50), 60)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return n


CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/benchmarks")
import crnnaudit as ca
which, clip_path, rate = sys.argv[2], sys.argv[3], float(sys.argv[4])
if which == "demo":
    model = ca.load_model(ca.ensure_demo())
else:
    from common import paper_model
    model = ca.AuditedModel(paper_model(), ca.ModelCard(classes=["fight", "shooting", "fire", "normal"]))
model.card.frame_rate = rate or None
clip = ca.open_clip(clip_path)
t0 = time.perf_counter()
timeline = model.score(clip)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "windows": len(timeline.table), "file_frames": clip.frame_count,
                  "model_frames": model.sampled(clip).frame_count,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(which: str, clip: Path, rate: float) -> dict:
    return child_json(["-c", CHILD, str(ROOT), which, str(clip), str(rate)], f"{which} at rate {rate}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="length of the recording")
    ap.add_argument("--rate", type=float, default=5.0, help="the card's frame_rate for the sampled runs")
    ap.add_argument("--models", default="demo,paper", help="demo, paper or both")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "recording-1080p.mp4"
        frames = write_recording(clip, args.seconds)
        print(f"machine: {machine()}; commit {commit()}")
        print(f"recording: {frames} frames, {WIDTH}x{HEIGHT}, {FPS} fps H.264 ({args.seconds:.0f} s, "
              f"{clip.stat().st_size / 1e6:.0f} MB)")
        print("| model | frames read | model frames | windows | time (s) | file frames/s | an hour takes (min) "
              "| peak RSS (MB) |")
        print("|---|---|---|---|---|---|---|---|")
        for which in args.models.split(","):
            for rate in (0.0, args.rate):
                r = run(which, clip, rate)
                fps = r["file_frames"] / r["seconds"]
                label = f"every frame ({FPS} fps)" if not rate else f"frame_rate {rate:g}"
                print(f"| {which}, {label} | {r['file_frames']} | {r['model_frames']} | {r['windows']} | "
                      f"{r['seconds']:.1f} | {fps:.0f} | {3600 * FPS / fps / 60:.1f} | {r['peak_mb']:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
