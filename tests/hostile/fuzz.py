"""The fuzz run shared by the CI test (``test_fuzz.py``, a fixed number of cases, seeded) and
the benchmark (``benchmarks/bench_fuzz.py``, more cases, any seed)."""

from __future__ import annotations

import collections
import json
import os
import select
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, seed as hseed, settings

from .cases import write_clip, write_model
from .mutate import apply, edits

ROOT = Path(__file__).resolve().parents[2]

CARD = {"name": "fuzz", "version": "1", "classes": ["normal", "fight", "fire"], "anomaly_classes": ["fight", "fire"],
        "threshold": 0.5, "stride": 2, "owner": "QA", "intended_use": "tests",
        "known_limitations": ["tiny"], "extra": {"note": "seed"}}


def make_seeds(folder: Path) -> dict[str, Path]:
    """One small valid file of each kind the fuzz mutates."""
    import yaml
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {"mp4": write_clip(folder / "seed.mp4", frames=12, size=(32, 48)),
             "avi": write_clip(folder / "seed.avi", frames=12, size=(32, 48)),
             "keras": write_model(folder / "seed.keras"),
             "h5": write_model(folder / "seed.h5"),
             "json": folder / "seed.card.json", "yaml": folder / "seed.card.yaml"}
    seeds["json"].write_text(json.dumps(CARD))
    seeds["yaml"].write_text(yaml.safe_dump(CARD))
    return seeds


def entry(kind: str, path: Path):
    """What the app and the command line do with a file of this kind."""
    if kind in ("mp4", "avi"):
        from crnnaudit.footage.video import open_clip
        clip = open_clip(path)
        clip.facts()
        for _ in clip.windows(4, 3, (16, 16)):
            pass
    elif kind in ("keras", "h5"):
        from crnnaudit.model import load_model
        # What the sandboxed child runs: the worker is the sandbox here (memory and time
        # limits); tests/hostile/test_hostile.py covers the product's own.
        load_model(path, card=None, isolate=False)
    else:
        from crnnaudit.card import ModelCard
        ModelCard.read(path).to_dict()


@dataclass
class FuzzResult:
    kind: str
    counts: collections.Counter = field(default_factory=collections.Counter)
    foreign: list = field(default_factory=list)  # (edits, detail): a foreign exception or a crash
    hangs: list = field(default_factory=list)  # (edits, detail): no verdict within the limit

    @property
    def cases(self) -> int:
        return sum(self.counts.values())


class Worker:
    """A child process that runs cases one at a time (``fuzz_worker.py``): a case that crashes
    a C library (FFmpeg, HDF5) or loops inside one cannot take the test runner with it; the
    worker is replaced and the case counted."""

    def __init__(self, kind: str, memory_mb: int = 4096):
        self.kind, self.memory_mb = kind, memory_mb
        self.proc = None

    def _start(self):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.hostile.fuzz_worker", self.kind,
                                      str(self.memory_mb)], cwd=ROOT, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._read(120.0) == {"ready": True}

    def _read(self, timeout: float):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else {"outcome": "crash", "detail": f"worker exit {self.proc.wait()}"}

    def run(self, path: Path, limit_s: float) -> tuple[str, str]:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        self.proc.stdin.write(f"{path}\n")
        self.proc.stdin.flush()
        reply = self._read(limit_s)
        if reply is None:
            self.close()
            return "hang", f"no verdict within {limit_s} s"
        if reply["outcome"] == "crash":
            self.proc = None
        return reply["outcome"], reply.get("detail", "")

    def close(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def fuzz(kind: str, seed_file: Path, cases: int, seed: int = 0, limit_s: float = 30.0) -> FuzzResult:
    """Run ``cases`` mutations of ``seed_file`` through :func:`entry` in a worker process;
    foreign exceptions, crashes and hangs are counted, never raised (the caller asserts)."""
    data = seed_file.read_bytes()
    result = FuzzResult(kind)
    work = Path(tempfile.mkdtemp(prefix=f"fuzz-{kind}-"))
    target = work / seed_file.name
    worker = Worker(kind)

    @hseed(seed)
    @settings(max_examples=cases, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=("generate",))
    @given(edits(len(data)))
    def case(edit_list):
        target.write_bytes(apply(data, edit_list))
        outcome, detail = worker.run(target, limit_s)
        result.counts[outcome] += 1
        if outcome in ("foreign", "crash"):
            result.foreign.append((edit_list, detail))
        elif outcome == "hang":
            result.hangs.append((edit_list, detail))

    try:
        case()
    finally:
        worker.close()
    return result
