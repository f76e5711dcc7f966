"""What checking a model file against its card costs: the SHA-256 of a 550 MB file (a full
VGG19 with its top), the hash every load takes anyway. Target: at most 0.5 s.

    python benchmarks/bench_model_hash.py [--mb 550]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import commit  # also puts the project on the import path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--mb", type=int, default=550)
    args = p.parse_args()
    from crnnaudit.footage.video import sha256_file
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        with open(path, "wb") as f:
            for _ in range(args.mb):
                f.write(os.urandom(1 << 20))
        sha256_file(path)  # once to warm the page cache: loads read a file the sandbox just read
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            sha256_file(path)
            times.append(time.perf_counter() - t0)
    best, median = min(times), sorted(times)[1]
    print(f"machine: {os.cpu_count()} cores; commit {commit()}; the file in the page cache, as after the sandbox's read")
    print("| file | SHA-256 seconds (median of 3) | best | MB/s |")
    print("|---|---|---|---|")
    print(f"| {args.mb} MB | {median:.3f} | {best:.3f} | {args.mb / median:.0f} |")


if __name__ == "__main__":
    main()
