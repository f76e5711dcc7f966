"""crnnaudit: an audit workbench for CNN + RNN video anomaly-detection models.

The public API; the app and the command line use nothing else.
"""

__version__ = "0.1.0"

from .card import ModelCard  # noqa: E402
from .errors import (AuditLogError, CardError, Cancelled, CrnnauditError,  # noqa: E402
                     ExplanationError, ModelError, ReportError, UnsafeModelError,
                     UnsupportedModelError, VideoError)
from .model import AuditedModel, Capabilities, Timeline, load_model, preprocess  # noqa: E402
from .video import Clip, GroundTruth, Window, open_clip  # noqa: E402
from .explain import (DEFAULT_METHODS, REGISTRY, Explanation, ExplanationCache,  # noqa: E402
                      ExplanationSet, explain)

__all__ = [
    "AuditLogError", "AuditedModel", "Cancelled", "Capabilities", "CardError", "Clip",
    "CrnnauditError", "DEFAULT_METHODS", "Explanation", "ExplanationCache", "ExplanationError",
    "ExplanationSet", "GroundTruth", "ModelCard", "ModelError", "REGISTRY", "ReportError",
    "Timeline", "UnsafeModelError", "UnsupportedModelError", "VideoError", "Window",
    "explain", "load_model", "open_clip", "preprocess",
]
