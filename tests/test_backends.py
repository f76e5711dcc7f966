"""One engine, three backends: the same ``.keras`` files, loaded and explained on TensorFlow,
JAX and PyTorch, give the same maps.

Each backend runs in its own process (``KERAS_BACKEND`` is read once, when Keras loads) through
``tests/backend_worker.py``, which goes the user's way: ``load_model`` (the safety scan, safe
mode, the sandboxed first load, the decomposition and its check), then ``explain`` with every
method the model supports. The JAX and PyTorch runs have TensorFlow blocked (an import of it
fails, in the sandbox child too), as on the GPU machines that have none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import architectures as arch
from hostile import cases

pytestmark = pytest.mark.long  # the backend runs: make test-long (CI runs it)

WORKER = Path(__file__).parent / "backend_worker.py"
OTHER_BACKENDS = ("jax", "torch")
TOLERANCE = 1e-4  # relative, float32, on the test architectures (issue 25)


def relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| over max |a|: 0 for equal arrays, 1 for b = 0."""
    scale = float(np.max(np.abs(a))) if a.size else 0.0
    return float(np.max(np.abs(a - b))) / scale if scale > 0 else float(np.max(np.abs(b), initial=0.0))


def _blocker(folder: Path) -> Path:
    """A folder that, first on PYTHONPATH, makes ``import tensorflow`` fail."""
    (folder / "tensorflow").mkdir(parents=True, exist_ok=True)
    (folder / "tensorflow" / "__init__.py").write_text('raise ImportError("TensorFlow is not installed here")\n')
    return folder


def run_worker(backend: str, src: Path, out: Path, *methods: str, env: dict | None = None,
               block_tensorflow: bool = False) -> subprocess.Popen:
    environment = dict(os.environ, KERAS_BACKEND=backend, CRNNAUDIT_HOME=str(out / "home"),
                       TF_CPP_MIN_LOG_LEVEL="3", **(env or {}))
    if block_tensorflow:
        blocker = _blocker(out / "blocker")
        environment["PYTHONPATH"] = os.pathsep.join([str(blocker), environment.get("PYTHONPATH", "")])
    out.mkdir(parents=True, exist_ok=True)
    log = open(out / "log.txt", "w")
    return subprocess.Popen([sys.executable, str(WORKER), str(src), str(out), *methods],
                            env=environment, stdout=log, stderr=subprocess.STDOUT)


def finish(proc: subprocess.Popen, out: Path, timeout: float = 600) -> tuple[dict, dict]:
    proc.wait(timeout=timeout)
    assert proc.returncode == 0, (out / "log.txt").read_text()[-4000:]
    with np.load(out / "maps.npz") as z:
        arrays = {k: z[k] for k in z.files}
    return json.loads((out / "result.json").read_text()), arrays


