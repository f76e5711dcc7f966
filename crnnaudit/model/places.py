"""Where models may come from, for everything whose output is signed or logged: the models
folders (``CRNNAUDIT_MODELS_DIR``, default the demo model's folder), the models an admin
uploaded in the app, and the versions of the registered models ``CRNNAUDIT_REGISTRY_MODELS``
allows, pinned by :mod:`.registry`. A path is resolved first (links, ``..``), so neither a symlink nor a
relative path leads elsewhere. Read-only commands (``info``, ``score``, ``explain``,
``batch``, ``calibrate`` aside) take any path: they sign and log nothing, and whoever runs them
already reads the file system.
"""

from __future__ import annotations

from pathlib import Path

from ..config import folders, home
from ..errors import ModelError


def default_models_dir() -> Path:
    """The demo model's folder, where models load from when nothing is configured."""
    return home() / "demo"


def model_folders() -> list[Path]:
    """``CRNNAUDIT_MODELS_DIR`` (``:``-separated), else :func:`default_models_dir`."""
    return folders("CRNNAUDIT_MODELS_DIR") or [default_models_dir()]


def uploads_dir() -> Path:
    return home() / "uploads"


def locate(model: str | Path) -> Path:
    """The file of ``model``: a path as it is, or a registry URI (``models:/NAME@ALIAS``,
    ``models:/NAME/VERSION``) resolved and pinned now (:func:`crnnaudit.model.registry.resolve`).

    Raises:
        RegistryError: the URI does not resolve (the message names it).
    """
    from .registry import is_registry_uri, resolve
    return resolve(model).path if is_registry_uri(str(model)) else Path(model)


def allowed_model(path: str | Path) -> Path:
    """The model file ``path``, resolved, when it lies in a models folder, among an admin's
    uploads, or among the registry's pinned versions; a registry URI is resolved and pinned
    (only the names ``CRNNAUDIT_REGISTRY_MODELS`` allows).

    Raises:
        ModelError: it lies anywhere else (the message names the folders, not the file system).
        RegistryError: the URI does not resolve.
    """
    from .registry import check_allowed, pin_of, pins_dir
    path = locate(path)
    try:
        resolved = Path(path).expanduser().resolve(strict=True)
    except (OSError, RuntimeError) as e:
        raise ModelError(f"{path}: no such model file ({getattr(e, 'strerror', None) or e})") from e
    if resolved.is_relative_to(pins_dir().resolve()):  # a pinned version: of a name still allowed
        pin = pin_of(resolved)
        if pin is not None:
            check_allowed(pin.name, pin.uri)
            return resolved
    places = [*model_folders(), uploads_dir()]
    if any(resolved.is_relative_to(p.expanduser().resolve()) for p in places):
        return resolved
    raise ModelError(f"{path}: models that sign or log anything load only from the models folders "
                     f"({', '.join(str(p) for p in model_folders())}; CRNNAUDIT_MODELS_DIR) or an admin's upload "
                     "in the app; copy the model into one of those folders")
