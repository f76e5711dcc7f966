import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from crnnaudit.evidence.log import AuditLog, row_hash
from crnnaudit.cli.main import main

ROOT = Path(__file__).resolve().parents[1]


def _log(tmp_path, n=5):
    log = AuditLog(tmp_path / "audit.sqlite")
    for i in range(n):
        log.append({"review": i, "decision": "confirm"})
    return log


def _sql(tmp_path, statement, *args):
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        db.execute(statement, args)


def test_chain_intact_and_exported(tmp_path):
    log = _log(tmp_path)
    res = log.verify()
    assert res.ok and res.rows == 5
    rows = json.loads(log.export("json"))
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5] and rows[2]["payload"]["review"] == 2
    assert rows[1]["prev_hash"] == rows[0]["row_hash"]
    csv = log.export("csv").splitlines()
    assert csv[0].startswith("seq,ts,kind,payload") and len(csv) == 6


def test_altered_row_is_named(tmp_path):
    log = _log(tmp_path)
    _sql(tmp_path, "UPDATE audit_log SET payload = ? WHERE seq = 3", json.dumps({"review": 2, "decision": "override"}))
    res = log.verify()
    assert not res.ok and res.first_bad_seq == 3 and "row 3 was altered" in res.message


def test_altered_and_rehashed_row_breaks_the_next_link(tmp_path):
    log = _log(tmp_path)
    r = log.rows()[2]
    payload = json.dumps({"review": 2, "decision": "override"})
    new_hash = row_hash(3, r["ts"], r["kind"], payload, r["prev_hash"])
    _sql(tmp_path, "UPDATE audit_log SET payload = ?, row_hash = ? WHERE seq = 3", payload, new_hash)
    res = log.verify()
    assert not res.ok and res.first_bad_seq == 3


def test_deleted_row_is_named(tmp_path):
    log = _log(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_log WHERE seq = 2")
    res = log.verify()
    assert not res.ok and res.first_bad_seq == 2 and "deleted" in res.message
    _sql(tmp_path, "DELETE FROM audit_log WHERE seq = 1")
    assert "no retention purge" in log.verify().message


def test_inserted_row_is_named(tmp_path):
    log = _log(tmp_path)
    rows = log.rows()
    # renumber rows 3.. up by one and slip a forged row in at 3, hashed correctly
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        for r in reversed(rows[2:]):
            db.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (r["seq"] + 1, r["seq"]))
    forged = {"seq": 3, "ts": rows[1]["ts"], "kind": "review", "payload": json.dumps({"forged": 1}),
              "prev_hash": rows[1]["row_hash"]}
    forged["row_hash"] = row_hash(forged["seq"], forged["ts"], forged["kind"], forged["payload"], forged["prev_hash"])
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:
        db.execute("INSERT INTO audit_log (seq, ts, kind, payload, prev_hash, row_hash) "
                       "VALUES (:seq, :ts, :kind, :payload, :prev_hash, :row_hash)", forged)
    # the renumbered rows now fail their own hashes; the first failure named is row 4 (old 3)
    res = log.verify()
    assert not res.ok and res.first_bad_seq in (3, 4)


