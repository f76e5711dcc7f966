"""Shared set-up for the benchmarks: the paper-shape model and the real clip."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VTEST = ROOT / "tests" / "data" / "vtest.avi"  # OpenCV sample data; see tests/data/README.md


def paper_model(t: int = 20, size: int = 112, units: int = 1024, classes: int = 4, seed: int = 0):
    """TimeDistributed(VGG19(include_top=False, weights=None)) + GRU(1024) + MLP + softmax."""
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(seed)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(size, size, 3))
    inp = keras.Input((t, size, size, 3))
    y = L.TimeDistributed(vgg)(inp)
    y = L.TimeDistributed(L.GlobalAveragePooling2D())(y)
    y = L.GRU(units)(y)
    y = L.Dense(256, activation="relu")(y)
    y = L.Dropout(0.5)(y)
    return keras.Model(inp, L.Dense(classes, activation="softmax")(y), name="paper_vgg19_gru")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
    except Exception:  # noqa: BLE001 - informational only
        gpus = []
    dev = f"{len(gpus)} GPU ({gpus[0].name})" if gpus else "CPU only"
    return f"{os.cpu_count()} cores, {cpu}, {dev}, Python {platform.python_version()}"


def commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def median_time(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` runs after one warm-up (tracing and
    compilation are not what the benchmarks measure)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def child_json(args: list[str], what: str, env: dict | None = None) -> dict:
    """Run ``python args...`` in a fresh process (its own peak memory, its own allocator) and
    read the JSON object its last line of output prints; a failure stops the benchmark, naming
    ``what`` ran."""
    import json
    import subprocess
    import sys
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{what}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])
