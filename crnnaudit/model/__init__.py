"""The user's model: loading (with the safety scan), decomposition, scoring.

    loading.py    load_model: safety scan, Keras safe mode, the card beside the file
    decompose.py  decompose: a pure function, Keras model -> conv, pool, head
    scoring.py    Timeline and score, with a window scheduler
    audited.py    AuditedModel: the pieces, the card, the two forward passes, verify()
    backend.py    what differs per Keras backend: compile, vector-Jacobian product, GPU memory
    calibration.py  statistics of the training data's features: "unlike the training data"
"""

from ..vocabulary import MODEL_SUFFIXES
from .statistics import FeatureStats
from .calibration import calibrate, write_calibration
from .audited import AuditedModel, preprocess, weights_hash
from .decompose import Capabilities, Decomposition, decompose
from .loading import load_model
from .scoring import Timeline, WindowScheduler

__all__ = ["MODEL_SUFFIXES", "AuditedModel", "Capabilities", "Decomposition", "FeatureStats", "Timeline",
           "calibrate", "write_calibration",
           "WindowScheduler", "decompose", "load_model", "preprocess", "weights_hash"]