def test_inserted_row_without_renumbering(tmp_path):
    log = AuditLog(tmp_path / "audit.sqlite")
    log.append({"a": 1}, now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    rows = log.rows()
    # a forger who cannot rewrite later rows appends a row claiming to sit after row 1 ...
    log.append({"b": 2})
    log.append({"c": 3})
    r2 = log.rows()[1]
    with sqlite3.connect(tmp_path / "audit.sqlite") as db:  # ... row 2 replaced by a forged row
        payload = json.dumps({"forged": True})
        db.execute("UPDATE audit_log SET payload=?, row_hash=? WHERE seq=2",
                   (payload, row_hash(2, r2["ts"], "review", payload, rows[0]["row_hash"])))
    res = log.verify()
    assert not res.ok and res.first_bad_seq == 2


def test_retention_is_a_recorded_chained_operation(tmp_path):
    log = AuditLog(tmp_path / "audit.sqlite")
    old = datetime.now(timezone.utc) - timedelta(days=400)
    for i in range(3):
        log.append({"old": i}, now=old)
    for i in range(2):
        log.append({"new": i})
    row = log.apply_retention(365)
    assert row["kind"] == "retention" and json.loads(row["payload"])["count"] == 3
    rows = log.rows()
    assert [r["seq"] for r in rows] == [4, 5, 6]
    assert log.verify().ok
    assert log.apply_retention(365) is None  # nothing more expired
    # deleting past the recorded purge is still caught
    _sql(tmp_path, "DELETE FROM audit_log WHERE seq = 4")
    assert not log.verify().ok


WRITER = """
import sys
sys.path.insert(0, {root!r})
from crnnaudit.evidence.log import AuditLog
log = AuditLog({db!r})
print("ready", flush=True)
for i in range({n}):
    log.append({{"writer": {name!r}, "i": i, "pad": "x" * 2000}})
print("done", flush=True)
"""


def _writer(tmp_path, name, n):
    code = WRITER.format(root=str(ROOT), db=str(tmp_path / "audit.sqlite"), n=n, name=name)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


def test_two_writers_both_land_in_order(tmp_path):
    AuditLog(tmp_path / "audit.sqlite")  # create the table first
    a, b = _writer(tmp_path, "a", 30), _writer(tmp_path, "b", 30)
    assert a.wait(120) == 0 and b.wait(120) == 0
    log = AuditLog(tmp_path / "audit.sqlite")
    rows = log.rows()
    assert [r["seq"] for r in rows] == list(range(1, 61))
    writers = [json.loads(r["payload"])["writer"] for r in rows]
    assert writers.count("a") == writers.count("b") == 30
    for w in "ab":  # each writer's rows are in its own order
        seen = [json.loads(r["payload"])["i"] for r in rows if json.loads(r["payload"])["writer"] == w]
        assert seen == list(range(30))
    assert log.verify().ok


def test_killed_writer_leaves_a_valid_log(tmp_path):
    AuditLog(tmp_path / "audit.sqlite")
    for delay in (0.8, 1.3, 1.9):
        p = _writer(tmp_path, "k", 100000)
        assert p.stdout.readline().strip() == "ready"
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        log = AuditLog(tmp_path / "audit.sqlite")
        res = log.verify()
        assert res.ok, res.message
    assert log.rows(), "the writer should have landed some rows before it was killed"
    log.append({"after": "kill"})
    assert log.verify().ok


def test_cli_audit(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path))
    log = _log(tmp_path)  # tmp_path/audit.sqlite is the default log under CRNNAUDIT_HOME
    assert main(["audit", "verify", "--accept-unanchored"]) == 0 and "chain intact" in capsys.readouterr().out
    assert main(["audit", "export", "--format", "csv", "--out", str(tmp_path / "log.csv")]) == 0
    assert (tmp_path / "log.csv").read_text().count("\n") == 6
    _sql(tmp_path, "DELETE FROM audit_log WHERE seq = 4")
    assert main(["audit", "verify"]) == 1 and "deleted" in capsys.readouterr().out
    assert log.verify().first_bad_seq == 4


def test_bad_url():
    from crnnaudit import AuditLogError
    with pytest.raises(AuditLogError, match="not usable"):
        AuditLog("nosuchdialect://x")


def test_an_unanchored_log_is_said_to_be_one(tmp_path, capsys, monkeypatch):
    """Intact but with nothing outside the data folder (no witness, no pinned key): exit 3 and one
    line saying a rewind or a re-keying cannot be ruled out; a pinned key or a witness anchors it."""
    from crnnaudit.evidence.keys import UNANCHORED, UNANCHORED_EXIT, load_signing_key
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path))
    monkeypatch.delenv("CRNNAUDIT_WITNESS", raising=False)
    monkeypatch.delenv("CRNNAUDIT_TRUSTED_KEYS", raising=False)
    _log(tmp_path)
    assert main(["audit", "verify"]) == UNANCHORED_EXIT == 3
    out = capsys.readouterr().out
    assert "chain intact" in out and out.strip().splitlines()[-1] == UNANCHORED
    assert main(["audit", "verify", "--accept-unanchored"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", load_signing_key().fingerprint)
    assert main(["audit", "verify"]) == 0 and UNANCHORED not in capsys.readouterr().out
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", "0" * 64)  # pinned, but not this key: broken, not unanchored
    assert main(["audit", "verify"]) == 1


def test_compliance_reads_only_a_verified_log(tmp_path, capsys, monkeypatch):
    """A log that does not verify answers no clause, and the command says why and fails."""
    from crnnaudit.report.compliance import NOT_ANSWERED, assess
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path))
    monkeypatch.delenv("CRNNAUDIT_WITNESS", raising=False)
    monkeypatch.delenv("CRNNAUDIT_TRUSTED_KEYS", raising=False)
    log = _log(tmp_path)
    by = {c["clause"]: c for c in assess(log.rows(), log.verify())}
    assert by["AI Act Art. 12(1)"]["status"] == NOT_ANSWERED and "unanchored" in by["AI Act Art. 12(1)"]["why"]
    assert main(["compliance"]) == 0
    capsys.readouterr()
    _sql(tmp_path, "DELETE FROM audit_log WHERE seq = 3")
    broken = log.verify()
    assert not broken.ok
    assert {c["status"] for c in assess(log.rows(), broken)} == {NOT_ANSWERED}
    assert main(["compliance"]) == 1 and "does not verify" in capsys.readouterr().out
    assert main(["compliance", "--json"]) == 1
    assert {c["status"] for c in json.loads(capsys.readouterr().out)} == {NOT_ANSWERED}
