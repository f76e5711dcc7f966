"""crnnaudit: an audit workbench for CNN + RNN video anomaly-detection models.

The public API. The two doors, the Streamlit pages and the ``crnnaudit`` command, use nothing
else of the package but the review service (:mod:`crnnaudit.review`), the ground floor's words,
settings and errors, and their own rooms (``crnnaudit.ui``, ``crnnaudit.cli``); a test holds
them to it. Names are imported on first use, so ``crnnaudit.evidence`` or the video tools do
not pay for importing TensorFlow.
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
    "VideoError": "errors", "RegistryError": "errors",
    "AuditedModel": "model", "Capabilities": "model", "Timeline": "model", "load_model": "model",
    "preprocess": "model", "FeatureStats": "model", "calibrate": "model",
    "export_explanations": "report.export",
    "Clip": "footage.video", "GroundTruth": "footage.truth", "Window": "footage.video", "open_clip": "footage.video",
    "DEFAULT_METHODS": "explainers", "REGISTRY": "explainers", "Explanation": "explainers",
    "ExplanationCache": "explainers", "ExplanationSet": "explainers", "explain": "explainers",
    "build_report": "report", "write_report": "report", "verify_report": "report",
    # models: where they may come from, calibration
    "allowed_model": "model.places", "locate_model": "model.places", "registry_choices": "model.registry",
    "registry_uris": "model.registry", "is_registry_uri": "model.registry", "resolve_registry_uri": "model.registry",
    "check_registry_pin": "model.registry", "store_registry_card": "model.registry", "registry_pin": "model.registry", "calibrate_card": "model.calibration", "NO_STATISTICS": "model.statistics",
    # evidence: accounts, the signing key, erasure and retention, oversight
    "Accounts": "evidence.accounts", "Sessions": "evidence.sessions", "init_signing_key": "evidence.keys",
    "load_signing_key": "evidence.keys",
    "rotate_signing_key": "evidence.keys", "signing_key_path": "evidence.keys", "has_signing_key": "evidence.keys",
    "evidence_anchors": "evidence.keys", "UNANCHORED": "evidence.keys", "UNANCHORED_EXIT": "evidence.keys",
    "erase_clip": "evidence.retention", "apply_retention": "evidence.retention",
    "retention_days": "evidence.retention", "uploads_older_than": "evidence.retention",
    "write_record_of_processing": "evidence.retention", "reviewer_figures": "evidence.oversight",
    "oversight_rule": "evidence.oversight",
    # reports: four eyes, the law
    "countersign": "report.countersign", "return_report": "report.countersign", "reject_report": "report.countersign",
    "returned_to": "report.countersign", "pending_reports": "report.countersign", "assess_compliance": "report.compliance", "NOT_ANSWERED": "report.compliance",
    # dataset audits
    "run_batch": "dataset.executors", "EXECUTORS": "dataset.executors", "write_run_report": "dataset.run_report",
    "build_instructions": "dataset.instructions", "write_instructions": "dataset.instructions",
    # the demo (and its lab, imported only when called)
    "synthesize": "demo", "ensure_demo": "demo.assembly", "demo_is_current": "demo.paths",
    "demo_model_path": "demo.paths", "ShippedDemoMismatch": "demo.shipped", "ship_demo": "demo.shipped",
    "build_demo": "lab", "evaluate_demo_and_record": "lab",
}
__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, {k: "." + v for k, v in _EXPORTS.items()}, {
    "verify_report": "verify_file", "init_signing_key": "init_key", "rotate_signing_key": "rotate_key",
    "signing_key_path": "key_path", "evidence_anchors": "anchors", "write_record_of_processing": "write_record", "oversight_rule": "rule",
    "assess_compliance": "assess", "locate_model": "locate", "registry_choices": "choices",
    "registry_uris": "choice_uris", "resolve_registry_uri": "resolve", "check_registry_pin": "check",
    "store_registry_card": "store_card", "registry_pin": "pin_of", "return_report": "send_back", "reject_report": "reject",
    "pending_reports": "pending", "ship_demo": "ship", "evaluate_demo_and_record": "evaluate_and_record"}, globals())
