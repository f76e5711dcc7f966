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
    """A card edit is a chained audit-log row: who, which model, the card's version and hash."""
    from ..evidence.log import AuditLog
    from ..card import card_sha256
    return AuditLog().append({"action": "card edited", "by": who.username, "model_sha256": model.sha256,
                              "card_file": target.name, "card_version": card.version,
                              "card_sha256": card_sha256(card)}, kind="card")


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
