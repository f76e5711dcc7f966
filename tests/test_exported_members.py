import crnnaudit


def test_public_names_are_pinned():
    assert crnnaudit.__all__ == sorted([
        "AuditLog", "AuditLogError", "AuditedModel", "Cancelled", "Capabilities", "CardError", "Clip",
        "CrnnauditError", "DEFAULT_METHODS", "Explanation", "ExplanationCache", "ExplanationError",
        "ExplanationSet", "FeatureStats", "GroundTruth", "ModelCard", "ModelError", "REGISTRY", "ReportError",
        "RegistryError", "Timeline", "UnsafeModelError", "UnsupportedModelError", "VideoError", "Window",
        "build_report", "calibrate", "explain", "export_explanations", "load_model", "open_clip", "preprocess", "verify_report",
        "write_report",
        # what the command line and the pages reach through the API (tests/test_architecture.py holds them to it)
        "allowed_model", "locate_model", "registry_choices", "registry_uris", "is_registry_uri",
        "resolve_registry_uri", "check_registry_pin", "store_registry_card", "registry_pin", "calibrate_card", "NO_STATISTICS", "Accounts", "Sessions", "init_signing_key", "load_signing_key",
        "rotate_signing_key", "signing_key_path", "has_signing_key", "evidence_anchors", "UNANCHORED", "UNANCHORED_EXIT", "erase_clip", "apply_retention", "retention_days",
        "uploads_older_than", "write_record_of_processing", "reviewer_figures", "oversight_rule", "countersign",
        "return_report", "reject_report", "returned_to", "pending_reports",
        "assess_compliance", "NOT_ANSWERED", "run_batch", "EXECUTORS", "write_run_report", "build_instructions",
        "write_instructions", "synthesize", "ensure_demo", "demo_is_current", "demo_model_path",
        "ShippedDemoMismatch", "ship_demo", "build_demo", "evaluate_demo_and_record"])
    for name in crnnaudit.__all__:
        assert getattr(crnnaudit, name) is not None


def test_every_error_is_a_crnnaudit_error():
    for name in crnnaudit.__all__:
        obj = getattr(crnnaudit, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, crnnaudit.CrnnauditError), name


def test_no_lazy_name_is_hidden_by_a_module_of_that_name():
    """A package that exports names lazily must not export a name that is also one of its
    modules: once the module is imported (by anyone), Python binds the package attribute to
    the module, and ``package.name`` stops being the function."""
    import importlib
    import pkgutil
    clashes = []
    for info in pkgutil.walk_packages(crnnaudit.__path__, "crnnaudit."):
        if not info.ispkg:
            continue
        package = importlib.import_module(info.name)
        exports = getattr(package, "_EXPORTS", {})
        modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
        clashes += [f"{info.name}.{name}" for name in exports if name in modules]
    assert not clashes, clashes
    root = {m.name for m in pkgutil.iter_modules(crnnaudit.__path__)}
    assert not [n for n in crnnaudit._EXPORTS if n in root]
