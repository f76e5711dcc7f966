"""Peak memory and time of scoring the whole real clip with the paper-shape model.

Run: python benchmarks/score_memory.py   (prints one table row; run it in a fresh process)
"""

from __future__ import annotations

import resource
import time

from common import VTEST, commit, machine, paper_model


def main():
    import crnnaudit as ca
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model = ca.AuditedModel(paper_model(), ca.ModelCard(classes=["fight", "shooting", "fire", "normal"]))
    clip = ca.open_clip(VTEST)
    t0 = time.perf_counter()
    timeline = model.score(clip)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {machine()}; commit {commit()}")
    print("| clip | frames | windows (T=20, stride 10) | time (s) | peak RSS (MB) | RSS at start, before TensorFlow loads (MB) |")
    print("|---|---|---|---|---|---|")
    print(f"| vtest.avi 1280x720 | {clip.frame_count} | {len(timeline.table)} | {seconds:.1f} | {peak:.0f} | {base:.0f} |")


if __name__ == "__main__":
    main()
