"""CRNNAUDIT_MEMORY (crnnaudit/review/memory.py): with ``released`` the memory TensorFlow's kernels used
goes back to the system once the work is done; with ``pooled`` TensorFlow keeps it. Measured in
fresh processes (the allocator is chosen when TensorFlow starts), on a real convolution whose
activations take about 270 MB."""

import json
import os
import subprocess
import sys

import pytest

CHILD = r"""
import json
from crnnaudit.config import quiet_tensorflow
quiet_tensorflow()  # what the app and the commands call before TensorFlow loads
import numpy as np, keras
from crnnaudit.review.memory import give_back

def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024

x = keras.Input((128, 128, 3))
model = keras.Model(x, keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x))
small = np.zeros((1, 128, 128, 3), np.float32)
model.predict_on_batch(small)
before = rss_mb()
out = model.predict_on_batch(np.ones((64, 128, 128, 3), np.float32))  # 64 x 128 x 128 x 64 floats: 268 MB
assert out.shape == (64, 128, 128, 64)
del out
model.predict_on_batch(small)
asked = give_back()
print(json.dumps({"held_mb": rss_mb() - before, "trimmed": asked}))
"""


def _held(mode: str) -> dict:
    env = dict(os.environ, CRNNAUDIT_MEMORY=mode)
    env.pop("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", None)
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's malloc_trim")
def test_released_memory_goes_back_to_the_system_and_pooled_memory_stays():
    pooled, released = _held("pooled"), _held("released")
    assert pooled["trimmed"] and released["trimmed"]
    # the activations (268 MB) stay in TensorFlow's pool, or go back once freed and trimmed
    assert pooled["held_mb"] > 200, pooled
    assert released["held_mb"] < 80, released


RAY_WORKER = r"""
import json, os, sys
from crnnaudit.dataset.executors import Job
from crnnaudit.dataset.ray_executor import ClipWorker
assert "tensorflow" not in sys.modules  # as in a fresh Ray worker: the actor's class loads no TensorFlow
job = Job(model=sys.argv[1], card=None, clips=(), out=sys.argv[2], labels={}, explain="flagged", methods=None,
          env={"CRNNAUDIT_MEMORY": sys.argv[3], "CRNNAUDIT_HOME": sys.argv[2]})
ClipWorker(job, threads=0)  # adopts the driver's settings, then loads the model
print(json.dumps({"allocator": os.environ.get("TF_ONEDNN_USE_SYSTEM_ALLOCATOR"),
                  "tensorflow": "tensorflow" in sys.modules}))
"""


@pytest.mark.parametrize("mode", ["released", "pooled"])
def test_a_ray_worker_takes_the_drivers_memory_setting_before_tensorflow_loads(mode, tmp_path):
    """A Ray actor adopts the driver's CRNNAUDIT_* settings in its own process; the memory setting
    acts only if it is applied before that process's TensorFlow starts (the worker's shell has
    none of it)."""
    import architectures as arch
    from crnnaudit import ModelCard
    path = tmp_path / "m.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(classes=["normal", "fight", "fire", "shooting"], stride=4).write(tmp_path / "m.card.json")
    env = {k: v for k, v in os.environ.items() if k not in ("CRNNAUDIT_MEMORY", "TF_ONEDNN_USE_SYSTEM_ALLOCATOR")}
    done = subprocess.run([sys.executable, "-c", RAY_WORKER, str(path), str(tmp_path), mode], capture_output=True,
                          text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"allocator": "true" if mode == "released" else None, "tensorflow": True}


ARENAS_CHILD = r"""
import ctypes, ctypes.util, json, re, sys, tempfile, threading
from crnnaudit.review.memory import prepare_server
prepare_server()  # as serve.py and app.py call it, before their threads start
libc = ctypes.CDLL(ctypes.util.find_library("c"))
barrier, held = threading.Barrier(12), []

def work():
    barrier.wait()  # twelve threads alive at once, each allocating from the C heap
    held.append([bytearray(65536) for _ in range(8)])
threads = [threading.Thread(target=work) for _ in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join()
libc.fopen.restype = ctypes.c_void_p
libc.fopen.argtypes, libc.fclose.argtypes = [ctypes.c_char_p, ctypes.c_char_p], [ctypes.c_void_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
with tempfile.NamedTemporaryFile(suffix=".xml") as out:
    f = libc.fopen(out.name.encode(), b"w")
    libc.malloc_info(0, f)
    libc.fclose(f)
    xml = open(out.name).read()
print(json.dumps({"arenas": len(re.findall(r'<heap nr="\d+"', xml))}))
"""


def _arenas(mode: str) -> int:
    env = dict(os.environ, CRNNAUDIT_MEMORY=mode)
    done = subprocess.run([sys.executable, "-c", ARENAS_CHILD], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["arenas"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt and malloc_info")
def test_a_released_server_keeps_few_c_heaps_for_its_threads():
    """Each thread that allocates gets a C heap of its own (glibc: up to eight per core), and what
    a session's thread frees stays in pieces across them; a released server asks for two."""
    from crnnaudit.review.memory import ARENAS
    assert _arenas("released") <= ARENAS
    assert _arenas("pooled") > ARENAS + 4  # glibc's own choice, untouched


@pytest.mark.parametrize("entry", ["serve.py", "app.py"])
def test_each_server_entry_point_prepares_before_the_pages_load(entry):
    """``make app`` serves ``serve.py`` and ``streamlit run app.py`` still works: each calls
    ``prepare_server()`` at its top, before it imports the pages (which start TensorFlow's threads)."""
    import ast
    from pathlib import Path
    tree = ast.parse((Path(__file__).resolve().parents[1] / entry).read_text(encoding="utf-8"))
    calls = [i for i, node in enumerate(tree.body) if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
             and getattr(node.value.func, "id", None) == "prepare_server"]
    pages = [i for i, node in enumerate(tree.body) if isinstance(node, ast.ImportFrom)
             and (node.module or "").startswith("crnnaudit.ui")]
    assert calls and pages and calls[0] < pages[0], f"{entry} must call prepare_server() before it imports the pages"
