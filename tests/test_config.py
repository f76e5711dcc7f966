"""Settings in one place: only config.py reads the environment, and the README lists every
setting with its default."""

import re
from pathlib import Path

import pytest

from crnnaudit import config
from crnnaudit.errors import CrnnauditError

ROOT = Path(__file__).resolve().parents[1]


def test_only_config_reads_the_environment():
    readers = []
    for path in [ROOT / "app.py", *(ROOT / "views").glob("*.py"), *(ROOT / "crnnaudit").rglob("*.py")]:
        if path == ROOT / "crnnaudit" / "config.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "os.environ" in text or "getenv(" in text:
            readers.append(str(path.relative_to(ROOT)))
    assert not readers, readers


def test_the_readme_lists_every_setting_with_its_default():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `((?:CRNNAUDIT|MLFLOW)_\w+)` \|.*$", readme, flags=re.M)}
    assert set(rows) == {s.name for s in config.SETTINGS}
    for s in config.SETTINGS:
        assert rows[s.name].rstrip().endswith(f"| {s.shown_default} |"), (s.name, rows[s.name])
    mentioned = set(re.findall(r"CRNNAUDIT_[A-Z_]+", "".join(p.read_text(encoding="utf-8")
                                                             for p in (ROOT / "crnnaudit").rglob("*.py"))))
    assert mentioned <= {s.name for s in config.SETTINGS}, mentioned - {s.name for s in config.SETTINGS}


def test_a_setting_is_read_when_used(monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_RETENTION_DAYS", "7.5")
    assert config.number("CRNNAUDIT_RETENTION_DAYS") == 7.5
    monkeypatch.setenv("CRNNAUDIT_RETENTION_DAYS", "")
    assert config.number("CRNNAUDIT_RETENTION_DAYS") == 30.0  # empty: the default
    monkeypatch.setenv("CRNNAUDIT_MODELS_DIR", "/a::/b")
    assert config.folders("CRNNAUDIT_MODELS_DIR") == [Path("/a"), Path("/b")]


@pytest.mark.parametrize("value", ["nan", "thirty", "1e999", "-inf"])
def test_a_number_that_is_not_one_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("CRNNAUDIT_MODEL_TIMEOUT_S", value)
    with pytest.raises(CrnnauditError, match=f"CRNNAUDIT_MODEL_TIMEOUT_S must be a number, got '{re.escape(value)}'"):
        config.number("CRNNAUDIT_MODEL_TIMEOUT_S")


def test_a_setting_missing_from_the_table_is_a_programming_error():
    with pytest.raises(KeyError):
        config.setting("CRNNAUDIT_NOT_A_SETTING")
