"""The log's chain apart from its storage: rows as plain dicts verify or fail by the chain's
rules alone; a store is accepted only when crnnaudit knows how to take its write lock."""

import pytest

from crnnaudit.errors import AuditLogError
from crnnaudit.evidence import store
from crnnaudit.evidence.chain import GENESIS, against_checkpoint, new_row, walk
from crnnaudit.evidence.log import AuditLog

KEY = b"a test key of at least sixteen characters"


def _rows(n=4):
    rows, head = [], None
    for i in range(n):
        row = new_row(head, "review", {"i": i}, KEY)
        rows.append(row)
        head = row
    return rows


def test_the_chain_needs_no_database():
    rows = _rows()
    assert rows[0]["prev_hash"] == GENESIS and [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert walk(rows, KEY).ok and walk(rows, KEY).message == "4 rows, chain intact"
    altered = [dict(r) for r in rows]
    altered[2]["payload"] = '{"i":99}'
    assert walk(altered, KEY).first_bad_seq == 3 and "row 3 was altered" in walk(altered, KEY).message
    assert not walk(rows, b"another key of sixteen characters").ok, "without the key nothing verifies"
    cp = {"seq": 4, "head_hash": rows[-1]["row_hash"], "ts": rows[-1]["ts"]}
    assert against_checkpoint(rows, cp).ok
    assert "rows 4..4 are missing" in against_checkpoint(rows[:3], cp).message


def test_a_store_whose_lock_is_unknown_is_refused(tmp_path, monkeypatch):
    monkeypatch.delitem(store.LOCKS, "sqlite")  # as if SQLite's lock were not known
    with pytest.raises(AuditLogError, match="cannot take a sqlite database's write lock.*could fork the chain"):
        AuditLog(tmp_path / "a.sqlite")


def test_a_database_without_its_driver_is_a_message(tmp_path):
    with pytest.raises(AuditLogError, match="is not usable"):
        AuditLog("mysql+pymysql://auditor:secret@db.example.org/audit")


def test_the_log_keeps_its_rows_in_the_store(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    log.append({"decision": "confirm"})
    assert log.store.rows() == log.rows() and log.head() == {"seq": 1, "row_hash": log.rows()[0]["row_hash"]}
