"""What ``CRNNAUDIT_MEMORY`` trades: the server's memory after its work against the work's speed
(issue 34: memory released when sessions end).

Each row is a fresh process (the allocator is chosen when TensorFlow starts) doing what a server
does for one auditor, each piece of work in a turn of the server's queue as the app takes it:
score a sample clip with the demo model, then explain two of its windows with the default set.
Then, the queue idle (with ``released`` the memory freed is handed back at that moment): the
process's resident memory, and its peak. The modes alternate, ``--repeats`` times each, so that
the machine's noise shows.

Run: python benchmarks/bench_memory.py [--repeats 2]   (prints a Markdown table)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from common import ROOT, child_json, commit, machine

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from crnnaudit.config import quiet_tensorflow
quiet_tensorflow()
from crnnaudit.explainers import DEFAULT_METHODS
from crnnaudit.review import World

def mb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field)) / 1024

world = World(default_model=sys.argv[2], samples=sys.argv[3])
model = world.model(world.default_model_path())
clip = world.clip(str(world.samples()[0]))
loaded = mb("VmRSS")
t0 = time.perf_counter()
with world.queue.turn("score", "score"):
    world.timeline(model, clip)
t1 = time.perf_counter()
for k in (0, 1):
    with world.queue.turn(f"explain {k}", "explain"):
        world.explain(model, clip.window(k, model.window_length, model.card.stride, model.frame_size), DEFAULT_METHODS)
t2 = time.perf_counter()
print(json.dumps({"score_s": t1 - t0, "explain_s": (t2 - t1) / 2, "loaded_mb": loaded, "after_mb": mb("VmRSS"),
                  "peak_mb": mb("VmHWM")}))
"""


def run(mode: str, model: str, samples: str) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = dict(os.environ, CRNNAUDIT_MEMORY=mode, CRNNAUDIT_HOME=home)
        env.pop("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", None)
        return child_json(["-c", CHILD, str(ROOT), model, samples], mode, env)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("CRNNAUDIT_HOME", str(ROOT / ".cache" / "demo-home"))
    sys.path.insert(0, str(ROOT))
    from crnnaudit.lab import ready_demo
    model, samples = str(ready_demo()), str(ROOT / "sample_videos")
    print(f"machine: {machine()}; commit {commit()}\n")
    print("| CRNNAUDIT_MEMORY | score a sample clip (s) | explain a window, default set (s) | model loaded (MB) "
          "| after the work, queue idle (MB) | peak (MB) |\n|---|---|---|---|---|---|", flush=True)
    for _ in range(args.repeats):
        for mode in ("pooled", "released"):
            r = run(mode, model, samples)
            print(f"| {mode} | {r['score_s']:.1f} | {r['explain_s']:.1f} | {r['loaded_mb']:.0f} | {r['after_mb']:.0f} "
                  f"| {r['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
