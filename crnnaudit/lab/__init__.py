"""The demo's laboratory: how the demo model was made and measured, apart from what a user runs.

    recipe.py      build_demo(): the recipe (render clips, cache VGG19 maps, train, calibrate,
                   card); ready_demo(): the shipped demo, else rebuilt from the recipe
    training.py    the trainable tail on cached maps and its two-phase loop (TensorFlow)
    evaluation.py  the demo's figures measured through the app's path (``--evaluate``)
    pretrain.py    a VGG19 trunk pretrained on synthetic frames: tried, not adopted (docs)

Only ``crnnaudit demo --rebuild / --evaluate``, the app when the shipped weights do not check
out, the tests and the benchmarks import it; a user's first start never does.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_EXPORTS = {"build_demo": ".recipe", "ready_demo": ".recipe", "evaluate_and_record": ".recipe",
            "evaluate_demo": ".evaluation", "classification_figures": ".evaluation", "read_clip": ".evaluation"}
__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, namespace=globals())
