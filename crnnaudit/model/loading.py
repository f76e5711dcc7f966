"""Loading a user's model file safely: the safety scan, then Keras in safe mode.

Nothing named by a model file is imported or run: Lambda layers and classes from outside
Keras are refused from the config before Keras sees the file. The config's size and nesting
are checked before it is parsed (limits in :mod:`crnnaudit.limits`), and a
file is first loaded in a child process with memory and time limits (``sandbox.py``).
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import numpy as np

from ..card import ModelCard, sidecar_path
from ..errors import ModelError, UnsafeModelError
from ..limits import MAX_CONFIG_DEPTH, MAX_ZIP_RATIO, ZIP_BOMB_FLOOR_BYTES, max_config_bytes
from ..footage.video import sha256_file
from ..vocabulary import MODEL_SUFFIXES
from .audited import AuditedModel
from .statistics import FeatureStats



def load_model(path: str | Path, card: ModelCard | str | Path | None = None,
               target_layer: str | None = None, *, isolate: bool = True) -> AuditedModel:
    """Load a ``.keras`` or legacy ``.h5`` clip model, safely, and decompose it.

    Args:
        path: the model file. Keras safe mode stays on; nothing in the file is executed.
        card: a :class:`ModelCard`, a path to one, or ``None`` for the sidecar beside the
            model (``m.card.json``/``.yaml``), else defaults.
        target_layer: the conv layer for Grad-CAM (default: the card's, else the last
            per-frame 2-D conv).
        isolate: first load the file in a child process with memory and time limits (once
            per content hash); only the child itself, and code that built the file, pass False.

    Returns:
        An :class:`AuditedModel`.

    Raises:
        ModelError: unreadable file. UnsafeModelError: needs unsafe deserialisation.
        UnsupportedModelError: not a per-frame CNN + temporal model. CardError: bad card.
    """
    path = Path(path)
    _check_file(path)
    sha256 = sha256_file(path)
    card_path = Path(card) if isinstance(card, (str, Path)) else (sidecar_path(path) if card is None else None)
    if card_path is not None:
        card = ModelCard.read(card_path)
    if card is not None and card.model_sha256 and card.model_sha256 != sha256:  # before anything parses it
        raise ModelError(f"{path}: the file's SHA-256 is {sha256}, but its card records {card.model_sha256}: the "
                         "model was changed after its card was written. Restore the file, or have an admin record "
                         "the new one (a card edit, or crnnaudit calibrate)")
    scanned = False
    if isolate:
        from .sandbox import vet
        if zipfile.is_zipfile(path):
            scan(path)  # pure Python, bounded: refuse what can be refused before the sandbox
            scanned = True
        vet(path, sha256)  # HDF5 is parsed by a C library: only ever first in the sandbox
    if not scanned:
        scan(path)
    model = _keras_load(path)
    stats = None
    if card is not None and card.calibration:
        folder = card_path.parent if card_path is not None else path.parent
        stats = FeatureStats.from_file(folder / Path(card.calibration["file"]).name, card.calibration.get("sha256"))
    from .registry import pin_of
    pin = pin_of(path)
    if pin is not None and pin.sha256 != sha256:
        raise ModelError(f"{pin.uri}: the pinned copy of version {pin.version} ({path}) no longer has the SHA-256 "
                         "it was downloaded with; open the URI again")
    return AuditedModel(model, card, source=path, sha256=sha256, target_layer=target_layer,
                        feature_stats=stats, registry=pin.to_dict() if pin else None)


def _check_file(path: Path) -> None:
    if "\x00" in str(path):
        raise ModelError(f"{str(path).replace(chr(0), '?')[:200]!r}: not a usable file name (it holds a NUL character)")
    try:
        exists, is_file = path.exists(), path.is_file()
    except (OSError, ValueError) as e:  # a name too long for the file system, or holding NUL
        raise ModelError(f"{str(path)[:200]!r}: not a usable file name ({e})") from e
    if not exists:
        raise ModelError(f"{path}: no such model file")
    if not is_file:
        raise ModelError(f"{path}: is not a file")
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
    """The model's JSON config, read without deserialising anything: its size and nesting
    are checked before it is parsed."""
    import h5py
    try:
        if zipfile.is_zipfile(path):
            raw = _zip_config(path)
        else:
            with h5py.File(path, "r") as f:
                if "model_config" not in f.attrs:
                    return None
                # Fixed-size attributes report their size before reading; a variable-length
                # one does not, but HDF5 stores attributes unfiltered, so reading it takes
                # at most the file's own size.
                _check_config_size(path, f.attrs.get_id("model_config").get_storage_size())
                raw = f.attrs["model_config"]
            raw = raw.encode() if isinstance(raw, str) else bytes(raw)
            _check_config_size(path, len(raw))
        _check_config_depth(path, raw)
        return json.loads(raw)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError, zipfile.BadZipFile,
            EOFError, NotImplementedError) as e:  # zlib and h5py raise these on damaged files
        raise ModelError(f"{path}: not a Keras model file ({type(e).__name__}: {str(e)[:200]}); "
                         "expected .keras or .h5 saved by model.save()") from e
    except RecursionError as e:
        raise ModelError(f"{path}: the model config nests too deeply to read") from e


def _zip_config(path: Path) -> bytes:
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        unpacked = sum(i.file_size for i in infos)
        if unpacked > max(ZIP_BOMB_FLOOR_BYTES, MAX_ZIP_RATIO * path.stat().st_size):
            raise ModelError(f"{path}: refused: its {path.stat().st_size >> 10} kB unpack to "
                             f"{unpacked >> 20} MB (over {MAX_ZIP_RATIO} times its size): a zip bomb")
        info = z.getinfo("config.json")
        _check_config_size(path, info.file_size)
        with z.open(info) as f:  # the header may lie: never read past the limit
            raw = f.read(max_config_bytes() + 1)
        _check_config_size(path, len(raw))
        return raw


def _check_config_size(path: Path, size: int) -> None:
    if size > max_config_bytes():
        raise ModelError(f"{path}: refused: its config takes {size / (1 << 20):.1f} MB, over the "
                         f"{max_config_bytes() >> 20} MB limit for a model config (CRNNAUDIT_MAX_CONFIG_MB)")


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _check_config_depth(path: Path, raw: bytes) -> None:
    """Refuse a config nested deeper than MAX_CONFIG_DEPTH, counted without parsing it."""
    skeleton = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    step = np.isin(skeleton, (ord("["), ord("{"))).astype(np.int32) - np.isin(skeleton, (ord("]"), ord("}")))
    depth = int(np.cumsum(step).max(initial=0))
    if depth > MAX_CONFIG_DEPTH:
        raise ModelError(f"{path}: refused: its config nests {depth} levels deep, over the limit "
                         f"of {MAX_CONFIG_DEPTH}")


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