def _hostile(folder: Path) -> None:
    folder.mkdir()
    keras_lambda = arch.keras.Sequential([arch.keras.Input((4, 8, 8, 3)), arch.L.Lambda(lambda z: z * 2.0),
                                          arch.L.TimeDistributed(arch.L.Flatten()), arch.L.GRU(2),
                                          arch.L.Dense(2, activation="softmax")])
    keras_lambda.save(folder / "lambda.keras")
    work = folder.parent / "made"
    work.mkdir()
    (folder / "memory_bomb.keras").write_bytes(cases.layer_needs_gigabytes(work).read_bytes())
    (folder / "text.keras").write_text("not a model")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every test architecture, its window, hostile files and a swap pair, run on each backend
    (TensorFlow as the reference; the three processes in parallel)."""
    root = tmp_path_factory.mktemp("backends")
    src = root / "in"
    src.mkdir()
    rng = np.random.default_rng(25)
    for name, build in arch.ARCHITECTURES.items():
        model = build()
        model.save(src / f"{name}.keras")
        t = model.input_shape[1] or 20  # a model of any length: the card's default window
        np.save(src / f"{name}.npy", rng.integers(0, 256, (t,) + model.input_shape[2:], dtype=np.uint8))
    (src / "swap").mkdir()
    arch.td_cnn_gru_sigmoid().save(src / "swap" / "a.keras")
    arch.td_cnn_gru_sigmoid(seed=99).save(src / "swap" / "b.keras")
    _hostile(src / "hostile")
    procs = {b: run_worker(b, src, root / b, block_tensorflow=b != "tensorflow")
             for b in ("tensorflow",) + OTHER_BACKENDS}
    return {b: finish(p, root / b) for b, p in procs.items()}


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_every_method_gives_the_same_maps_on_every_backend(runs, backend):
    (_, ref), (result, got) = runs["tensorflow"], runs[backend]
    assert result["backend"] == result["adapter"] == backend
    assert set(got) == set(ref)
    methods = {k.split("/")[1] for k in ref if k.count("/") == 2}
    assert {"gradcam", "gradcam_pp", "saliency", "temporal_ig", "frame_occlusion"} <= methods
    worst = {k: relative_difference(ref[k], got[k]) for k in ref}
    assert max(worst.values()) <= TOLERANCE, sorted(worst.items(), key=lambda kv: -kv[1])[:5]
    # the comparison can fail: a map of another window is far outside the tolerance
    key = "td_cnn_gru_softmax/gradcam/maps"
    assert relative_difference(ref[key], ref[key][::-1]) > 100 * TOLERANCE


@pytest.mark.parametrize("backend", ("tensorflow",) + OTHER_BACKENDS)
def test_block_passes_equal_each_windows_own_pass_on_every_backend(runs, backend):
    """Two windows' pixel gradients from one forward pass (pullbacks per segment) equal each
    window's own pass on each backend (TensorFlow's persistent tape, JAX's pullback, PyTorch's
    retained graph): the relative difference within the backends' own tolerance."""
    result, _ = runs[backend]
    assert len(result["blocks"]) >= 4, result["blocks"]
    assert max(result["blocks"].values()) <= TOLERANCE, result["blocks"]


@pytest.mark.parametrize("backend", OTHER_BACKENDS)
def test_loading_stays_safe_on_every_backend(runs, backend):
    (ref, _), (result, _) = runs["tensorflow"], runs[backend]
    assert result["tensorflow_importable"] is False  # as on a GPU machine without it
    assert ref["refused"]["lambda.keras"]["error"] == "UnsafeModelError"
    assert "memory" in ref["refused"]["memory_bomb.keras"]["message"].lower()
    for name, verdict in ref["refused"].items():
        assert verdict["error"] is not None
        assert result["refused"][name]["error"] == verdict["error"], (name, result["refused"][name])
        assert name in result["refused"][name]["message"]
    assert set(result["verify"]) == set(arch.ARCHITECTURES)
    assert max(result["verify"].values()) <= 1e-5
    assert result["swapped_head_verify"] > 1e-4 and ref["swapped_head_verify"] > 1e-4


def test_vgg19_maps_agree_within_tensorflows_own_noise(tmp_path):
    """The paper's model (random-weight VGG19, 2 frames at 112 x 112): JAX against TensorFlow,
    within twice TensorFlow's own float32 noise (its oneDNN kernels on against off) where that
    is above the 1e-4 bar. Every method the engine offers on it."""
    src = tmp_path / "in"
    src.mkdir()
    arch.vgg19_gru().save(src / "vgg19_gru.keras")
    np.save(src / "vgg19_gru.npy", np.random.default_rng(19).integers(0, 256, (2, 112, 112, 3), dtype=np.uint8))
    methods = ("gradcam", "gradcam_pp", "saliency", "grad_x_input", "frame_occlusion", "temporal_ig",
               "prefix_score")
    procs = {"tensorflow": run_worker("tensorflow", src, tmp_path / "tf", *methods),
             "tensorflow_plain": run_worker("tensorflow", src, tmp_path / "tf_plain", *methods,
                                            env={"TF_ENABLE_ONEDNN_OPTS": "0"}),
             "jax": run_worker("jax", src, tmp_path / "jax", *methods, block_tensorflow=True)}
    (_, ref), (_, plain), (result, got) = (finish(procs[k], tmp_path / d) for k, d in
                                           (("tensorflow", "tf"), ("tensorflow_plain", "tf_plain"), ("jax", "jax")))
    assert result["backend"] == "jax" and result["verify"]["vgg19_gru"] <= 1e-5
    assert set(got) == set(ref) and len(ref) == 2 * len(methods) - 3 + 1  # 4 spatial maps, probabilities
    noise = {k: relative_difference(ref[k], plain[k]) for k in ref}
    assert max(noise.values()) > 0  # the two TensorFlow runs did differ: the baseline is real
    for k in ref:
        assert relative_difference(ref[k], got[k]) <= max(TOLERANCE, 2 * noise[k]), (k, noise[k])


