"""Models named in an MLflow model registry: ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``.

A URI is resolved once, at the start of a review, report or run (:func:`resolve`): the alias to
a version, the version's Keras file downloaded and hashed, and the result kept as a **pin**, a
folder under ``CRNNAUDIT_HOME/registry`` holding the file, its card and a ``pin.json`` (URI,
name, version, alias, SHA-256, when). Everything after opens the pinned file, so an alias that
moves later changes nothing already under way; :func:`check` says, when a report is signed or
decided, where the alias points then and whether the version's files still hash the same.

The same safety as files: a pinned file is an ordinary model file to :func:`load_model` (the
sandboxed load, the hash check, the card rules). Which registered models may be audited is
``CRNNAUDIT_REGISTRY_MODELS`` (names, or ``*``). The client is :mod:`.mlflow_rest`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from ..config import home, setting
from ..errors import RegistryError
from ..footage.video import sha256_file
from ..limits import MAX_CARD_BYTES, MAX_REGISTRY_MODEL_BYTES
from ..vocabulary import MODEL_SUFFIXES
from .mlflow_rest import MlflowRest, NotFound

SCHEME = "models:/"
_URI = re.compile(r"^models:/(?P<name>[^/@\x00]{1,256})(?:@(?P<alias>[A-Za-z0-9_\-]{1,256})|/(?P<version>[1-9]\d{0,9}))$")
_CARD_SUFFIXES = (".card.json", ".card.yaml", ".card.yml")
PIN_FILE = "pin.json"


def is_registry_uri(text) -> bool:
    return isinstance(text, str) and text.startswith(SCHEME)


def parse(uri: str) -> tuple[str, str | None, str | None]:
    """(name, alias, version) of a registry URI; exactly one of alias and version is set.

    Raises:
        RegistryError: not ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION``.
    """
    m = _URI.match(uri or "")
    if not m:
        raise RegistryError(f"{uri!r}: not a registry URI; write models:/NAME@ALIAS (an alias such as champion) "
                            "or models:/NAME/VERSION (a version number)")
    return m["name"], m["alias"], m["version"]


def allowed_names() -> list[str]:
    """``CRNNAUDIT_REGISTRY_MODELS`` as a list (``["*"]``: every registered model)."""
    return [n.strip() for n in (setting("CRNNAUDIT_REGISTRY_MODELS") or "").split(",") if n.strip()]


def check_allowed(name: str, uri: str) -> None:
    names = allowed_names()
    if "*" not in names and name not in names:
        raise RegistryError(f"{uri}: the registered model {name!r} is not among those that may be audited "
                            f"({', '.join(names) if names else 'none'}; CRNNAUDIT_REGISTRY_MODELS)")


def pins_dir() -> Path:
    """Where pinned versions are kept (a models place: :func:`crnnaudit.model.places.allowed_model`)."""
    return home() / "registry"


@dataclass(frozen=True)
class Pin:
    """A registry URI resolved to one version and the SHA-256 of its Keras file."""
    uri: str
    name: str
    version: str
    alias: str | None
    sha256: str
    file: str  # the pinned copy
    artifact_uri: str
    model_path: str  # the Keras file's path within the version's files
    tracking_uri: str
    pinned_at: str

    @property
    def path(self) -> Path:
        return Path(self.file)

    def to_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.uri} (version {self.version}, SHA-256 {self.sha256[:12]}…)"


def resolve(uri: str, client: MlflowRest | None = None) -> Pin:
    """Resolve ``uri`` once: the alias to its version now, the version's Keras file (exactly one)
    downloaded with its card and calibration beside it, hashed, and pinned.

    Raises:
        RegistryError: the URI is malformed or not allowed, the name, alias or version is
            unknown, the server does not answer, the version holds no Keras file (or several),
            or the version's file no longer hashes as an earlier pin of it recorded.
    """
    name, alias, version = parse(uri)
    check_allowed(name, uri)
    client = client or MlflowRest()
    version = version or client.alias_version(name, alias, uri)
    record = client.model_version(name, version, uri)
    if record.get("status", "READY") != "READY":
        raise RegistryError(f"{uri}: version {version} is {record.get('status')}, not ready to be read")
    artifact_uri = client.download_uri(name, version, uri)
    files = client.files(artifact_uri, uri)
    model_rel = _the_model_file(files, uri, version)
    folder = _version_dir(name, version) / (f"alias-{alias}" if alias else "version")
    folder.mkdir(parents=True, exist_ok=True)
    sha, tmp = _fetch(client, artifact_uri, model_rel, folder, MAX_REGISTRY_MODEL_BYTES, uri)
    first = _first_hash(folder.parent, sha)
    if first["sha256"] != sha:
        tmp.unlink(missing_ok=True)
        raise RegistryError(f"{uri}: version {version}'s file now has SHA-256 {sha[:16]}…, but it was pinned on "
                            f"{first['pinned_at'][:10]} as {first['sha256'][:16]}…: a registered version's files "
                            "must not change; ask the model's owner, and register the new file as a new version")
    target = folder / Path(model_rel).name
    _keep_or_replace(tmp, target, sha)
    _fetch_beside(client, artifact_uri, model_rel, files, folder, uri)
    pin = Pin(uri, name, version, alias, sha, str(target), artifact_uri, model_rel, client.uri,
              datetime.now(timezone.utc).isoformat(timespec="seconds"))
    fd, tmp_pin = tempfile.mkstemp(dir=folder, suffix=".partial.json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(pin.to_dict(), indent=2))
    os.replace(tmp_pin, folder / PIN_FILE)  # whole: a review loading the file meanwhile reads one pin or the other
    return pin


def pin_of(path: str | Path | None) -> Pin | None:
    """The pin a model file was downloaded under, or ``None`` for a file that is not one."""
    if path is None:
        return None
    p = Path(path)
    try:
        if not p.resolve().is_relative_to(pins_dir().resolve()):
            return None
        data = json.loads((p.parent / PIN_FILE).read_text(encoding="utf-8"))
        pin = Pin(**data)
    except (OSError, ValueError, TypeError):
        return None
    return pin if Path(pin.file).name == p.name else None


def check(pin: Pin | dict, client: MlflowRest | None = None) -> dict:
    """Where the pin's alias points now and whether the version's Keras file still hashes as
    pinned: ``{"checked_at", "alias_version", "moved"}``.

    Raises:
        RegistryError: the server does not answer, the version is gone, or its file changed.
    """
    pin = Pin(**pin) if isinstance(pin, dict) else pin
    client = client or MlflowRest(pin.tracking_uri)
    h = hashlib.sha256()
    client.download(pin.artifact_uri, pin.model_path, h.update, MAX_REGISTRY_MODEL_BYTES, pin.uri)
    if h.hexdigest() != pin.sha256:
        raise RegistryError(f"{pin.uri}: version {pin.version}'s file changed since it was pinned (SHA-256 now "
                            f"{h.hexdigest()[:16]}…, reviewed {pin.sha256[:16]}…); nothing is signed against it")
    now = None
    if pin.alias:
        try:
            now = client.alias_version(pin.name, pin.alias, pin.uri)
        except NotFound:
            now = None  # the alias was deleted: it no longer points at the reviewed version
    return {"checked_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "alias_version": now,
            "moved": bool(pin.alias) and now != pin.version}


def choices(client: MlflowRest | None = None, timeout: float | None = None) -> list[dict]:
    """The allowed registered models, each ``{"name", "aliases": {alias: version}, "versions": [...]}``:
    what the pickers offer (nothing typed); ``timeout``: seconds to wait for each answer."""
    names = allowed_names()
    if not names:
        return []
    client = client or (MlflowRest(timeout=timeout) if timeout else MlflowRest())
    out = []
    for m in client.registered_models():
        name = str(m.get("name", ""))
        if "*" not in names and name not in names:
            continue
        aliases = {str(a["alias"]): str(a["version"]) for a in m.get("aliases") or [] if "alias" in a}
        versions = [str(v["version"]) for v in client.versions(name, f"{SCHEME}{name}")]
        out.append({"name": name, "aliases": aliases, "versions": versions})
    return sorted(out, key=lambda m: m["name"])


def choice_uris(models: list[dict]) -> list[str]:
    """The URIs a picker lists: each alias, then each version."""
    return [u for m in models for u in [f"{SCHEME}{m['name']}@{a}" for a in sorted(m["aliases"])]
            + [f"{SCHEME}{m['name']}/{v}" for v in m["versions"]]]


def write_tags_allowed() -> bool:
    return (setting("CRNNAUDIT_REGISTRY_TAGS") or "").strip() == "1"


def write_tags(pin: Pin | dict, tags: dict[str, str], client: MlflowRest | None = None) -> bool:
    """Set ``tags`` (``crnnaudit.*`` only) on the pinned version, when an admin allowed it
    (``CRNNAUDIT_REGISTRY_TAGS=1``). Tags only: never a stage or an alias.

    Returns: whether they were written.
    """
    if not write_tags_allowed():
        return False
    pin = Pin(**pin) if isinstance(pin, dict) else pin
    client = client or MlflowRest(pin.tracking_uri)
    for key, value in tags.items():
        if not key.startswith("crnnaudit."):
            raise RegistryError(f"{pin.uri}: crnnaudit sets only crnnaudit.* tags, not {key!r}")
        client.set_tag(pin.name, pin.version, key, str(value)[:5000], pin.uri)
    return True


def store_card(pin: Pin | dict, card_file: Path, client: MlflowRest | None = None) -> str:
    """Store an admin's card for a pinned version back in the registry, beside its Keras file.

    Returns: the card's path within the version's files.
    """
    pin = Pin(**pin) if isinstance(pin, dict) else pin
    client = client or MlflowRest(pin.tracking_uri)
    rel = str(Path(pin.model_path).parent / card_file.name).removeprefix("./")
    client.upload(pin.artifact_uri, rel, card_file.read_bytes(), pin.uri)
    return rel


# --- internals -------------------------------------------------------------------------------
def _the_model_file(files: list[tuple[str, int]], uri: str, version: str) -> str:
    models = [p for p, _ in files if Path(p).suffix.lower() in MODEL_SUFFIXES and ".partial" not in p]
    if not models:
        raise RegistryError(f"{uri}: version {version} holds no Keras model file ({', '.join(MODEL_SUFFIXES)}); its "
                            f"files: {', '.join(p for p, _ in files[:8]) or 'none'}")
    if len(models) > 1:
        raise RegistryError(f"{uri}: version {version} holds several model files ({', '.join(models[:5])}); "
                            "register one model per version")
    return models[0]


def _version_dir(name: str, version: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.\-]", "_", name)[:60] or "model"
    return pins_dir() / f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:12]}" / f"v{version}"


def _first_hash(folder: Path, sha: str) -> dict:
    """The SHA-256 the version's file had when it was first pinned here (``sha`` if never)."""
    record = folder / "first-pin.json"
    try:
        return json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        first = {"sha256": sha, "pinned_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        record.write_text(json.dumps(first), encoding="utf-8")
        return first


def _fetch(client: MlflowRest, artifact_uri: str, rel: str, folder: Path, limit: int, uri: str) -> tuple[str, Path]:
    """Download ``rel`` into a temporary file in ``folder``: (its SHA-256, the file)."""
    h = hashlib.sha256()
    fd, name = tempfile.mkstemp(dir=folder, suffix=".partial" + Path(rel).suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            def sink(block: bytes) -> None:
                h.update(block)
                f.write(block)
            client.download(artifact_uri, rel, sink, limit, uri)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return h.hexdigest(), Path(name)


def _fetch_beside(client: MlflowRest, artifact_uri: str, model_rel: str, files, folder: Path, uri: str) -> None:
    """The model's card (``<stem>.card.json``/``.yaml``) and the calibration file it names."""
    stem, parent = Path(model_rel).stem, str(Path(model_rel).parent)
    beside = {Path(p).name: p for p, _ in files if str(Path(p).parent) == parent}
    cards = [beside[f"{stem}{s}"] for s in _CARD_SUFFIXES if f"{stem}{s}" in beside]
    for suffix in _CARD_SUFFIXES:  # a card the version no longer holds (a pin made before it changed)
        if not cards or Path(cards[0]).name != f"{stem}{suffix}":
            (folder / f"{stem}{suffix}").unlink(missing_ok=True)
    if not cards:
        return
    sha, tmp = _fetch(client, artifact_uri, cards[0], folder, MAX_CARD_BYTES, uri)
    card_path = folder / Path(cards[0]).name
    _keep_or_replace(tmp, card_path, sha)
    from ..card import ModelCard
    card = ModelCard.read(card_path)
    calibration = Path((card.calibration or {}).get("file") or "").name
    if calibration and calibration in beside:
        sha, tmp = _fetch(client, artifact_uri, beside[calibration], folder, MAX_REGISTRY_MODEL_BYTES, uri)
        _keep_or_replace(tmp, folder / calibration, sha)


def _keep_or_replace(tmp: Path, target: Path, sha: str) -> None:
    """Put the downloaded ``tmp`` (SHA-256 ``sha``) at ``target``, unless ``target`` already holds
    exactly those bytes: then the file a review opened stays as it was (its modification time
    too, so the server's model cache, keyed by it, serves it again instead of loading it anew;
    and a review loading it never finds it missing or half replaced)."""
    try:
        same = target.is_file() and sha256_file(target) == sha
    except OSError:
        same = False
    if same:
        tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, target)
