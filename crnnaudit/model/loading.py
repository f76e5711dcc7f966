"""Loading a user's model file safely: the safety scan, then Keras in safe mode.

Nothing named by a model file is imported or run: Lambda layers and classes from outside
Keras are refused from the config before Keras sees the file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from ..card import ModelCard, sidecar_path
from ..errors import ModelError, UnsafeModelError
from ..video import sha256_file
from ..vocabulary import MODEL_SUFFIXES
from .audited import AuditedModel
from .calibration import FeatureStats


def load_model(path: str | Path, card: ModelCard | str | Path | None = None,
               target_layer: str | None = None) -> AuditedModel:
    """Load a ``.keras`` or legacy ``.h5`` clip model, safely, and decompose it.

    Args:
        path: the model file. Keras safe mode stays on; nothing in the file is executed.
        card: a :class:`ModelCard`, a path to one, or ``None`` for the sidecar beside the
            model (``m.card.json``/``.yaml``), else defaults.
        target_layer: the conv layer for Grad-CAM (default: the card's, else the last
            per-frame 2-D conv).

    Returns:
        An :class:`AuditedModel`.

    Raises:
        ModelError: unreadable file. UnsafeModelError: needs unsafe deserialisation.
        UnsupportedModelError: not a per-frame CNN + temporal model. CardError: bad card.
    """
    path = Path(path)
    _check_file(path)
    scan(path)
    model = _keras_load(path)
    card_path = Path(card) if isinstance(card, (str, Path)) else (sidecar_path(path) if card is None else None)
    if card_path is not None:
        card = ModelCard.read(card_path)
    stats = None
    if card is not None and card.calibration:
        folder = card_path.parent if card_path is not None else path.parent
        stats = FeatureStats.from_file(folder / Path(card.calibration["file"]).name, card.calibration.get("sha256"))
    return AuditedModel(model, card, source=path, sha256=sha256_file(path), target_layer=target_layer,
                        feature_stats=stats)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ModelError(f"{path}: no such model file")
    if path.suffix.lower() not in MODEL_SUFFIXES:
        raise ModelError(f"{path}: unsupported model file type '{path.suffix}'; expected "
                         f"one of {MODEL_SUFFIXES}")
    if path.stat().st_size == 0:
        raise ModelError(f"{path}: the model file is empty (0 bytes)")


def scan(path: Path) -> None:
    """Refuse a model whose config names Lambda layers or classes from outside Keras.

    Raises:
        ModelError: not a Keras model file. UnsafeModelError: what would have to run.
    """
    config = _config_of(path)
    unsafe, custom = _unsafe_layers(config) if config else ([], [])
    if custom:
        raise UnsafeModelError(
            f"{path}: needs classes from outside Keras ({sorted(set(custom))}); crnnaudit never "
            "imports or runs code named by a model file. Rebuild the model from built-in layers")
    if unsafe:
        raise UnsafeModelError(
            f"{path}: layers {unsafe} are Lambda layers, whose Python code would have to run to "
            "load them; crnnaudit keeps Keras safe mode on and never runs code from a model "
            "file. Replace them with built-in layers and save again")


def _keras_load(path: Path):
    import keras
    try:
        return keras.models.load_model(path, compile=False, safe_mode=True)
    except Exception as e:  # Keras raises many types for bad files
        msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        if "safe_mode" in str(e) or "unsafe" in str(e).lower():
            raise UnsafeModelError(f"{path}: needs unsafe deserialisation ({msg}); refused") from e
        raise ModelError(f"{path}: cannot load the model ({msg})") from e


def _config_of(path: Path) -> dict | None:
    """The model's JSON config, read without deserialising anything."""
    import h5py
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
            if raw is None:
                return None
            return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise ModelError(f"{path}: not a Keras model file ({e}); expected .keras or .h5 "
                         "saved by model.save()") from e


def _unsafe_layers(config) -> tuple[list[str], list[str]]:
    """Lambda layers, and classes from outside Keras, named in a model config."""
    found, custom = [], []

    def walk(node):
        if isinstance(node, dict):
            if node.get("class_name") in ("Lambda", "TFOpLambda"):
                found.append(node.get("config", {}).get("name", "?"))
            module = node.get("module")
            if "class_name" in node and isinstance(module, str) and not module.startswith("keras"):
                custom.append(f"{module}.{node['class_name']}")
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(config)
    return found, custom
