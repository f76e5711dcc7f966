"""The evidence chain: every tampering case found in review is detected, with a message that
names what happened, and a hand-edited database never gives a traceback."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from crnnaudit.evidence.anchor import canonical, checkpoint_path
from crnnaudit.errors import AuditLogError, SigningKeyError
from crnnaudit.evidence.log import AuditLog
from crnnaudit.cli.main import main


def _log(url: str, n=6) -> tuple[AuditLog, str]:
    log = AuditLog(url)
    for i in range(n):
        log.append({"report_id": f"r{i}", "decision": "confirm", "reviewer": f"auditor {i}",
                    "files_sha256": {"json": f"{i:064x}"}})
    return log, url


def _sql(url: str, statement: str, **params):
    """Edit the database by hand, behind crnnaudit's back (SQLite or PostgreSQL alike)."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            return conn.execute(sa.text(statement), params).fetchall() if statement.startswith("SELECT") \
                else conn.execute(sa.text(statement), params)
    finally:
        engine.dispose()


def _attacker_hash(seq, ts, kind, payload, prev):
    """What someone who can edit the database but lacks the private key can compute: the hash,
    not the signature."""
    return hashlib.sha256(canonical([seq, ts, kind, payload, prev]).encode()).hexdigest()


def _rehash_from(url, first_seq):
    """Recompute every hash from ``first_seq`` on, as an attacker would."""
    prev = None
    for seq, ts, kind, payload, prev_hash, h in _sql(
            url, "SELECT seq, ts, kind, payload, prev_hash, row_hash FROM audit_log ORDER BY seq"):
        if seq >= first_seq:
            prev_hash = prev if prev is not None else prev_hash
            h = _attacker_hash(seq, ts, kind, payload, prev_hash)
            _sql(url, "UPDATE audit_log SET prev_hash = :p, row_hash = :h WHERE seq = :s", p=prev_hash, h=h, s=seq)
        prev = h


def _delete_last(url, n):
    _sql(url, "DELETE FROM audit_log WHERE seq > (SELECT MAX(seq) FROM audit_log) - :n", n=n)


def _forged_retention(url):
    """Delete rows 1-3 and append a retention row that claims to have removed them."""
    anchor = _sql(url, "SELECT row_hash FROM audit_log WHERE seq = 3")[0][0]
    _sql(url, "DELETE FROM audit_log WHERE seq <= 3")
    head_seq, head = _sql(url, "SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    payload = canonical({"removed_from": 1, "removed_through": 3, "count": 3, "anchor_hash": anchor,
                         "retention_days": 1, "cutoff": "2026-01-01"})
    ts = "2026-11-27T00:00:00+00:00"
    _sql(url, "INSERT INTO audit_log (seq, ts, kind, payload, prev_hash, row_hash) VALUES (:s, :t, 'retention', :p, :v, :h)",
         s=head_seq + 1, t=ts, p=payload, v=head, h=_attacker_hash(head_seq + 1, ts, "retention", payload, head))


def _rewrite_whole_chain_with_own_key(url):
    _sql(url, "UPDATE audit_log SET payload = replace(payload, 'confirm', 'override')")
    _rehash_from(url, 1)


