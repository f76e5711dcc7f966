"""Every size, time and count limit crnnaudit holds untrusted input to, in one place.

A file a user hands in (a model, a clip, a card, a report, an upload) is bounded here before it
is parsed. The limits an operator may change are settings (:mod:`.config`), read when used; the
others are constants, each with the reason for its value.
"""

from __future__ import annotations

from .config import number
from .errors import CrnnauditError

#: A model card is a few kB; a larger one is refused before it is parsed.
MAX_CARD_BYTES = 1 << 20
#: An Ed25519 PEM key is 119 bytes; a key file far larger is not one.
MAX_KEY_FILE_BYTES = 64 << 10
#: A labels or conditions CSV: one short row per clip. Larger, wider or longer ones are refused.
MAX_CSV_BYTES = 64 << 20
MAX_CSV_COLUMNS = 64
MAX_CSV_ROWS = 1_000_000
MAX_CSV_CELL = 4096
#: The counterfactual search's budget: frames run through the temporal head (sets scored x
#: window length; a 20-frame window's exact and greedy searches use under 100,000) and seconds.
#: Past either, it stops and says so.
COUNTERFACTUAL_FRAME_STEPS = 2_000_000
COUNTERFACTUAL_SECONDS = 60.0
#: A report is a few MB (its key frames); anything far larger is not one.
MAX_REPORT_BYTES = 256 << 20
#: Deepest nesting of lists and objects in a model config (Keras configs nest about 10 deep).
MAX_CONFIG_DEPTH = 200
#: A ``.keras`` archive whose members unpack to more than this many times its size, and to
#: more than :data:`ZIP_BOMB_FLOOR_BYTES`, is a zip bomb (trained weights barely compress).
MAX_ZIP_RATIO = 100
ZIP_BOMB_FLOOR_BYTES = 256 << 20
#: Frames are scaled by the decoder to at most this many pixels a side: more than the model
#: and the overlays need, and a bound on each decoded frame's memory.
MAX_DECODE_SIDE = 1280
#: How often the sandbox's parent checks its child's memory and time.
SANDBOX_POLL_S = 0.02
#: The explanation cache's size on disk; the oldest entries go first.
EXPLANATION_CACHE_BYTES = 512 << 20
#: Windows per class the shortcut screen clusters (its affinity matrix is n x n); above, a
#: seeded sample is screened.
MAX_SHORTCUT_WINDOWS = 1500
#: A model version's files in a registry: the Keras file is at most this large (a VGG19 + GRU is
#: 80 MB), the folders listed at most this deep and this many entries in all, and the server
#: answers within this many seconds, else the version is refused (the message says which bound).
MAX_REGISTRY_MODEL_BYTES = 4 << 30
MAX_REGISTRY_DEPTH = 6
MAX_REGISTRY_ENTRIES = 2000
REGISTRY_TIMEOUT_S = 20.0


def max_frame_pixels() -> int:
    """Largest frame (width x height) a clip may have (``CRNNAUDIT_MAX_FRAME_PIXELS``, 8K UHD)."""
    return int(number("CRNNAUDIT_MAX_FRAME_PIXELS"))


def max_config_bytes() -> int:
    """Largest model config read (``CRNNAUDIT_MAX_CONFIG_MB``, 16 MB; a VGG19 + GRU's is 40 kB)."""
    return int(number("CRNNAUDIT_MAX_CONFIG_MB") * (1 << 20))


def max_upload_mb() -> int:
    """The upload limit (``CRNNAUDIT_MAX_UPLOAD_MB``, 200), which the Streamlit server's
    ``server.maxUploadSize`` must follow (``make app`` passes it)."""
    return max(1, int(number("CRNNAUDIT_MAX_UPLOAD_MB")))


def model_memory_mb(size_bytes: int) -> int:
    """The model sandbox's memory limit: ``CRNNAUDIT_MODEL_MEMORY_MB`` (2 GB), or 1 GB plus six
    times the file for model files large enough to need more (a full VGG19 with its top is 550 MB)."""
    return max(int(number("CRNNAUDIT_MODEL_MEMORY_MB")), 1024 + 6 * (size_bytes >> 20))


def model_timeout_s() -> float:
    """The model sandbox's time limit (``CRNNAUDIT_MODEL_TIMEOUT_S``, 45 s: with TensorFlow's
    start, the verdict comes within a minute)."""
    return number("CRNNAUDIT_MODEL_TIMEOUT_S")


#: A retention period is a whole day at least and a century at most: less erases what was just
#: written (``--days 0`` or ``-1`` used to erase everything), more is a typo.
MIN_DAYS, MAX_DAYS = 1.0, 36500.0
#: The AI Act asks deployers to keep a high-risk system's logs at least six months (Art. 19(1),
#: 26(6)); a shorter log retention needs --force and a reason, which the purge row records.
AI_ACT_LOG_DAYS = 183.0


def checked_days(days, what: str = "--days") -> float:
    """A retention period in days, from 1 to 36,500.

    Raises:
        CrnnauditError: not a number (NaN included), or out of that range; names ``what``.
    """
    try:
        value = float(days)
    except (TypeError, ValueError):
        value = float("nan")
    if not MIN_DAYS <= value <= MAX_DAYS:  # also False for NaN
        raise CrnnauditError(f"{what} must be a number of days from {MIN_DAYS:g} to {MAX_DAYS:,.0f}, got {days!r}")
    return value