def test_the_gpu_benchmark_runs_on_jax_without_tensorflow_video_or_tables(tmp_path):
    """``benchmarks/bench_gpu.py`` as it would run on a GPU machine (JAX, no TensorFlow), here on
    the CPU at toy sizes, with TensorFlow, PyAV, OpenCV, pandas and pyarrow unimportable: the
    engine needs none of them to score and explain."""
    blocker = _blocker(tmp_path / "blocker")
    for name in ("av", "cv2", "pandas", "pyarrow"):
        (blocker / name).mkdir()
        (blocker / name / "__init__.py").write_text(f'raise ImportError("{name} is not installed here")\n')
    out = tmp_path / "gpu.json"
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=str(blocker), CRNNAUDIT_HOME=str(tmp_path / "home"))
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_gpu.py"
    done = subprocess.run([sys.executable, str(bench), "--smoke", "--json", str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["backend"] == "jax" and result["tensorflow_loaded"] is False
    (row,) = result["results"]
    assert row["scoring_frames_per_s"] > 0 and row["explain_default_frames_per_s"] > 0
    assert [s["batch"] for s in row["sweep"]] == [2, 4]
    # bfloat16 moves the maps: measured, not assumed (the product's passes stay float32)
    assert 0 < row["bfloat16"]["gradcam_relative_difference"] < 1
    assert "| 32 |" in done.stdout


def test_the_demo_made_on_tensorflow_explains_alike_on_jax(full_demo, tmp_path, sample_clips):
    """The shipped demo, assembled on TensorFlow, loaded from its file on JAX (card, hash check
    and calibration with it): the same probabilities and maps. Assembling it on JAX is refused
    with a message that says how, rather than retraining for minutes."""
    import shutil
    from crnnaudit import open_clip
    from crnnaudit.demo.paths import FRAMES, SIZE
    src = tmp_path / "in"
    src.mkdir()
    for f in (full_demo / "demo").glob("demo_vgg19_gru.*"):
        shutil.copyfile(f, src / f.name)
    window = open_clip(sample_clips[0]).window(0, FRAMES, FRAMES, (SIZE, SIZE))
    np.save(src / "demo_vgg19_gru.npy", window.frames)
    methods = ("gradcam", "gradcam_pp", "frame_occlusion", "temporal_ig", "prefix_score")
    procs = {"tensorflow": run_worker("tensorflow", src, tmp_path / "tf", *methods),
             "jax": run_worker("jax", src, tmp_path / "jax", *methods, block_tensorflow=True)}
    (_, ref), (result, got) = finish(procs["tensorflow"], tmp_path / "tf"), finish(procs["jax"], tmp_path / "jax")
    assert result["backend"] == "jax" and set(got) == set(ref) and len(ref) == 2 * 2 + 3 + 1
    worst = {k: relative_difference(ref[k], got[k]) for k in ref}
    assert max(worst.values()) <= TOLERANCE, worst

    env = dict(os.environ, KERAS_BACKEND="jax", CRNNAUDIT_HOME=str(tmp_path / "fresh"),
               PYTHONPATH=str(_blocker(tmp_path / "blocker")))
    done = subprocess.run([sys.executable, "-m", "crnnaudit", "demo"], env=env, capture_output=True,
                          text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode != 0
    assert "KERAS_BACKEND=tensorflow crnnaudit demo" in done.stdout + done.stderr
