"""The demo model, ready for a user: the shipped weights assembled into the model (seconds).

Nothing here trains: when the shipped weights do not check out on this machine,
:func:`ensure_demo` raises :class:`~.shipped.ShippedDemoMismatch` and the caller (the app's
first start, ``crnnaudit demo``) rebuilds from the recipe in :mod:`crnnaudit.lab`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..errors import CrnnauditError
from ..model.backend import BACKEND
from .paths import RECIPE_VERSION, demo_is_current, demo_model_path
from .shipped import ShippedDemoMismatch, install_shipped, shipped_card


def ensure_demo(progress: Callable[[str, int, int], None] | None = None) -> Path:
    """The demo model, ready: as built, else the shipped weights assembled (seconds).

    Raises:
        ShippedDemoMismatch: the shipped weights are missing, of another recipe, or do not
            assemble to the recorded hash on this machine; the lab rebuilds it from the recipe
            (:func:`crnnaudit.lab.ready_demo`, ``crnnaudit demo --rebuild``).
        CrnnauditError: the same on a backend other than TensorFlow, where the lab cannot help
            (the demo is assembled on TensorFlow; the file it writes loads on every backend).
    """
    if demo_is_current():
        return demo_model_path()
    card = shipped_card()
    if card is None or card.extra.get("recipe", {}).get("version") != RECIPE_VERSION:
        raise ShippedDemoMismatch(f"no shipped demo weights of recipe {RECIPE_VERSION} in this installation")
    try:
        return install_shipped(progress)
    except ShippedDemoMismatch as e:
        if BACKEND != "tensorflow":  # the frozen VGG19 comes from TensorFlow's seeded initialiser
            raise CrnnauditError(f"{e}. The demo is made on TensorFlow (its frozen VGG19 is drawn by "
                                 f"TensorFlow's seeded initialiser) and this process runs Keras on "
                                 f"{BACKEND}: run `KERAS_BACKEND=tensorflow crnnaudit demo` once; the "
                                 f"file it writes loads on every backend") from e
        raise
