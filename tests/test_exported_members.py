import crnnaudit


def test_public_names_are_pinned():
    assert crnnaudit.__all__ == sorted([
        "AuditLog", "AuditLogError", "AuditedModel", "Cancelled", "Capabilities", "CardError", "Clip",
        "CrnnauditError", "DEFAULT_METHODS", "Explanation", "ExplanationCache", "ExplanationError",
        "ExplanationSet", "FeatureStats", "GroundTruth", "ModelCard", "ModelError", "REGISTRY", "ReportError",
        "Timeline", "UnsafeModelError", "UnsupportedModelError", "VideoError", "Window",
        "build_report", "calibrate", "explain", "export_explanations", "load_model", "open_clip", "preprocess", "verify_report",
        "write_report"])
    for name in crnnaudit.__all__:
        assert getattr(crnnaudit, name) is not None


def test_every_error_is_a_crnnaudit_error():
    for name in crnnaudit.__all__:
        obj = getattr(crnnaudit, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, crnnaudit.CrnnauditError), name
