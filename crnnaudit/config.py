"""Every setting crnnaudit reads from the environment, in one table, and the process set-up
that the entry points (the command line, the app) do once.

Nothing else in crnnaudit reads ``os.environ`` (a test holds the code to it); each setting is
read when it is used, so a changed environment takes effect at once. The README's table of
variables is :data:`SETTINGS` (a test compares them).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import CrnnauditError


@dataclass(frozen=True)
class Setting:
    name: str
    default: str | None  # the value used when unset; None: see ``unset``
    meaning: str
    unset: str = ""  # what an unset setting without a default value means

    @property
    def shown_default(self) -> str:
        return f"`{self.default}`" if self.default is not None else self.unset


SETTINGS: tuple[Setting, ...] = (
    Setting("CRNNAUDIT_HOME", None, "data folder: demo model, uploads, explanation cache, reports, audit log",
            "`~/.cache/crnnaudit`"),
    Setting("CRNNAUDIT_MODEL", None, "the model the app opens on: a file, or a registry URI "
            "(`models:/NAME@ALIAS`) resolved and pinned as each review starts", "the demo model"),
    Setting("CRNNAUDIT_MODELS_DIR", None, "folders (`:`-separated) the Model page offers models from; no page "
            "opens any other path", "the demo model's folder"),
    Setting("MLFLOW_TRACKING_URI", None, "the MLflow tracking server (`http(s)://host:port`) whose model registry "
            "`models:/NAME@ALIAS` and `models:/NAME/VERSION` are read from (MLflow's own variable)",
            "no registry: models are files"),
    Setting("MLFLOW_TRACKING_TOKEN", None, "a bearer token for that server (MLflow's own variable)", "none"),
    Setting("MLFLOW_TRACKING_USERNAME", None, "a user name for that server's basic authentication, with "
            "`MLFLOW_TRACKING_PASSWORD` (MLflow's own variables)", "none"),
    Setting("MLFLOW_TRACKING_PASSWORD", None, "that user's password", "none"),
    Setting("CRNNAUDIT_REGISTRY_MODELS", None, "registered model names (comma-separated) that may be audited, or "
            "`*` for all: the registry's counterpart of `CRNNAUDIT_MODELS_DIR`", "none"),
    Setting("CRNNAUDIT_REGISTRY_TAGS", None, "`1`: countersigned reports and dataset runs set `crnnaudit.*` tags "
            "on the model version they concern (tags only: never a stage or an alias)", "off"),
    Setting("CRNNAUDIT_SAMPLES", None, "folder of sample clips the Review page offers", "`./sample_videos`"),
    Setting("CRNNAUDIT_RUNS_DIR", None, "dataset-audit runs the Dataset and Queue pages open",
            "`CRNNAUDIT_HOME/runs`"),
    Setting("CRNNAUDIT_MAX_UPLOAD_MB", "200", "largest upload the app accepts; `make app` passes it to the server "
            "as `server.maxUploadSize`, which refuses a larger file while it streams in"),
    Setting("CRNNAUDIT_MAX_FRAME_PIXELS", str(7680 * 4320), "largest frame (width x height) a clip may have "
            "(8K UHD)"),
    Setting("CRNNAUDIT_MAX_CONFIG_MB", "16", "largest model config read (`config.json`, `model_config`)"),
    Setting("CRNNAUDIT_MODEL_MEMORY_MB", "2048", "memory limit of the sandbox that first loads a model file "
            "(more for files over 170 MB: 1 GB + 6 x the file)"),
    Setting("CRNNAUDIT_MODEL_TIMEOUT_S", "45", "time limit of that sandbox"),
    Setting("CRNNAUDIT_SIGNING_KEY", None, "the installation's Ed25519 private key as PEM text (how a secret "
            "store hands it over); it signs log rows, checkpoints, reports and countersignatures",
            "`CRNNAUDIT_SIGNING_KEY_FILE`"),
    Setting("CRNNAUDIT_SIGNING_KEY_FILE", None, "a PEM file holding that key (`crnnaudit keys init` makes it; "
            "a missing key is an error, never replaced silently)", "`CRNNAUDIT_HOME/keys/signing.pem`"),
    Setting("CRNNAUDIT_TRUSTED_KEYS", None, "fingerprints (SHA-256 of the public key, hex; comma- or "
            "space-separated) a verifier trusts; any other signing key fails verification",
            "nothing pinned (verification says so)"),
    Setting("CRNNAUDIT_WITNESS", None, "a folder on another mount, or a separate database's URL, that keeps "
            "every signed checkpoint of the log", "no witness (verification says so)"),
    Setting("CRNNAUDIT_LOG_CHECKPOINT", None, "where the log's signed checkpoint is kept",
            "`CRNNAUDIT_HOME/checkpoints/`"),
    Setting("CRNNAUDIT_AUDIT_DB", None, "the audit log's database (SQLAlchemy URL; PostgreSQL via "
            "`postgresql+psycopg://…`)", "SQLite in `CRNNAUDIT_HOME`"),
    Setting("CRNNAUDIT_RETENTION_DAYS", "30", "how long uploads and what was derived from them are kept"),
    Setting("CRNNAUDIT_SESSION_MINUTES", "480", "how long a sign-in lasts"),
    Setting("CRNNAUDIT_WORK_SLOTS", "1", "how many pieces of long work (scoring, explaining, trust figures, "
            "reports) the app runs at once; the rest wait their turn, first come, first served, each session "
            "told its place and the time left"),
    Setting("CRNNAUDIT_MEMORY", "pooled", "`pooled`: TensorFlow keeps the memory its oneDNN kernels used in a pool "
            "of its own (fastest; a server holds its peak); `released`: those kernels allocate from the system, the "
            "server's threads share two C heaps, and the app hands freed memory back whenever its long work is done "
            "(a server shrinks when its sessions "
            "end; gradient passes slower, see docs/performance.md); the app, the commands and a Ray run's workers "
            "apply it before their TensorFlow loads"),
    Setting("CRNNAUDIT_OIDC_PROVIDER", None, "OpenID Connect provider (its name in `secrets.toml`)", "off"),
    Setting("CRNNAUDIT_OIDC_ROLE_CLAIM", "crnnaudit_role", "the ID token's claim holding the role"),
    Setting("CRNNAUDIT_PASSWORD", None, "the password of a command's `--as` account, for scripts", "a prompt"),
    Setting("CRNNAUDIT_NEW_PASSWORD", None, "the password of `user add` and `user reset-password`, for scripts",
            "a prompt"),
    Setting("CRNNAUDIT_CONTROLLER", None, "the organisation responsible for the reviews (the GDPR controller), "
            "named in every report's summary for the person concerned", "a placeholder, marked as such: no report "
            "is countersigned until it is set"),
    Setting("CRNNAUDIT_CONTEST_CONTACT", None, "where a person contests a decision: a postal address, an e-mail "
            "address or a web form", "a placeholder, marked as such: no report is countersigned until it is set"),
    Setting("CRNNAUDIT_REPORT_NAMES", "display", "how reports name people: `display` (the display name an admin "
            "set, else the role) or `login` (the account's user name)"),
    Setting("CRNNAUDIT_REPORT_LANGUAGE", "en", "the language of the summary for the person concerned when none is "
            "chosen: `en`, `fr` or `de`"),
    Setting("CRNNAUDIT_FONT_DIRS", None, "extra folders (`:`-separated) to find the PDF's Noto fonts in",
            "Debian's font folders"),
    Setting("CRNNAUDIT_DEBUG", None, "`1`: a command's unexpected failure shows its traceback", "off"),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def setting(name: str) -> str | None:
    """The value of a setting: the environment's when set and not empty, else its default."""
    value = os.environ.get(_BY_NAME[name].name)  # KeyError: a setting missing from the table
    return value if value else _BY_NAME[name].default


