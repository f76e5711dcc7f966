"""The user's model: loading (with the safety scan), decomposition, scoring.

    loading.py    load_model: safety scan, Keras safe mode, the card beside the file
    decompose.py  decompose: a pure function, Keras model -> conv, pool, head
    scoring.py    Timeline and score, with a window scheduler
    audited.py    AuditedModel: the pieces, the card, the two forward passes, verify()
    backend.py    what differs per Keras backend: compile, vector-Jacobian product, GPU memory
    calibration.py  statistics of the training data's features: "unlike the training data"
"""

from ..config import quiet_import

quiet_import("keras")  # first, so that TensorFlow's start-up notices stay off a quiet terminal

from ..vocabulary import MODEL_SUFFIXES  # noqa: E402
from .statistics import FeatureStats  # noqa: E402
from .calibration import calibrate, write_calibration  # noqa: E402
from .audited import AuditedModel, preprocess, weights_hash  # noqa: E402
from .decompose import Capabilities, Decomposition, decompose  # noqa: E402
from .loading import load_model  # noqa: E402
from .scoring import Timeline, WindowScheduler  # noqa: E402

__all__ = ["MODEL_SUFFIXES", "AuditedModel", "Capabilities", "Decomposition", "FeatureStats", "Timeline",
           "calibrate", "write_calibration",
           "WindowScheduler", "decompose", "load_model", "preprocess", "weights_hash"]
