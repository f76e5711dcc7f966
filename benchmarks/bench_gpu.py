"""Frames per second on a GPU: scoring and the default explanation set, through the engine.

For the GPU machines, which have JAX (and PyTorch) but no TensorFlow: run with
``KERAS_BACKEND=jax``. Needs only keras, the backend, numpy, scipy and PyYAML; no video is
decoded (synthetic frames) and neither TensorFlow, PyAV, OpenCV nor pandas is imported
(``tests/test_backends.py`` runs this script with all four blocked). On the project's GPU
machines (JAX, Python 3.12, no keras): ``make gpu-wheels`` here (3 MB in ``.cache/gpu-wheels``),
carry that folder, and there run ``python3 -m pip install -q --no-index --no-deps --target
/tmp/site .cache/gpu-wheels/*.whl && PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax python3
benchmarks/bench_gpu.py --json gpu.json``.

Model: the paper's shape, TimeDistributed(VGG19(weights=None)) + GRU + MLP + softmax, windows of
``--frames`` frames. Measured, each the median of ``--repeats`` after a warm-up (compilation is
not what is measured):

- scoring: every frame through the CNN once, in batches chosen from the device's free memory
  (:meth:`AuditedModel.batch_frames`), then the head on every window (stride half a window);
- the default explanation set (``crnnaudit.DEFAULT_METHODS``) on one window: frames/s is the
  window's frames over its time;
- a batch-size sweep of the CNN pass, with the device's peak memory;
- bfloat16: the CNN pass in mixed precision, its speed, and how far its probabilities and
  Grad-CAM maps move from float32 (relative to the largest value), against the 1e-4 bar.

Run:   KERAS_BACKEND=jax python benchmarks/bench_gpu.py [--sizes 112 224] [--json out.json]
Smoke: KERAS_BACKEND=jax python benchmarks/bench_gpu.py --smoke   (tiny, on a CPU, for the tests)
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from common import commit, median_time, paper_model



def peak_bytes() -> int | None:
    """The device's peak memory so far, where the backend reports it."""
    from crnnaudit.model.backend import BACKEND
    if BACKEND == "jax":
        import jax
        return (jax.devices()[0].memory_stats() or {}).get("peak_bytes_in_use")
    if BACKEND == "torch":
        import torch
        return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else None
    return None


def audited(size: int, frames: int, units: int, dtype: str | None = None):
    import crnnaudit as ca
    import keras
    if dtype:
        keras.config.set_dtype_policy(dtype)
    try:
        model = paper_model(t=frames, size=size, units=units)
    finally:
        keras.config.set_dtype_policy("float32")
    return ca.AuditedModel(model, ca.ModelCard(classes=["fight", "shooting", "fire", "normal"]))


def scoring(model, frames: np.ndarray, repeats: int) -> tuple[float, int]:
    """Frames/s scoring a synthetic clip: CNN once per frame, head on every window."""
    T, batch = model.window_length, model.batch_frames()
    x = model.prepare(frames)

    def run():
        f = np.concatenate([model.frame_features(x[i:i + batch]) for i in range(0, len(x), batch)])
        starts = range(0, len(f) - T + 1, max(1, T // 2))
        model.head_logits(np.stack([f[s:s + T] for s in starts]))
    return len(frames) / median_time(run, repeats), batch


def sweep(model, frames: np.ndarray, sizes: list[int], repeats: int) -> list[dict]:
    x = model.prepare(frames)
    rows = []
    for b in sizes:
        chunk = np.resize(x, (b,) + x.shape[1:])
        t = median_time(lambda: model.frame_features(chunk), repeats)
        rows.append({"batch": b, "frames_per_s": b / t, "peak_bytes": peak_bytes()})
    return rows


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1e-30))


def bfloat16(model, size: int, frames_n: int, units: int, frames: np.ndarray, window: np.ndarray,
             repeats: int) -> dict:
    """The same weights in mixed bfloat16: speed of the CNN pass and distance of its outputs."""
    import crnnaudit as ca
    low = audited(size, frames_n, units, "mixed_bfloat16")
    low.model.set_weights(model.model.get_weights())
    low = ca.AuditedModel(low.model, model.card)
    fps, _ = scoring(low, frames, repeats)
    a = ca.explain(model, window, ["gradcam"], cache=False)
    b = ca.explain(low, window, ["gradcam"], cache=False)
    return {"scoring_frames_per_s": fps,
            "probabilities_relative_difference": relative(np.asarray(a.probabilities), np.asarray(b.probabilities)),
            "gradcam_relative_difference": relative(a["gradcam"].maps, b["gradcam"].maps)}


def measure(size: int, args) -> dict:
    import crnnaudit as ca
    model = audited(size, args.frames, args.units)
    rng = np.random.default_rng(size)
    frames = rng.integers(0, 256, (args.clip_frames, size, size, 3), dtype=np.uint8)
    window = frames[:args.frames]
    fps, batch = scoring(model, frames, args.repeats)
    t_explain = median_time(lambda: ca.explain(model, window, ca.DEFAULT_METHODS, cache=False), args.repeats)
    return {"size": size, "scoring_frames_per_s": fps, "scoring_batch": batch,
            "explain_default_frames_per_s": args.frames / t_explain, "explain_default_s_per_window": t_explain,
            "sweep": sweep(model, frames, args.batches, args.repeats), "peak_bytes": peak_bytes(),
            "bfloat16": bfloat16(model, size, args.frames, args.units, frames, window, args.repeats)}


def table(results: list[dict], device: str, backend: str) -> str:
    lines = [f"Device: {device}; backend {backend}; commit {commit()}", "",
             "| size | scoring frames/s (batch) | default explanation set frames/s | bf16 scoring frames/s | "
             "bf16 probabilities / Grad-CAM rel. difference |", "|---|---|---|---|---|"]
    for r in results:
        bf = r["bfloat16"]
        lines.append(f"| {r['size']} | {r['scoring_frames_per_s']:,.0f} ({r['scoring_batch']}) | "
                     f"{r['explain_default_frames_per_s']:,.0f} | {bf['scoring_frames_per_s']:,.0f} | "
                     f"{bf['probabilities_relative_difference']:.1e} / {bf['gradcam_relative_difference']:.1e} |")
    for r in results:
        lines.append(f"\nBatch sweep at {r['size']}: " + ", ".join(
            f"{s['batch']}: {s['frames_per_s']:,.0f}/s" + (f" ({s['peak_bytes'] / 2**30:.1f} GiB peak)"
                                                          if s['peak_bytes'] else "") for s in r["sweep"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[112, 224])
    ap.add_argument("--frames", type=int, default=20, help="frames per window")
    ap.add_argument("--clip-frames", type=int, default=2000, help="frames of the synthetic clip scored")
    ap.add_argument("--units", type=int, default=1024, help="GRU units (the paper's)")
    ap.add_argument("--batches", type=int, nargs="+", default=[16, 64, 256, 1024])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, to check the script runs (CPU)")
    args = ap.parse_args(argv)
    if args.smoke:
        args.sizes, args.frames, args.clip_frames, args.units, args.batches, args.repeats = [32], 4, 12, 8, [2, 4], 1
    from crnnaudit.model.backend import ADAPTER, BACKEND
    device = ADAPTER.accelerator()
    name = device.name if device else "CPU (no GPU found by the backend)"
    results = [measure(s, args) for s in args.sizes]
    print(table(results, name, BACKEND))
    out = {"device": name, "backend": BACKEND, "commit": commit(), "results": results,
           "tensorflow_loaded": "tensorflow" in sys.modules}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