def number(name: str) -> float:
    """A numeric setting.

    Raises:
        CrnnauditError: the value is not a finite number; the message names the variable.
    """
    text = setting(name)
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = float("nan")
    if value != value or value in (float("inf"), float("-inf")):
        raise CrnnauditError(f"{name} must be a number, got {text!r}")
    return value


def folders(name: str) -> list[Path] | None:
    """A ``:``-separated list of folders, or None when the setting is unset."""
    text = setting(name)
    return [Path(p).expanduser() for p in text.split(":") if p] if text else None


def crnnaudit_environment() -> dict[str, str]:
    """The ``CRNNAUDIT_*`` variables set in this process, for workers in other processes."""
    return {k: v for k, v in os.environ.items() if k.startswith("CRNNAUDIT_")}


def adopt(env: dict[str, str]) -> None:
    """Take a driver's ``CRNNAUDIT_*`` settings in a worker process."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("CRNNAUDIT_")})


def child_environment(**overrides: str) -> dict[str, str]:
    """This process's environment with ``overrides``, for a child process (the sandbox)."""
    return dict(os.environ, **overrides)


def home() -> Path:
    """The data folder (demo model, clips, explanation cache, audit log); created on use."""
    base = setting("CRNNAUDIT_HOME")
    if base:
        path = Path(base).expanduser()
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")  # the platform's, not ours
        path = Path(cache) / "crnnaudit"
    path.mkdir(parents=True, exist_ok=True)
    return path


