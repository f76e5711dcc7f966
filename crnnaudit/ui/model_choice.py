"""Which models the app may open: the configured one (else the demo, built on first use), the
models folders, an admin's card edits as logged rows."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..config import setting
from ..errors import ModelError
from ..model import AuditedModel, places


def configured_model() -> str:
    """The model the app opens on: ``CRNNAUDIT_MODEL``, else the demo model (built on first use)."""
    return setting("CRNNAUDIT_MODEL") or ensure_demo_model()


def model_folders() -> list[Path]:
    """Where the Model page finds models (see :mod:`crnnaudit.model.places`)."""
    return places.model_folders()


def model_choices(with_uploads: bool = False) -> list[Path]:
    """Model files in the models folders, and (``with_uploads``) those an admin uploaded: the
    only models any page or evidence-writing command opens."""
    from ..vocabulary import MODEL_SUFFIXES
    out = []
    for folder in model_folders() + ([places.uploads_dir()] if with_uploads else []):
        if folder.is_dir():
            out += sorted(p for p in folder.iterdir() if p.suffix.lower() in MODEL_SUFFIXES
                          and ".partial" not in p.name and _stays_inside(p))
    return out


def _stays_inside(path: Path) -> bool:
    """Whether ``path`` is a regular file that resolves inside a models folder or the uploads
    (a link that leads out of them is not listed: nothing could open it)."""
    try:
        return places.allowed_model(path).is_file()
    except ModelError:
        return False


def log_card_edit(model: AuditedModel, card, target: Path, who) -> dict:
    """A card edit is a chained audit-log row: who, which model, the card's version and hash. A
    registry version's card is stored back as an artifact of that version first, and the row
    says where.

    Raises:
        RegistryError: the registry did not take the card (the card file is saved here; no row).
    """
    from ..evidence.log import AuditLog
    from ..card import card_sha256
    row = {"action": "card edited", "by": who.username, "model_sha256": model.sha256,
           "card_file": target.name, "card_version": card.version, "card_sha256": card_sha256(card)}
    if model.registry:
        from .. import store_registry_card
        row.update(registry_uri=model.registry["uri"], registry_version=model.registry["version"],
                   stored_in_registry=store_registry_card(model.registry, target))
    return AuditLog().append(row, kind="card")


def registry_picker(label: str, key: str) -> str | None:
    """A registered model the settings allow (``CRNNAUDIT_REGISTRY_MODELS``), by alias or version:
    never a typed URI. Nothing when no registry is set; a registry that does not answer is said."""
    from .. import registry_choices, registry_uris
    from ..errors import RegistryError
    if not setting("MLFLOW_TRACKING_URI"):
        return None
    try:  # read on each run (where each alias points now), with a short wait for a slow server
        models = registry_choices(timeout=5.0)
    except RegistryError as e:
        st.warning(str(e))
        return None
    if not models:
        st.caption("No registered model may be audited here: an admin lists them in CRNNAUDIT_REGISTRY_MODELS.")
        return None
    versions = {f"models:/{m['name']}@{a}": v for m in models for a, v in m["aliases"].items()}
    return st.selectbox(label, registry_uris(models), index=None, key=key, placeholder="choose a registered model",
                        format_func=lambda u: f"{u} (version {versions[u]} now)" if u in versions else u)


def pin(uri: str, fresh: bool = False) -> str:
    """The pinned file of ``uri`` for this browser session: resolved once (again with ``fresh``,
    when an admin loads it anew), so an alias that moves changes nothing already on screen."""
    from .. import resolve_registry_uri
    pins = st.session_state.setdefault("registry_pins", {})
    if fresh or uri not in pins:
        pins[uri] = str(resolve_registry_uri(uri).path)
    return pins[uri]


@st.cache_resource(show_spinner=False)
def _demo_once(_progress) -> str:
    """Once per server process: a second session waits for the first."""
    from ..demo.assembly import ensure_demo
    from ..demo.shipped import ShippedDemoMismatch
    try:
        return str(ensure_demo(progress=_progress))
    except ShippedDemoMismatch:  # only then the lab: a first start never imports it
        from ..lab import ready_demo
        return str(ready_demo(progress=_progress))


def ensure_demo_model() -> str:
    """The demo model's path: the shipped weights assembled on first start (seconds), or, if
    they do not check out on this machine, rebuilt from the recipe with a progress bar."""
    from ..demo.paths import demo_is_current, demo_model_path
    if demo_is_current():
        return str(demo_model_path())
    st.info("No model is configured, so crnnaudit prepares its demo model once: a VGG19 + GRU "
            "trained on synthetic clips by the project's own recipe. Set CRNNAUDIT_MODEL or load "
            "your own model on the Model page to skip this.")
    bar = st.progress(0.0, text="preparing the demo model…")

    def progress(what, done, total):
        bar.progress(min(1.0, done / max(total, 1)), text=f"{what}: {done}/{total}")
    path = _demo_once(progress)
    bar.empty()
    return path
