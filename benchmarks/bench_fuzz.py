"""More fuzzing than CI runs: ``python benchmarks/bench_fuzz.py [--cases N] [--seed S]``.

Mutated MP4, AVI, .keras, .h5 and card files through the entry points the app uses (see
``tests/hostile/fuzz.py``); prints cases, verdicts, foreign exceptions, hangs per kind.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, commit, machine

sys.path.insert(0, str(ROOT))
from tests.hostile.fuzz import fuzz, make_seeds  # noqa: E402

SHARE = {"mp4": 0.3, "avi": 0.2, "json": 0.1, "yaml": 0.1, "keras": 0.15, "h5": 0.15}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    seeds = make_seeds(Path(tempfile.mkdtemp(prefix="crnnaudit-fuzz-seeds-")))
    print(f"machine: {machine()}; commit {commit()}; seed {args.seed}")
    print("| file kind | cases | read | refused | foreign exceptions | hangs (sandbox timeouts for models) | seconds |")
    print("|---|---|---|---|---|---|---|")
    for kind, share in SHARE.items():
        t0 = time.perf_counter()
        r = fuzz(kind, seeds[kind], max(1, int(args.cases * share)), seed=args.seed,
                 limit_s=10.0 if kind in ("keras", "h5") else 30.0)
        print(f"| {kind} | {r.cases} | {r.counts['ok']} | {r.counts['refused']} | {len(r.foreign)} | "
              f"{len(r.hangs)} | {time.perf_counter() - t0:.0f} |", flush=True)
        for edits, detail in r.foreign[:5]:
            print(f"  foreign: {edits} -> {detail.splitlines()[-1][:300]}", file=sys.stderr)


if __name__ == "__main__":
    main()
