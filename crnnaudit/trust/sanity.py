"""Sanity checks for maps: cascading model-parameter randomisation (Adebayo et al. 2018)."""

from __future__ import annotations

import numpy as np

from ..errors import ExplanationError
from ..explainers import explain
from ..explainers.base import REGISTRY
from ..footage.video import Window
from ..model import AuditedModel
from ..model.backend import to_numpy
from .agreement import spearman
from .memo import content_key, memo


def _weighted_layers(model) -> list:
    import keras
    out = []
    for layer in model.layers:
        inner = getattr(layer, "layer", None)
        inner = inner if inner is not None else layer
        if isinstance(inner, keras.Model):
            out.extend(_weighted_layers(inner))
        elif layer.weights:
            out.append(layer)
    return out


def sanity_randomisation(model: AuditedModel, window: Window, methods=("gradcam", "saliency"),
                         checkpoints: int = 4, seed: int = 0, threshold: float = 0.5, progress=None) -> dict:
    """Cascading model-parameter randomisation (Adebayo et al. 2018, Sanity Checks for
    Saliency Maps).

    A copy of the model is randomised layer by layer from the output down; after each of
    ``checkpoints`` stages the maps are recomputed and compared (Spearman, mean over
    frames) with the trained model's. A method whose maps still correlate above
    ``threshold`` once every layer is random does not depend on what the model learned: it
    is flagged. The user's model is never touched. ``progress(done, total)`` after each stage.
    """
    methods = tuple(m for m in methods if REGISTRY[m].unavailable_on(model) is None)
    if not methods:
        raise ExplanationError("no spatial method to check on this model")
    return memo(("sanity", methods, checkpoints, seed, threshold, *content_key(model, window)),
                 lambda: _randomise(model, window, methods, checkpoints, seed, threshold, progress))


def _randomise(model: AuditedModel, window: Window, methods: tuple, checkpoints: int, seed: int,
               threshold: float, progress=None) -> dict:
    import keras
    clone = keras.models.clone_model(model.model)
    clone.set_weights(model.model.get_weights())
    copy = AuditedModel(clone, model.card, sha256=model.sha256 + ":randomised",
                        target_layer=model.target_layer)
    original = explain(model, window, methods, cache=False)
    target = original.target
    layers = list(reversed(_weighted_layers(clone)))
    cuts = sorted({max(1, round(len(layers) * (k + 1) / checkpoints)) for k in range(checkpoints)})
    rng = np.random.default_rng(seed)
    done = 0
    stages = []
    for cut in cuts:
        if progress:
            progress(len(stages), len(cuts), f"stage {len(stages) + 1} of {len(cuts)}: randomising {cut} layers")
        for layer in layers[done:cut]:
            for v in layer.weights:
                w = to_numpy(v)
                scale = float(w.std()) or 0.05
                v.assign(rng.normal(0, scale, w.shape).astype(w.dtype))
        done = cut
        rand = explain(copy, window, methods, target=target, cache=False)
        stage = {"randomised_layers": [x.name for x in layers[:cut]][-3:], "count": cut}
        for m in methods:
            a, b = original[m].maps, rand[m].maps
            stage[m] = float(np.mean([spearman(a[t], b[t]) for t in range(a.shape[0])]))
        stages.append(stage)
    final = stages[-1]
    flags = {m: bool(abs(final[m]) > threshold) for m in methods}
    return {"stages": stages, "final_similarity": {m: final[m] for m in methods},
            "flagged": flags, "threshold": threshold, "layers": len(layers)}
