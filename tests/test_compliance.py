"""The evidence map: every clause points at fields a real report or log row has, and the
assessment follows this deployment's configuration and log."""

import json
from datetime import datetime, timedelta, timezone

import pytest

import architectures as arch
from crnnaudit import AuditedModel, AuditLog, ModelCard, explain, open_clip
from crnnaudit.cli.main import main
from crnnaudit.demo import synthesize
from crnnaudit.evidence.accounts import Identity
from crnnaudit.evidence.retention import erase_clip
from crnnaudit.report import build_report, write_report
from crnnaudit.report.compliance import ANSWERED, CLAUSES, NOT_ANSWERED, PARTLY, assess, field_present
from crnnaudit.report.countersign import countersign


@pytest.fixture
def evidence(tmp_path, monkeypatch):
    """A report written and countersigned, an erasure and a forced short purge: every kind of
    row a review leaves, from the real functions."""
    monkeypatch.setenv("CRNNAUDIT_CONTROLLER", "Example Transit Ltd")
    monkeypatch.setenv("CRNNAUDIT_CONTEST_CONTACT", "dpo@example.org")
    clip = open_clip(synthesize(tmp_path / "c", count=1, seed=6, frames=16, labels=["fire"])[0])
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4),
                         ModelCard(classes=["normal", "fight", "fire", "shooting"], stride=8))
    window = clip.window(0, 8, 8, model.frame_size)
    es = explain(model, window, ["gradcam", "frame_occlusion"], cache=False)
    now = datetime.now(timezone.utc)
    body = build_report(model, clip, window, es, decision="confirm", reviewer="ana", faithfulness=False,
                        sanity=False, shown_at=now - timedelta(seconds=30))
    written = write_report(body, tmp_path / "r")
    countersign(written["json"], Identity("pat", "approver"))
    erase_clip("a" * 64, reason="request")
    from crnnaudit.dataset.executors import run_batch
    from crnnaudit.dataset.instructions import build_instructions, write_instructions
    run_batch(model, [str(tmp_path / "c")], tmp_path / "run")
    write_instructions(build_instructions(tmp_path / "run"), tmp_path / "i")
    log = AuditLog()
    rows = log.rows()
    return body, rows, log


def test_every_clause_points_at_fields_a_report_or_the_log_has(evidence):
    body, rows, log = evidence
    log.apply_retention(10, now=datetime.now(timezone.utc) + timedelta(days=30), force=True, reason="drill")
    rows = rows + log.rows()
    missing = [(c.clause, f) for c in CLAUSES for f in c.fields if not field_present(f, body, rows)]
    assert not missing, missing
    assert not field_present("report:human.nonexistent", body, rows)  # the check itself can fail
    assert not field_present("log:review.nonexistent", body, rows)


def test_assessment_follows_retention_and_witness(evidence, monkeypatch, tmp_path, capsys):
    _, rows, log = evidence
    by = {c["clause"]: c for c in assess(rows)}
    assert by["AI Act Art. 13(3)"]["status"] == ANSWERED  # the fixture wrote instructions for use
    unwritten = {c["clause"]: c for c in assess([r for r in rows if r["kind"] != "instructions"])}
    assert unwritten["AI Act Art. 13(3)"]["status"] == PARTLY and "crnnaudit instructions" in unwritten[
        "AI Act Art. 13(3)"]["why"]
    assert by["AI Act Art. 19"]["status"] == PARTLY  # uploads kept 30 days by default: hashes only after
    assert by["AI Act Art. 12(1)"]["status"] == NOT_ANSWERED and "witness" in by["AI Act Art. 12(1)"]["why"]
    from crnnaudit.evidence.keys import load_signing_key
    monkeypatch.setenv("CRNNAUDIT_TRUSTED_KEYS", load_signing_key().fingerprint)  # re-keying ruled out, rewind not
    pinned = {c["clause"]: c for c in assess(rows)}["AI Act Art. 12(1)"]
    assert pinned["status"] == PARTLY and "rewind" in pinned["why"] and "unanchored" not in pinned["why"]
    monkeypatch.setenv("CRNNAUDIT_RETENTION_DAYS", "200")
    monkeypatch.setenv("CRNNAUDIT_WITNESS", str(tmp_path / "witness"))
    by = {c["clause"]: c for c in assess(rows)}
    assert by["AI Act Art. 19"]["status"] == by["AI Act Art. 26(6)"]["status"] == ANSWERED
    assert by["AI Act Art. 12(1)"]["status"] == ANSWERED
    log.apply_retention(10, now=datetime.now(timezone.utc) + timedelta(days=30), force=True, reason="drill")
    by = {c["clause"]: c for c in assess(log.rows())}
    assert by["AI Act Art. 19"]["status"] == by["AI Act Art. 26(6)"]["status"] == NOT_ANSWERED
    assert "10 days" in by["AI Act Art. 19"]["why"]
    assert main(["compliance", "--json"]) == 1  # a witness named after the fact holds no checkpoint: not verified
    capsys.readouterr()
    monkeypatch.delenv("CRNNAUDIT_WITNESS")
    assert main(["compliance", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {c["clause"] for c in out} == {c.clause for c in CLAUSES}
