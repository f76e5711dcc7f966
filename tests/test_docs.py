"""The README and the documentation site say only what works: every command they show parses
(``crnnaudit``'s own parser, the Makefile's targets, the scripts named), the README stays short
and its first lines are the two set-up commands, and the site builds with warnings as errors."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]


def _shell_lines(text: str):
    """Each line of a ```bash block (comments cut off), and each `crnnaudit ...` in the prose."""
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).strip()
            if line and not line.startswith("#"):
                yield line, "block"
    for code in re.findall(r"`(crnnaudit [^`]+)`", text):
        yield code, "prose"


def _commands():
    for path in DOCS:
        for line, where in _shell_lines(path.read_text(encoding="utf-8")):
            yield pytest.param(line, where, id=f"{path.name}: {line[:60]}")


def _usage_forms(words: list[str]) -> list[list[str]]:
    """A usage line's concrete forms: ``[--opt X]`` both left out and given, ``a|b`` as ``a``."""
    text = " ".join(words)
    bare = re.sub(r"\[[^\]]*\]", "", text)
    full = text.replace("[", "").replace("]", "")
    return [[w.split("|")[0] for w in shlex.split(t)] for t in dict.fromkeys((bare, full))]


def _make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(encoding="utf-8"), flags=re.M))


@pytest.mark.parametrize("line, where", list(_commands()))
def test_every_command_in_the_docs_works_as_written(line, where):
    from crnnaudit.cli import build_parser
    words = shlex.split(line)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value before the command
        words.pop(0)
    assert words, line
    if words[0] == "crnnaudit":
        forms = _usage_forms(words[1:]) if where == "prose" else [words[1:]]
        for form in forms:
            if where == "prose" and all(re.fullmatch(r"[a-z][a-z-]*", w) for w in form):
                form = form + ["--help"]  # the prose names a command: it must exist
            try:
                build_parser().parse_args(form)
            except SystemExit as e:  # --help exits 0; a usage mistake exits 2
                assert e.code == 0, f"{line!r} does not parse as {form}"
    elif words[0] == "make":
        targets = [w for w in words[1:] if "=" not in w]
        assert set(targets) <= _make_targets(), f"{line}: no such Makefile target"
    elif words[0] in ("python", "python3"):
        assert (ROOT / words[1]).is_file(), f"{line}: no script {words[1]}"
    else:
        pytest.fail(f"{line!r}: a command the docs test does not know how to check")


def test_the_commands_were_found():
    found = list(_commands())
    assert len(found) > 30 and any("report write" in p.values[0] for p in found)


def test_the_readme_is_short_and_opens_with_the_two_commands():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 300, len(lines)
    assert lines[2] == "```bash" and lines[3].startswith("make app ") and lines[4].startswith("make test ")
    assert {"app", "test", "test-all", "docs"} <= _make_targets()


def test_the_documentation_site_builds_with_warnings_as_errors(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "site" / "user-guide" / "index.html").is_file()
    assert "floor" in (tmp_path / "site" / "architecture" / "index.html").read_text(encoding="utf-8")
