"""crnnaudit: an audit workbench for CNN + RNN video anomaly-detection models.

The public API; the app and the command line use nothing else. Names are imported on first
use, so ``crnnaudit.evidence`` or the video tools do not pay for importing TensorFlow.
"""

from __future__ import annotations

from .lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "AuditLog": "evidence.log",
    "ModelCard": "card",
    "AuditLogError": "errors", "CardError": "errors", "Cancelled": "errors",
    "CrnnauditError": "errors", "ExplanationError": "errors", "ModelError": "errors",
    "ReportError": "errors", "UnsafeModelError": "errors", "UnsupportedModelError": "errors",
    "VideoError": "errors",
    "AuditedModel": "model", "Capabilities": "model", "Timeline": "model", "load_model": "model",
    "preprocess": "model", "FeatureStats": "model", "calibrate": "model",
    "export_explanations": "report.export",
    "Clip": "footage.video", "GroundTruth": "footage.video", "Window": "footage.video", "open_clip": "footage.video",
    "DEFAULT_METHODS": "explainers", "REGISTRY": "explainers", "Explanation": "explainers",
    "ExplanationCache": "explainers", "ExplanationSet": "explainers", "explain": "explainers",
    "build_report": "report", "write_report": "report", "verify_report": "report",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, {k: "." + v for k, v in _EXPORTS.items()},
                                    {"verify_report": "verify_file"}, globals())