def runs_dir() -> Path:
    """Where the Dataset and Queue pages find dataset-audit runs (``crnnaudit batch --out``):
    ``CRNNAUDIT_RUNS_DIR``, else ``runs`` in the data folder. No page opens a run elsewhere."""
    configured = setting("CRNNAUDIT_RUNS_DIR")
    return Path(configured).expanduser() if configured else home() / "runs"


def samples_dir() -> Path:
    """The folder of sample clips: ``CRNNAUDIT_SAMPLES``, else ``sample_videos`` in the
    working folder (where ``make app`` and ``streamlit run app.py`` start). An installed
    package does not guess where a checkout lies."""
    return Path(setting("CRNNAUDIT_SAMPLES") or Path.cwd() / "sample_videos").expanduser()


def audit_db_url() -> str:
    """The audit log's database: ``CRNNAUDIT_AUDIT_DB``, else SQLite in the data folder."""
    return setting("CRNNAUDIT_AUDIT_DB") or f"sqlite:///{home() / 'audit.sqlite'}"


def read_at_most(path: Path, limit: int, error: type, what: str) -> bytes:
    """The bytes of ``path``, never more than ``limit`` of them read: ``error`` (a crnnaudit
    error class) names the file and says ``what`` it is when it cannot be read or is larger."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except (OSError, ValueError) as e:  # ValueError: a name holding NUL
        raise error(f"{str(path)[:200]}: cannot read the {what} ({getattr(e, 'strerror', None) or e})") from e
    if len(data) > limit:
        raise error(f"{path}: refused: a {what} is at most {limit >> 10} kB")
    return data


def quiet_tensorflow(verbose: bool = False) -> None:
    """Nothing from TensorFlow's C++ core (its start-up notices, and a CUDA probe's error on a
    machine without a GPU, say nothing a user can act on) and only errors from its Python
    logger; ``verbose`` (``crnnaudit --verbose``) lets its notices through. Call before
    TensorFlow is imported; a ``TF_CPP_MIN_LOG_LEVEL`` already set is kept. With
    ``CRNNAUDIT_MEMORY=released``, TensorFlow's oneDNN kernels are told to allocate from the
    system (``TF_ONEDNN_USE_SYSTEM_ALLOCATOR``), so that memory they free can go back to it."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if verbose else "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if setting("CRNNAUDIT_MEMORY") == "released":  # read by TensorFlow's oneDNN allocator when it starts
        os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "true")


MEMORY_MODES = ("pooled", "released")


def memory_mode() -> str:
    """``CRNNAUDIT_MEMORY``: ``pooled`` or ``released``.

    Raises:
        CrnnauditError: another value; the message names the variable and the choices.
    """
    mode = setting("CRNNAUDIT_MEMORY")
    if mode not in MEMORY_MODES:
        raise CrnnauditError(f"CRNNAUDIT_MEMORY must be one of {', '.join(MEMORY_MODES)}, got {mode!r}")
    return mode


def quiet_import(name: str):
    """Import ``name`` (Keras, and so TensorFlow) with standard error closed at the file
    descriptor while it loads, when :func:`quiet_tensorflow` asked for quiet
    (``TF_CPP_MIN_LOG_LEVEL=3``): TensorFlow's shared libraries print their start-up notices
    before its log level is read, and no setting stops them. An import that fails still raises;
    ``crnnaudit --verbose`` (or any other log level) lets everything through."""
    import importlib
    import sys
    if name in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        return importlib.import_module(name)
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        return importlib.import_module(name)
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
