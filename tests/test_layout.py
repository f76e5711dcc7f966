"""The house rules that keep the code easy to change, checked on the source itself."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def _sources():
    yield ROOT / "app.py"
    for folder in ("crnnaudit", "views"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return [f"{where}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def test_no_file_over_400_lines_and_no_function_over_60():
    files = list(_sources())
    assert len(files) > 30, "the walk found the package"
    big = [f"{p.relative_to(ROOT)} ({n} lines)" for p in files
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES]
    long = [x for p in files for x in _long_functions(p)]
    assert not big and not long, big + long


def test_the_checker_sees_a_long_function(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def f():\n" + "    x = 1\n" * 61 + "\n\ndef g():\n" + "    x = 1\n" * 59)
    assert _long_functions(path) == ["probe.py:1 f (62 lines)"]


def test_no_module_decides_by_a_method_name():
    """Methods say what they are in the registry; no page, command or report tests a name."""
    offenders = []
    for path in _sources():
        if path.parent.name == "explainers":
            continue  # where the methods are defined and registered
        text = path.read_text(encoding="utf-8")
        for name in ("prefix_score", "frame_occlusion", "temporal_ig", "gradcam", "saliency"):
            for quote in ('"', "'"):
                if f"== {quote}{name}{quote}" in text or f"!= {quote}{name}{quote}" in text:
                    offenders.append(f"{path.relative_to(ROOT)} compares with {name}")
    assert not offenders, offenders


def test_only_the_ui_imports_streamlit():
    for path in _sources():
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("views", "app.py") or rel.parts[:2] == ("crnnaudit", "ui"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(n.split(".")[0] == "streamlit" for n in names), rel


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    return {n.split(".")[0] for n in names}


#: where a backend may be named: its adapter, and the demo's training recipe (TensorFlow's
#: deterministic ops make two builds agree; training is not part of the audit engine)
BACKEND_ROOMS = {Path("crnnaudit/model/backend.py"), Path("crnnaudit/lab/recipe.py"),
                 Path("crnnaudit/lab/training.py")}


def test_only_the_adapter_names_a_backend():
    """One engine over keras.ops: TensorFlow, JAX and PyTorch are imported only by
    crnnaudit/model/backend.py (and the demo's training), so the same code runs on each."""
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT)
        found = _imported_roots(path) & {"tensorflow", "jax", "jaxlib", "torch"}
        if found and rel not in BACKEND_ROOMS:
            offenders.append(f"{rel} imports {sorted(found)}")
    assert not offenders, offenders


def test_one_rule_one_place():
    """A score meets its threshold only in crnnaudit/decision.py; what a method can serve is
    decided only by Method.unavailable_on (never by a name or by looking for conv layers)."""
    offenders = []
    for path in _sources():
        rel = path.relative_to(ROOT)
        text = path.read_text(encoding="utf-8")
        if rel != Path("crnnaudit/decision.py") and (">= model.card.threshold" in text or ">= card.threshold" in text):
            offenders.append(f"{rel} compares a score with the threshold")
        if "startswith(\"gradcam" in text or "startswith('gradcam" in text or ".needs_conv" in text:
            offenders.append(f"{rel} decides what a method needs by itself")
    assert not offenders, offenders


def test_no_test_reads_outside_the_repository():
    """A clone anywhere passes: no test or benchmark names a path above the project's root."""
    offenders = []
    for folder in ("tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            quote = '"'
            outside = ("ROOT" + ".parent", ".." + "/shar" + "ed", quote + "shar" + "ed" + quote)  # spelt apart: this file is read too
            if any(o in text for o in outside):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders
    assert (ROOT / "tests" / "data" / "vtest.avi").stat().st_size > 2_000_000
