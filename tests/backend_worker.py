"""Run on one Keras backend (``KERAS_BACKEND`` set by the caller, before Keras loads) what a
user runs: load every model file of a folder through :func:`crnnaudit.load_model` (safety
scan, safe mode, the sandboxed first load, the decomposition and its check), explain a
window with every method the model supports, and write what came out.

    python tests/backend_worker.py IN_DIR OUT_DIR [METHOD ...]

``IN_DIR`` holds ``<name>.keras`` files, each with its window ``<name>.npy`` (uint8 frames),
``hostile/`` files that must be refused, and ``swap/a.keras``, ``swap/b.keras``: two models of
one shape whose heads, swapped, the decomposition check must catch. ``OUT_DIR`` receives ``maps.npz`` (per
``<name>/<method>/maps`` and ``.../frame_scores``, ``<name>/probabilities``) and
``result.json`` (backend, verify figures, the refusals with their exception and message, the
block pass against each window's own pass).
``tests/test_backends.py`` compares them with TensorFlow's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def explain_all(models: Path, methods: list[str]) -> tuple[dict, dict]:
    from crnnaudit import explain, load_model
    from crnnaudit.explainers.base import REGISTRY
    arrays, verified = {}, {}
    for path in sorted(models.glob("*.keras")):
        model = load_model(path)  # sandboxed, safe mode, decomposed
        frames = np.load(path.with_suffix(".npy"))
        verified[path.stem] = model.verify()
        wanted = methods or [m for m in REGISTRY if REGISTRY[m].unavailable_on(model) is None]
        wanted = [m for m in wanted if REGISTRY[m].unavailable_on(model) is None]
        es = explain(model, frames, wanted, cache=False)
        for m in wanted:
            if es[m].maps is not None:
                arrays[f"{path.stem}/{m}/maps"] = es[m].maps
            arrays[f"{path.stem}/{m}/frame_scores"] = es[m].frame_scores
        x = model.prepare(frames)
        arrays[f"{path.stem}/probabilities"] = model.probabilities(model.head_logits(model.frame_features(x)[None]))
    return arrays, verified


def blocks_against_windows(models: Path) -> dict[str, float]:
    """Per model with conv maps: the block pass on one and a half windows of frames (two
    windows, half overlapping: three segments forward once, four pullbacks) against each
    window's own shared pass, on this backend; the largest relative difference of the pixel
    gradients and conv-map gradients."""
    from crnnaudit import load_model
    from crnnaudit.explainers import blocks
    from crnnaudit.explainers.passes import CompiledPasses
    out = {}
    for path in sorted(models.glob("*.keras")):
        model = load_model(path)
        if model.conv is None:
            continue
        frames = np.load(path.with_suffix(".npy"))
        T, half = len(frames), max(1, len(frames) // 2)
        x = model.prepare(np.concatenate([frames, frames[::-1][:half]]))
        worst = 0.0
        for s, got in zip([0, half], blocks.run_block(model, x, [0, half], -1)):
            ref = CompiledPasses.of(model).run_shared(x[s:s + T], -1, input_grad=True)
            assert got.target == ref.target
            for a, b in ((got.grad_input, ref.grad_input), (got.grad_maps, ref.grad_maps)):
                worst = max(worst, float(np.abs(a - b).max() / max(float(np.abs(b).max()), 1e-30)))
        out[path.stem] = worst
    return out


def broken_decomposition_caught(pair: Path) -> float:
    """The decomposition check on this backend: a head swapped for another model's must fail."""
    from crnnaudit import load_model
    from crnnaudit.model.backend import ADAPTER
    model, other = load_model(pair / "a.keras"), load_model(pair / "b.keras")
    model.head = other.head
    model._head_fn = ADAPTER.compile(model.logits_op, [model.head])
    return model.verify(seed=1)


def refusals(folder: Path) -> dict:
    from crnnaudit import load_model
    from crnnaudit.errors import CrnnauditError
    out = {}
    for path in sorted(folder.glob("*")):
        try:
            load_model(path)
            out[path.name] = {"error": None}
        except CrnnauditError as exc:
            out[path.name] = {"error": type(exc).__name__, "message": str(exc)}
    return out


def importable(name: str) -> bool:
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def main(argv: list[str]) -> None:
    src, dst, methods = Path(argv[0]), Path(argv[1]), argv[2:]
    import keras
    from crnnaudit.model.backend import ADAPTER
    arrays, verified = explain_all(src, methods)
    dst.mkdir(parents=True, exist_ok=True)
    np.savez(dst / "maps.npz", **arrays)
    result = {"backend": keras.backend.backend(), "adapter": ADAPTER.name, "verify": verified,
              "refused": refusals(src / "hostile") if (src / "hostile").is_dir() else {},
              "tensorflow_importable": importable("tensorflow"), "blocks": blocks_against_windows(src)}
    if (src / "swap").is_dir():
        result["swapped_head_verify"] = broken_decomposition_caught(src / "swap")
    (dst / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main(sys.argv[1:])