def _drop_the_log(url):
    """The SQLite file deleted, or the PostgreSQL table dropped: crnnaudit makes an empty one."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).unlink()
    else:
        _sql(url, "DROP TABLE audit_log")


TAMPERING = {
    "delete the last row": (lambda db: _delete_last(db, 1), "deleted from the end"),
    "delete the last three rows": (lambda db: _delete_last(db, 3), "rows 4..6 are missing"),
    "delete every row": (lambda db: _sql(db, "DELETE FROM audit_log"), "every row was deleted"),
    "delete the database file (drop the table)": (_drop_the_log, "every row was deleted"),
    "edit a row and re-hash every later row": (
        lambda db: (_sql(db, "UPDATE audit_log SET payload = replace(payload, 'confirm', 'override') WHERE seq = 2"),
                    _rehash_from(db, 2)), "row 2 was altered or forged"),
    "edit a row, no re-hash": (lambda db: _sql(db, "UPDATE audit_log SET payload = replace(payload, 'auditor 3', "
                                                   "'someone else') WHERE seq = 4"), "row 4 was altered"),
    "delete rows 1-3 and forge a retention row": (_forged_retention, "row 7 was altered or forged"),
    "relabel a row as retention": (lambda db: _sql(db, "UPDATE audit_log SET kind='retention' WHERE seq = 2"),
                                   "row 2 was altered"),
    "an invalid payload": (lambda db: _sql(db, "UPDATE audit_log SET payload='{not json' WHERE seq = 5"),
                           "row 5 was altered"),
    "a payload that is a list": (lambda db: _sql(db, "UPDATE audit_log SET payload='[1,2]' WHERE seq = 1"),
                                 "row 1 was altered"),
    "rewrite the whole chain without the key": (_rewrite_whole_chain_with_own_key, "row 1 was altered or forged"),
    "delete a row in the middle": (lambda db: _sql(db, "DELETE FROM audit_log WHERE seq = 3"), "rows 3..3 were deleted"),
    "a NULL hash": (lambda db: _sql(db, "UPDATE audit_log SET row_hash='' WHERE seq = 6"), "row 6 was altered"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_is_detected_and_named(case, log_url, tmp_path, capsys):
    log, db = _log(log_url)
    assert log.verify().ok
    tamper, says = TAMPERING[case]
    tamper(db)
    result = AuditLog(db).verify()
    assert not result.ok and says in result.message, result.message
    assert main(["audit", "verify", "--db", str(db)]) == 1  # the command says it too, in one line
    assert says in capsys.readouterr().out
    assert main(["audit", "export", "--db", str(db), "--out", str(tmp_path / "x.json")]) == 0  # never a traceback


def test_a_rollback_to_an_older_copy_is_detected(tmp_path):
    db = tmp_path / "audit.sqlite"
    log, _ = _log(f"sqlite:///{db}", n=4)
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(db) as src, sqlite3.connect(backup) as dst:
        src.backup(dst)  # a backup taken now (SQLite's online backup)
    log.append({"report_id": "later", "decision": "override"})
    log.engine.dispose()
    with sqlite3.connect(backup) as src, sqlite3.connect(db) as dst:
        src.backup(dst)  # ...restored later: the last review is gone
    result = AuditLog(db).verify()
    assert not result.ok and "rows 5..5 are missing" in result.message


def test_the_checkpoint_cannot_be_deleted_or_forged(log_url):
    log, db = _log(log_url)
    cp = checkpoint_path(log.url)
    doc = json.loads(cp.read_text())
    doc["checkpoint"]["seq"] = 3
    cp.write_text(json.dumps(doc))
    assert "does not match its signature: it was forged or altered" in AuditLog(db).verify().message
    cp.unlink()
    assert "checkpoint is missing" in AuditLog(db).verify().message


def test_an_intact_log_matches_its_checkpoint_also_after_retention(log_url):
    from datetime import datetime, timedelta, timezone
    log, db = _log(log_url)
    result = log.verify()
    assert result.ok and "head matches its checkpoint (row 6)" in result.message
    row = log.apply_retention(1, now=datetime.now(timezone.utc) + timedelta(days=2), force=True, reason="a test")
    assert row["kind"] == "retention"
    result = AuditLog(db).verify()
    assert result.ok and result.rows == 1 and "(row 7)" in result.message


def test_a_writer_killed_between_commit_and_checkpoint_leaves_a_valid_log(log_url, monkeypatch):
    import crnnaudit.evidence.log as audit
    log, db = _log(log_url, n=3)
    monkeypatch.setattr(audit, "write_checkpoint", lambda *a, **k: None)  # the process died there
    log.append({"report_id": "last"})
    assert AuditLog(db).verify().ok  # the log is ahead of its checkpoint: nothing was removed


def test_the_key_lives_outside_the_database_and_verifying_needs_none(log_url, monkeypatch, capsys):
    log, db = _log(log_url, n=2)
    key = Path(os.environ["CRNNAUDIT_SIGNING_KEY_FILE"])
    assert oct(key.stat().st_mode & 0o777) == "0o600" and not key.is_relative_to(os.environ["CRNNAUDIT_HOME"])
    secret = key.read_text()
    assert not any(line in str(v) for r in log.rows() for v in r.values()
                   for line in secret.splitlines()[1:-1]), "no private key material in the database"
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(key.parent / "deleted.pem"))  # the key file is gone
    assert AuditLog(db).verify().ok, "checking needs no secret"
    with pytest.raises(SigningKeyError, match="no signing key.*keys init.*restored from its backup"):
        AuditLog(db).append({"report_id": "after the key went"})
    assert not (key.parent / "deleted.pem").exists(), "a missing key is never made silently"
    assert main(["audit", "verify", "--db", str(db), "--accept-unanchored"]) == 0


# -- someone with write access to the data folder ------------------------------------------


def _other_key(tmp_path):
    from crnnaudit.evidence.keys import init_key
    path = tmp_path / "attacker.pem"
    return path, init_key(path)


def _resign_everything(url, tmp_path, monkeypatch):
    """A key swap: a new key, every row re-signed (a decision changed on the way), a fresh
    checkpoint in the data folder: everything someone with write access there can do."""
    from crnnaudit.evidence.anchor import make_checkpoint, write_checkpoint
    from crnnaudit.evidence.chain import pack_signature
    path, key = _other_key(tmp_path)
    _sql(url, "UPDATE audit_log SET payload = replace(payload, 'confirm', 'escalate')")
    _rehash_from(url, 1)
    for seq, h in _sql(url, "SELECT seq, row_hash FROM audit_log ORDER BY seq"):
        _sql(url, "UPDATE audit_log SET signature = :s WHERE seq = :q", s=pack_signature(key.sign(h.encode())), q=seq)
    seq, ts, h = _sql(url, "SELECT seq, ts, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1")[0]
    checkpoint_path(url).unlink()
    write_checkpoint(url, make_checkpoint(url, key, seq, h, ts))
    return key


def test_a_key_swap_passes_the_data_folder_but_not_a_pinned_key_or_the_witness(log_url, tmp_path, monkeypatch):
    from crnnaudit.evidence.keys import load_signing_key
    genuine = load_signing_key().fingerprint
    monkeypatch.setenv("CRNNAUDIT_WITNESS", str(tmp_path / "witness"))
    log, db = _log(log_url)
    _resign_everything(db, tmp_path, monkeypatch)
    monkeypatch.delenv("CRNNAUDIT_WITNESS")
    alone = AuditLog(db).verify()
    assert alone.ok and "not pinned" in alone.message, "without anything outside the data folder, nothing can tell"
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", genuine)
    pinned = AuditLog(db).verify()
    assert not pinned.ok and "not among CRNNAUDIT_TRUSTED_KEYS" in pinned.message, pinned.message
    monkeypatch.delenv("CRNNAUDIT_TRUSTED_KEYS")
    monkeypatch.setenv("CRNNAUDIT_WITNESS", str(tmp_path / "witness"))
    witnessed = AuditLog(db).verify()
    assert not witnessed.ok and "a key swap" in witnessed.message and "witness" in witnessed.message, witnessed.message


def test_a_rollback_with_an_older_checkpoint_put_back_is_named_by_the_witness(log_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRNNAUDIT_WITNESS", str(tmp_path / "witness"))
    log, db = _log(log_url, n=3)
    old_checkpoint = checkpoint_path(log.url).read_bytes()
    for i in range(3):
        log.append({"report_id": f"later {i}", "decision": "override"})
    _delete_last(db, 3)
    checkpoint_path(log.url).write_bytes(old_checkpoint)  # genuine, signed, and three rows old
    result = AuditLog(db).verify()
    assert not result.ok and "rows 4..6 are missing" in result.message and "witness" in result.message, result.message
    assert main(["audit", "verify", "--db", str(db)]) == 1
    monkeypatch.delenv("CRNNAUDIT_WITNESS")
    blind = AuditLog(db).verify()
    assert blind.ok and "no witness" in blind.message, "without a witness the rollback passes, and verify says so"


def test_a_witness_in_a_separate_postgresql_database(postgres, tmp_path, monkeypatch):
    witness_url = postgres()  # a database of its own, apart from the log's
    monkeypatch.setenv("CRNNAUDIT_WITNESS", witness_url)
    log, db = _log(f"sqlite:///{tmp_path / 'audit.sqlite'}", n=4)
    assert "head matches its witness's checkpoint (row 4)" in log.verify().message
    seqs = [r[0] for r in _sql(witness_url, "SELECT seq FROM crnnaudit_witness ORDER BY seq")]
    assert seqs == [1, 2, 3, 4], "every checkpoint kept, none replaced"
    _delete_last(db, 2)
    assert "rows 3..4 are missing" in AuditLog(db).verify().message


@pytest.mark.parametrize("attack", ["a replayed file", "a deleted middle entry", "the latest entry removed",
                                    "renumbered"])
def test_a_folder_witness_only_moves_forward(attack, tmp_path, monkeypatch):
    """The rewind that passed: the log's tail deleted, the data folder's older checkpoint put back,
    and the witness's own genuine older checkpoint copied under a new, higher name (nothing
    replaced or deleted); or an entry taken out of the witness. Its chain names each gap."""
    import shutil
    witness = tmp_path / "witness"
    monkeypatch.setenv("CRNNAUDIT_WITNESS", str(witness))
    log, db = _log(f"sqlite:///{tmp_path / 'audit.sqlite'}", n=3)
    old_checkpoint = checkpoint_path(log.url).read_bytes()
    for i in range(3):
        log.append({"report_id": f"later {i}", "decision": "override"})
    assert AuditLog(db).verify().ok
    files = sorted(next(witness.iterdir()).glob("*.json"))
    assert [int(f.stem) for f in files] == [1, 2, 3, 4, 5, 6]
    says = "does not follow the witness's entry before it"
    if attack == "a replayed file":
        _delete_last(db, 3)
        checkpoint_path(log.url).write_bytes(old_checkpoint)
        shutil.copy(files[2], files[0].with_name(f"{10**9:012d}.json"))  # row 3's genuine checkpoint, renamed
        says = "holds the checkpoint of row 3: an entry renumbered"
    elif attack == "a deleted middle entry":
        files[3].unlink()
    elif attack == "the latest entry removed":
        files[5].unlink()
        says = "the witness's latest checkpoint (row 5) is older than the log (row 6)"
    else:
        files[5].rename(files[5].with_name(f"{7:012d}.json"))
        says = "holds the checkpoint of row 6: an entry renumbered"
    result = AuditLog(db).verify()
    assert not result.ok and says in result.message, result.message


def test_a_database_witness_with_insert_rights_only(postgres, tmp_path, monkeypatch):
    """The witness database grants crnnaudit INSERT and SELECT only: the log writes through it,
    an UPDATE or DELETE is refused by the database itself, and one INSERT of an old genuine
    checkpoint under sequence 1,000,000,000 (all those rights allow) fails verification."""
    import uuid
    admin_url = postgres()
    engine = sa.create_engine(admin_url)
    from crnnaudit.evidence.witness import _META
    _META.create_all(engine)
    role = f"w_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT SELECT, INSERT ON crnnaudit_witness TO {role}")
    engine.dispose()
    witness_url = admin_url.replace("postgresql+psycopg://postgres@", f"postgresql+psycopg://{role}@")
    monkeypatch.setenv("CRNNAUDIT_WITNESS", witness_url)
    log, db = _log(f"sqlite:///{tmp_path / 'audit.sqlite'}", n=4)
    assert log.verify().ok and "one chain" in log.verify().message
    with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
        _sql(witness_url, "DELETE FROM crnnaudit_witness WHERE seq = 4")
    old = _sql(witness_url, "SELECT log, previous, doc FROM crnnaudit_witness WHERE seq = 2")[0]
    _sql(witness_url, "INSERT INTO crnnaudit_witness (log, seq, previous, doc) VALUES (:l, 1000000000, :p, :d)",
         l=old[0], p="a" * 64, d=old[2])
    result = AuditLog(db).verify()
    assert not result.ok and "renumbered" in result.message, result.message


@pytest.mark.parametrize("where,says", [("inside", "lies inside the data folder"),
                                        ("same", "the audit log's own database"),
                                        ("same, spelled otherwise", "the audit log's own database"),
                                        ("a database file inside", "lies inside the data folder"),
                                        ("http", "an HTTP witness is not supported")])
def test_a_witness_that_is_none_is_refused(where, says, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    home = Path(os.environ["CRNNAUDIT_HOME"])
    value = {"inside": str(home / "w"), "same": url, "http": "https://w.example.org",
             "same, spelled otherwise": f"sqlite:///{tmp_path}/./audit.sqlite",
             "a database file inside": f"sqlite:///{home}/witness.sqlite"}
    monkeypatch.setenv("CRNNAUDIT_WITNESS", value[where])
    with pytest.raises(AuditLogError, match=says):
        AuditLog(url)


def test_a_rotated_key_is_announced_by_the_old_one(tmp_path, monkeypatch, capsys):
    import shutil
    from crnnaudit.evidence.keys import load_signing_key
    key = tmp_path / "signing.pem"
    shutil.copy(os.environ["CRNNAUDIT_SIGNING_KEY_FILE"], key)
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(key))
    old = load_signing_key().fingerprint
    monkeypatch.setenv("CRNNAUDIT_NEW_PASSWORD", "an admin password")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "an admin password")
    assert main(["user", "add", "root"]) == 0
    assert main(["keys", "rotate", "--as", "root"]) == 0
    new = load_signing_key().fingerprint
    assert new != old and f"signed by the old key {old}" in capsys.readouterr().out
    retired = list(tmp_path.glob(f"signing.retired-{old[:16]}*"))
    assert [p.suffix for p in retired] == [".pub"], "the old private key is removed, its public key kept"
    assert b"PRIVATE" not in retired[0].read_bytes() and b"PUBLIC KEY" in retired[0].read_bytes()
    AuditLog().append({"report_id": "after rotation"})
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", old)  # a verifier that knew only the old key
    result = AuditLog().verify()
    assert result.ok and result.signers == [old, new], result.message


@pytest.mark.parametrize("make", ["world-readable", "group-writable", "fifo", "folder", "huge"])
def test_a_key_file_kept_badly_is_refused_by_name(make, tmp_path, monkeypatch):
    """A private key others may read or write, a named pipe (which would hang a reader), a folder
    or a file too large to be a key: refused at once, with the file and the problem named."""
    import shutil
    import stat as st
    from crnnaudit.errors import SigningKeyError
    from crnnaudit.evidence.keys import load_signing_key
    key = tmp_path / "signing.pem"
    if make == "fifo":
        os.mkfifo(key)
    elif make == "folder":
        key.mkdir()
    elif make == "huge":
        key.write_bytes(b"-" * (1 << 20))
        key.chmod(0o600)
    else:
        shutil.copy(os.environ["CRNNAUDIT_SIGNING_KEY_FILE"], key)
        key.chmod(0o644 if make == "world-readable" else 0o620)
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(key))
    says = {"world-readable": "mode 644", "group-writable": "mode 620", "fifo": "not a regular file",
            "folder": "not a regular file|cannot be read", "huge": "not a signing key"}[make]
    with pytest.raises(SigningKeyError, match=says) as err:
        load_signing_key()
    assert str(key) in str(err.value)
    if make in ("world-readable", "group-writable"):
        key.chmod(st.S_IRUSR | st.S_IWUSR)
        assert load_signing_key().fingerprint  # the owner's alone: accepted


# -- reports ------------------------------------------------------------------------------


def _minimal_report(tmp_path, log, monkeypatch, body=None, folder="report"):
    """A real sealed report of the three kinds, written, signed and logged by write_report."""
    from crnnaudit.report import files
    monkeypatch.setattr(files, "render_pdf", lambda body: b"%PDF-1.4\n% body " + canonical(body).encode() + b"\n%%EOF")
    monkeypatch.setattr(files, "render_html", lambda body: "<html>" + canonical(body) + "</html>")
    body = body or dict(json.loads(_real_body()), report_id="R1")
    return files.write_report(body, tmp_path / folder, log=log)


@functools.lru_cache(maxsize=1)
def _real_body() -> str:
    """A real report body (a tiny CNN + GRU on a synthetic clip, no faithfulness or sanity
    figures), as JSON: what write_report seals, from build_report itself."""
    import tempfile
    import architectures as arch
    from crnnaudit import AuditedModel, ModelCard, explain, open_clip
    from crnnaudit.demo import synthesize
    from crnnaudit.report import build_report
    clip = open_clip(synthesize(Path(tempfile.mkdtemp()), count=1, seed=5, frames=16, labels=["fight"])[0])
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4),
                         ModelCard(classes=["normal", "fight", "fire", "shooting"], stride=8))
    window = clip.window(0, 8, 8, model.frame_size)
    es = explain(model, window, ["gradcam", "frame_occlusion"], cache=False)
    body = build_report(model, clip, window, es, decision="confirm", reviewer="A", faithfulness=False, sanity=False)
    return json.dumps(body)


def _edit(path: Path, signature: str = "drop", key=None, edit=lambda b: b.replace(b"confirm", b"override")):
    """Edit a report as someone without the installation key would: recompute its SHA-256, and
    drop its signature, keep the old one (stale), or sign with ``key`` (their own)."""
    from crnnaudit.evidence import signing
    if path.suffix == ".json":
        doc = json.loads(path.read_text())
        body = json.loads(edit(canonical(doc["report"]).encode()))
        payload = canonical(body).encode()
    else:
        data = path.read_bytes()
        mark = signing._HTML_MARK if path.suffix == ".html" else signing._PDF_MARK
        at = data.rfind(mark)
        old = json.loads(data[at + len(mark):].strip().removesuffix(b"-->").strip())
        payload = edit(data[:at])
    seal = {"sha256": hashlib.sha256(payload).hexdigest()}
    if signature == "stale":
        seal.update({k: (doc["integrity"] if path.suffix == ".json" else old)[k] for k in ("public_key", "signature")})
    elif signature == "own":
        seal.update(key.sign(payload))
    if path.suffix == ".json":
        path.write_text(json.dumps({"report": body, "integrity": seal}))
    else:
        tail = b" -->\n" if path.suffix == ".html" else b"\n"
        path.write_bytes(payload + mark + json.dumps(seal).encode() + tail)


@pytest.mark.parametrize("kind", ["html", "pdf", "json"])
def test_an_edited_report_fails_whatever_is_done_to_its_signature(kind, tmp_path, monkeypatch, capsys):
    from crnnaudit.evidence.keys import load_signing_key
    log, db = _log(f"sqlite:///{tmp_path / 'audit.sqlite'}", n=1)
    out = _minimal_report(tmp_path, log, monkeypatch)
    assert main(["report", "verify", str(out[kind]), "--accept-unanchored"]) == 0
    assert "signature is valid" in capsys.readouterr().out
    genuine = load_signing_key().fingerprint
    for how, says in (("drop", "has no signature"), ("stale", "signature does not match its content")):
        out = _minimal_report(tmp_path, log, monkeypatch, folder=how)
        _edit(out[kind], how)
        assert main(["report", "verify", str(out[kind])]) == 1
        assert says in capsys.readouterr().out
    _, attacker = _other_key(tmp_path)
    out = _minimal_report(tmp_path, log, monkeypatch, folder="own")
    _edit(out[kind], "own", attacker)
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", genuine)  # the organisation pinned its key
    assert main(["report", "verify", str(out[kind])]) == 1
    # JSON: the body still names the genuine key, so the swap shows before the pinning is asked
    assert ("names key" if kind == "json" else "NOT among CRNNAUDIT_TRUSTED_KEYS") in capsys.readouterr().out
    monkeypatch.delenv("CRNNAUDIT_TRUSTED_KEYS")
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", f"{genuine},{attacker.fingerprint}")  # even trusting both keys,
    assert main(["report", "verify", str(out[kind]), "--log", str(db)]) == 1  # the log does not know the file
    assert ("names key" if kind == "json" else "holds no record of this file") in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["html", "pdf", "json"])
def test_the_log_vouches_for_the_file_it_recorded(kind, tmp_path, monkeypatch, capsys):
    from crnnaudit.evidence.keys import load_signing_key
    log, db = _log(f"sqlite:///{tmp_path / 'audit.sqlite'}", n=1)
    out = _minimal_report(tmp_path, log, monkeypatch)
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", load_signing_key().fingerprint)
    monkeypatch.setenv("CRNNAUDIT_SIGNING_KEY_FILE", str(tmp_path / "no-key-here.pem"))  # verifiers hold no secret
    assert main(["report", "verify", str(out[kind]), "--log", str(db), "--accept-unanchored"]) == 0
    said = capsys.readouterr().out
    assert "recorded in audit log row 2" in said and "pinned in CRNNAUDIT_TRUSTED_KEYS" in said


def test_a_countersignature_copied_onto_another_report_fails(tmp_path, monkeypatch, capsys):
    from crnnaudit.evidence.keys import load_signing_key
    from crnnaudit.evidence.signing import countersignature, verify_file
    log, db = _log(f"sqlite:///{tmp_path / 'audit.sqlite'}", n=1)
    a = json.loads(_minimal_report(tmp_path, log, monkeypatch)["json"].read_text())["report"]
    b_body = dict(a, report_id="R2", human=dict(a["human"], decision="escalate"))
    b_body.pop("signing_key"), b_body.pop("audit_log_head")
    b = _minimal_report(tmp_path, log, monkeypatch, body=b_body, folder="b")["json"]
    signed_a = countersignature(a, "Pat", "2026-11-28T10:00:00+00:00", load_signing_key())

    def paste(raw: bytes) -> bytes:  # as the countersign step does: what it rewrites is kept beside it
        from crnnaudit.evidence.signing import REWRITTEN
        body = json.loads(raw)
        body["countersigned_from"] = {k: body[k] for k in REWRITTEN if k in body}
        body["countersignature"] = signed_a
        body["human"] = dict(body["human"], second_reviewer="Pat", second_signed_at=signed_a["at"], status="final")
        return canonical(body).encode()
    _edit(b, "stale", edit=paste)  # pasted and re-hashed, no key: the file's signature breaks
    assert not verify_file(b)["ok"]
    b2 = _minimal_report(tmp_path, log, monkeypatch, body=json.loads(paste(canonical(b_body).encode())), folder="b2")
    result = verify_file(b2["json"])  # even signed by the installation itself, the binding says no
    assert not result["ok"] and "belongs to another report" in result["message"], result["message"]
    assert "report_id" in result["message"] and "decision" in result["message"]
    good = json.loads(paste(canonical(a).encode()))  # on its own report it holds
    good.pop("signing_key"), good.pop("audit_log_head")
    assert verify_file(_minimal_report(tmp_path, log, monkeypatch, body=good, folder="a2")["json"])["ok"]
    # the same id, decision and author, but other content, re-issued and signed by the
    # installation, carrying the original's countersignature: the report hash it signed says no
    other = dict(a, output=dict(a["output"], anomaly_score=0.01))
    other.pop("signing_key"), other.pop("audit_log_head")
    carried = json.loads(paste(canonical(other).encode()))
    result = verify_file(_minimal_report(tmp_path, log, monkeypatch, body=carried, folder="a3")["json"])
    assert not result["ok"] and "given to other content" in result["message"], result["message"]


def test_a_report_carries_the_log_head_at_its_time(log_url, tmp_path, monkeypatch):
    log, db = _log(log_url, n=3)
    head = log.head()
    out = _minimal_report(tmp_path, log, monkeypatch)
    body = json.loads(out["json"].read_text())["report"]
    assert body["audit_log_head"] == head == {"seq": 3, "row_hash": log.rows()[2]["row_hash"]}
    assert out["log_row"] == 4
    _delete_last(db, 1)  # the review row of this report
    from crnnaudit.evidence.signing import verify_file
    res = verify_file(out["json"], log=AuditLog(db))
    assert not res["ok"] and "deleted from the end" in res["message"]


# -- many writers at once, and a writer killed mid-append, on both databases ----------------

WRITER = """
import sys
sys.path.insert(0, {root!r})
from crnnaudit.evidence.log import AuditLog
log = AuditLog({url!r})
print("ready", flush=True)
for i in range({n}):
    row = log.append({{"writer": {name!r}, "i": i}})
    print("committed", row["seq"], flush=True)
