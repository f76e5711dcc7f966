"""crnnaudit: an audit workbench for CNN + RNN video anomaly-detection models.

The public API; the app and the command line use nothing else. Names are imported on first
use, so ``crnnaudit.evidence`` or the video tools do not pay for importing TensorFlow.
"""

from __future__ import annotations

import importlib

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
    "Clip": "video", "GroundTruth": "video", "Window": "video", "open_clip": "video",
    "DEFAULT_METHODS": "explainers", "REGISTRY": "explainers", "Explanation": "explainers",
    "ExplanationCache": "explainers", "ExplanationSet": "explainers", "explain": "explainers",
    "build_report": "report", "write_report": "report", "verify_report": "report",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'crnnaudit' has no attribute {name!r}")
    attr = "verify_file" if name == "verify_report" else name
    value = getattr(importlib.import_module(f".{module}", __name__), attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
