"""The log's chain apart from its storage: rows as plain dicts verify or fail by the chain's
rules alone; a store is accepted only when crnnaudit knows how to take its write lock."""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from crnnaudit.errors import AuditLogError
from crnnaudit.evidence import store
from crnnaudit.evidence.chain import GENESIS, against_checkpoint, new_row, row_hash, walk
from crnnaudit.evidence.keys import SigningKey
from crnnaudit.evidence.log import AuditLog

KEY = SigningKey(Ed25519PrivateKey.generate())
OTHER = SigningKey(Ed25519PrivateKey.generate())


def _rows(n=4, key=KEY, head=None, kind="review"):
    rows = []
    for i in range(n):
        row = new_row(head, kind, {"i": i}, key)
        rows.append(row)
        head = row
    return rows


def test_the_chain_needs_no_database_and_no_secret():
    rows = _rows()
    assert rows[0]["prev_hash"] == GENESIS and [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert walk(rows).ok and walk(rows).message.startswith("4 rows, chain intact, signed by key ")
    altered = [dict(r) for r in rows]
    altered[2]["payload"] = '{"i":99}'
    assert walk(altered).first_bad_seq == 3 and "row 3 was altered" in walk(altered).message
    rehashed = [dict(r) for r in altered]  # re-hashed as anyone can: the signature still gives it away
    rehashed[2]["row_hash"] = row_hash(3, rehashed[2]["ts"], "review", rehashed[2]["payload"], rehashed[2]["prev_hash"])
    assert "row 3 was altered or forged (its signature does not match" in walk(rehashed).message
    cp = {"seq": 4, "head_hash": rows[-1]["row_hash"], "ts": rows[-1]["ts"]}
    assert against_checkpoint(rows, cp).ok
    assert "rows 4..4 are missing" in against_checkpoint(rows[:3], cp).message


def test_a_key_change_needs_an_announcement_signed_by_the_old_key():
    rows = _rows(2)
    swapped = rows + _rows(1, key=OTHER, head=rows[-1])
    assert "row 3 is signed by key" in walk(swapped).message and "a key swap" in walk(swapped).message
    announce = new_row(rows[-1], "key", {"action": "key rotated", "public_key": OTHER.public_b64}, KEY)
    rotated = rows + [announce] + _rows(2, key=OTHER, head=announce)
    assert walk(rotated).ok and walk(rotated).signers == [KEY.fingerprint, OTHER.fingerprint]
    pinned = {KEY.fingerprint}
    assert walk(rotated, pinned).ok, "a key announced by a pinned key is trusted"
    assert "not among CRNNAUDIT_TRUSTED_KEYS" in walk(_rows(2, key=OTHER), pinned).message


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


def test_every_kind_of_row_reads_as_a_sentence(tmp_path):
    from crnnaudit.evidence.chain import in_words
    log = AuditLog(tmp_path / "a.sqlite")
    rows = [log.append({"reviewer": "Ana", "decision": "confirm", "clip": "door.mp4", "window": 4,
                        "model_decision": "anomaly", "anomaly_score": 0.9123}),
            log.append({"second_reviewer": "Pat", "reviewer": "Ana", "decision": "confirm", "clip": "door.mp4",
                        "second_signed_at": "2026-11-28T10:00"}, kind="countersign"),
            log.append({"action": "role changed", "username": "Ana", "role": "approver", "by": "root"}, kind="account"),
            log.append({"action": "sign-in locked", "key": "account:Ana", "failures": 10, "client": "app:10.0.0.9"},
                       kind="account"),
            log.append({"clip_sha256": "ab" * 32, "reason": "request", "uploads_removed": 1,
                        "explanations_removed": 3}, kind="erasure")]
    assert [in_words(r) for r in rows] == [
        "Ana decided confirm on door.mp4 (window 4; the model said anomaly, score 0.912)",
        "Pat countersigned Ana's decision (confirm) on door.mp4 at 2026-11-28T10:00",
        "root changed Ana's role to approver",
        "sign-in locked for account:Ana after 10 failures (from app:10.0.0.9)",
        "erased clip abababababab… (request): 1 upload(s), 3 cached explanation(s)"]
    assert in_words(dict(rows[0], payload="{not json")) == "an unreadable row (edited by hand)"