"""
ROOT = Path(__file__).resolve().parents[1]


def _writer(url, name, n):
    import subprocess
    import sys
    return subprocess.Popen([sys.executable, "-c", WRITER.format(root=str(ROOT), url=url, n=n, name=name)],
                            stdout=subprocess.PIPE, text=True)


def test_eight_writers_at_once_land_400_rows_in_one_chain(log_url):
    AuditLog(log_url)  # the table first
    writers = [_writer(log_url, f"w{k}", 50) for k in range(8)]
    assert all(w.wait(300) == 0 for w in writers)
    log = AuditLog(log_url)
    rows = log.rows()
    assert [r["seq"] for r in rows] == list(range(1, 401))
    payloads = [json.loads(r["payload"]) for r in rows]
    for k in range(8):  # each writer's 50 rows, in its own order
        assert [p["i"] for p in payloads if p["writer"] == f"w{k}"] == list(range(50))
    result = log.verify()
    assert result.ok and "(row 400)" in result.message, result.message


def test_a_writer_killed_mid_append_loses_no_committed_row(log_url):
    import signal
    import time
    AuditLog(log_url)
    p = _writer(log_url, "k", 100000)
    assert p.stdout.readline().strip() == "ready"
    committed = []
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        committed.append(int(p.stdout.readline().split()[1]))
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    log = AuditLog(log_url)
    seqs = [r["seq"] for r in log.rows()]
    assert set(committed) <= set(seqs) and seqs == list(range(1, len(seqs) + 1))  # every commit is there
    assert log.verify().ok, log.verify().message
    log.append({"after": "kill"})
    assert log.verify().ok


def test_the_app_and_commands_use_the_configured_database(log_url, monkeypatch, capsys):
    monkeypatch.setenv("CRNNAUDIT_AUDIT_DB", log_url)
    AuditLog().append({"report_id": "via default"})
    assert AuditLog(log_url).rows()[0]["seq"] == 1
    assert main(["audit", "verify", "--accept-unanchored"]) == 0 and "1 rows, chain intact" in capsys.readouterr().out
