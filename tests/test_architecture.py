"""ARCHITECTURE.md's import rules, checked on the source: the floors, no circle, no TensorFlow
where none is needed. The table of floors is read from ARCHITECTURE.md itself."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "crnnaudit"


def floors() -> dict[str, tuple[int, str]]:
    """Module or package name (under crnnaudit) -> (floor, wing), from ARCHITECTURE.md."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    out = {}
    for floor, wing, modules in re.findall(r"^\| (\d+) \| (\w+) \| ([\w, ]+) \|", text, flags=re.M):
        for m in modules.split(","):
            out[m.strip()] = (int(floor), wing)
    return out


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _api_exports() -> dict[str, str]:
    tree = ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "_EXPORTS")
    return {k: "crnnaudit." + v for k, v in ast.literal_eval(node.value).items()}


def imports(path: Path, modules: set[str], type_checking: bool = False) -> set[str]:
    """Every crnnaudit module ``path`` imports, at any depth, except under TYPE_CHECKING (unless
    ``type_checking``); a name from the public API counts as its module; the package's own lazy
    root does not."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set() if type_checking else {
        id(x) for n in ast.walk(tree) if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)
        for x in ast.walk(n)}
    api, out = _api_exports(), set()
    for n in ast.walk(tree):
        if id(n) in skip:
            continue
        if isinstance(n, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - n.level + 1] if n.level else []
            target = ".".join(base + [n.module]) if n.module else ".".join(base)
            for a in n.names:
                full = f"{target}.{a.name}"
                if full in modules:
                    out.add(full)
                elif target == "crnnaudit" and a.name in api:
                    out.add(api[a.name])
                elif target in modules and target != "crnnaudit":
                    out.add(target)
        elif isinstance(n, ast.Import):
            out |= {a.name for a in n.names if a.name in modules and a.name != "crnnaudit"}
    out.discard(me)
    return out


def graph(type_checking: bool = False) -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: imports(p, set(paths), type_checking) for m, p in paths.items()}


def place(module: str, table: dict) -> tuple[int, str] | None:
    parts = module.split(".")[1:]
    return table.get(parts[0]) if parts else None


def test_every_module_has_a_floor():
    table = floors()
    assert len(table) >= 15, "the table of floors was read"
    homeless = [m for m in graph() if m not in ("crnnaudit", "crnnaudit.__main__") and place(m, table) is None]
    assert not homeless, f"modules in no row of ARCHITECTURE.md's floors: {homeless}"


def test_no_module_imports_a_higher_floor_or_a_neighbouring_wing():
    table, bad = floors(), []
    for m, targets in graph().items():
        if place(m, table) is None:
            continue
        floor, wing = place(m, table)
        for t in targets:
            their_floor, their_wing = place(t, table)
            if their_floor > floor or (their_floor == floor and their_wing != wing):
                bad.append(f"{m} (floor {floor}, {wing}) imports {t} (floor {their_floor}, {their_wing})")
    assert not bad, bad


def _circles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
    for v in g:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    """None at all, counting imports made only for type checking: the method registry finds
    its methods by a list of names (explainers.base.METHOD_MODULES) and entry points, and
    scoring reads a model through a protocol, not the class that calls it."""
    assert _circles(graph(type_checking=True)) == []


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_ground_floor_holds_only_what_every_floor_may_use():
    """At most 8 modules loose in the package (beside __init__ and __main__); every other room
    is a package of its own."""
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
    ground = [m for m, (floor, _) in floors().items() if floor == 0]
    assert loose == sorted(ground) and len(loose) <= 8, loose


def test_the_registry_lists_every_module_that_registers_a_method():
    """Methods are registered by an explicit list (no import back up): a module with a
    @register that the list forgets would register nothing."""
    from crnnaudit.explainers.base import METHOD_MODULES
    registering = sorted(module_name(p) for p in (PACKAGE / "explainers").glob("*.py")
                         if "@register(" in p.read_text(encoding="utf-8"))
    assert registering == sorted(METHOD_MODULES)

def test_the_floor_checker_sees_an_upward_import(tmp_path, monkeypatch):
    table = floors()
    assert place("crnnaudit.dataset.runner", table) == (7, "dataset")
    assert place("crnnaudit.lab.recipe", table)[0] > place("crnnaudit.dataset.runner", table)[0]
    probe = tmp_path / "crnnaudit" / "dataset"
    probe.mkdir(parents=True)
    (probe / "x.py").write_text("from ..lab.evaluation import read_clip\nfrom crnnaudit import explain\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    got = imports(probe / "x.py", {"crnnaudit.lab.evaluation", "crnnaudit.explainers"})
    assert got == {"crnnaudit.lab.evaluation", "crnnaudit.explainers"}  # explain: the explainers package
    assert place("crnnaudit.lab.evaluation", table)[0] > 7, "so the floor test would name this import"


@pytest.mark.parametrize("code", [
    "import crnnaudit.evidence.log, crnnaudit.evidence.anchor, crnnaudit.evidence.chain, crnnaudit.evidence.store, "
    "crnnaudit.evidence.signing, crnnaudit.evidence.accounts, crnnaudit.evidence.retention",
    "from crnnaudit import verify_report",
    "from crnnaudit.cli import build_parser; build_parser()",
    "from crnnaudit.explainers import ExplanationCache",
], ids=["evidence", "report-verification", "cli-parser", "explanation-cache"])
def test_no_tensorflow_where_none_is_needed(code):
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(sorted(m for m in ('tensorflow', 'keras', "
                          "'streamlit') if m in sys.modules))"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def _door_imports(path: Path) -> list[str]:
    """Each crnnaudit name or module ``path`` imports, as written (relative imports resolved)."""
    me = module_name(path) if path.is_relative_to(PACKAGE) else path.stem
    package = me if path.name == "__init__.py" else (me.rsplit(".", 1)[0] if "." in me else "")
    out = []
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - n.level + 1] if n.level else []
            target = ".".join(base + [n.module]) if n.module else ".".join(base)
            if target == "crnnaudit":
                out += [f"crnnaudit:{a.name}" for a in n.names]
            elif target.startswith("crnnaudit."):
                out.append(target)
        elif isinstance(n, ast.Import):
            out += [a.name for a in n.names if a.name.startswith("crnnaudit")]
    return out


def test_the_doors_use_only_the_public_api_and_the_review_service():
    """The pages (and app.py, serve.py) and the command line import nothing of the package but
    the public API, the review service, the ground floor (words, settings, errors) and their own
    room: ``crnnaudit.ui`` for the pages, ``crnnaudit.cli`` for the command."""
    api, ground = set(_api_exports()), {m for m, (floor, _) in floors().items() if floor == 0}
    doors = {path: "ui" for path in [ROOT / "app.py", ROOT / "serve.py", *(ROOT / "views").glob("*.py")]}
    doors.update({path: "cli" for path in (PACKAGE / "cli").glob("*.py")})
    bad = []
    for path, room in doors.items():
        for name in _door_imports(path):
            if name.startswith("crnnaudit:"):
                ok = name.split(":")[1] in api | ground
            else:
                top = name.split(".")[1]
                ok = top in ground | {"review", room}
            if not ok:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert len(doors) > 15, "the walk found the doors"
    assert not bad, bad
