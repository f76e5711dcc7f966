"""The demo as shipped: the trained layers' weights, made by the project's own recipe.

VGG19 up to ``block5_conv3`` keeps its random initial weights, which the recipe's seed
recreates; only ``block5_conv4``, the GRU, the MLP and the output layer were trained. Those
weights (about 10 MB), the card (with its held-out figures) and the feature statistics ship
in ``crnnaudit/demo/shipped/``. :func:`install_shipped` rebuilds the full model from the
seed and the trained weights in seconds and checks it against the weights hash the card
records; a machine whose random initialisation differs (another Keras) fails the check, and
the caller rebuilds from the recipe instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import numpy as np

from ..card import ModelCard
from ..errors import CrnnauditError
from ..model.backend import to_numpy
from ..model.sandbox import trust_own_file
from .paths import demo_card_path, demo_model_path

SHIPPED = Path(__file__).resolve().parent / "shipped"
TRAINED_LAYERS = ("block5_conv4", "feature_norm", "gru", "mlp", "classes")  # feature_norm: adapted to the data


class ShippedDemoMismatch(CrnnauditError):
    """The shipped weights do not recreate the model they were made from on this machine."""


def shipped_card() -> ModelCard | None:
    path = SHIPPED / "card.json"
    return ModelCard.read(path) if path.exists() and (SHIPPED / "trained.npz").exists() else None


def _trained_layers(full) -> dict:
    vgg = full.get_layer("td_vgg19").layer
    return {name: (vgg.get_layer(name) if name.startswith("block") else full.get_layer(name))
            for name in TRAINED_LAYERS}


def install_shipped(progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Assemble the shipped demo under ``CRNNAUDIT_HOME/demo`` (model, card, statistics).

    Raises:
        ShippedDemoMismatch: the assembled weights do not hash to the card's record.
        CrnnauditError: nothing is shipped.
    """
    from ..model import weights_hash
    from .architecture import build_model
    card = shipped_card()
    if card is None:
        raise CrnnauditError(f"{SHIPPED}: no shipped demo weights")
    recipe = card.extra["recipe"]
    if progress:
        progress("assembling the shipped demo model", 0, 2)
    full = build_model(int(recipe["seed"]), int(recipe["gru_units"]))
    with np.load(SHIPPED / "trained.npz", allow_pickle=False) as z:
        for name, layer in _trained_layers(full).items():
            layer.set_weights([z[f"{name}/{i}"] for i in range(len(layer.weights))])
    digest = weights_hash(full)
    if digest != card.extra["weights_sha256"]:
        raise ShippedDemoMismatch(
            f"the shipped demo weights assemble to SHA-256 {digest[:16]}…, not the recorded "
            f"{card.extra['weights_sha256'][:16]}… (another Keras or TensorFlow initialises "
            "VGG19 differently); rebuilding from the recipe")
    path = demo_model_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if card.calibration:
        shutil.copyfile(SHIPPED / "features.npz", path.parent / card.calibration["file"])
    tmp = path.with_name(path.stem + ".partial.keras")
    full.save(tmp)
    card.model_sha256 = trust_own_file(tmp)  # every later load checks the file against it
    card.write(demo_card_path())
    tmp.replace(path)  # the model appears only once complete
    if progress:
        progress("assembling the shipped demo model", 2, 2)
    return path


def ship(path: Path | None = None) -> Path:
    """Copy a built demo's trained weights, card and statistics into the package (for the
    maintainers, after ``crnnaudit demo --rebuild --evaluate``)."""
    import keras
    path = path or demo_model_path()
    full = keras.models.load_model(path, compile=False, safe_mode=True)
    arrays = {f"{name}/{i}": to_numpy(w) for name, layer in _trained_layers(full).items()
              for i, w in enumerate(layer.weights)}
    SHIPPED.mkdir(exist_ok=True)
    np.savez(SHIPPED / "trained.npz", **arrays)
    card = ModelCard.read(demo_card_path())
    card.write(SHIPPED / "card.json")
    if card.calibration:
        shutil.copyfile(path.parent / card.calibration["file"], SHIPPED / "features.npz")
    return SHIPPED
