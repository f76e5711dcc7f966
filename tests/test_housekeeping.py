"""GDPR housekeeping: erasure on request and after the retention period, logged by hash only."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

from crnnaudit.evidence.log import AuditLog
from crnnaudit.cli.main import main
from crnnaudit.footage.video import sha256_file


class _Upload(io.BytesIO):
    def __init__(self, name, data):
        super().__init__(data)
        self.name = name


def _upload(sample_clips, k):
    from crnnaudit.review import uploads
    data = Path(sample_clips[k]).read_bytes()
    return uploads.save_upload(_Upload(f"camera {k}.mp4", data), "video", (".mp4",))


def _admin(monkeypatch, role="admin", name="dpo"):
    from crnnaudit.evidence.accounts import Accounts
    Accounts().add(name, "a long dpo password", role)
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "a long dpo password")
    return name


def test_erasure_on_request_removes_the_clip_and_its_explanations(sample_clips, capsys, monkeypatch):
    from crnnaudit import explain
    from crnnaudit.model import AuditedModel
    from crnnaudit.footage.video import open_clip
    from architectures import td_cnn_gru_softmax
    keep, gone = _upload(sample_clips, 0), _upload(sample_clips, 1)
    model = AuditedModel(td_cnn_gru_softmax())
    for path in (keep, gone):
        clip = open_clip(path)
        explain(model, clip.window(0, model.window_length, model.card.stride, model.frame_size), ["gradcam"])
    cache = Path(os.environ["CRNNAUDIT_HOME"]) / "cache" / "explanations"
    assert len(list(cache.glob("*.npz"))) == 2
    sha = sha256_file(gone)
    _admin(monkeypatch, "auditor", "ana")
    assert main(["erase", sha, "--as", "ana"]) == 2  # only an admin erases
    assert "ana (auditor) may not erase clips" in capsys.readouterr().err and gone.exists()
    assert main(["erase", sha, "--as", _admin(monkeypatch)]) == 0
    assert "1 upload(s), 1 cached explanation(s)" in capsys.readouterr().out
    assert not gone.exists() and keep.exists() and len(list(cache.glob("*.npz"))) == 1
    row = AuditLog().rows()[-1]
    assert row["kind"] == "erasure" and json.loads(row["payload"])["clip_sha256"] == sha
    assert gone.name not in row["payload"] and "camera" not in row["payload"]  # the hash, never the content
    assert AuditLog().verify().ok
    assert main(["erase", "not-a-hash", "--as", "dpo"]) == 2


def test_retention_erases_old_uploads_only(sample_clips, monkeypatch):
    from crnnaudit.evidence.retention import apply_retention
    old, new = _upload(sample_clips, 0), _upload(sample_clips, 2)
    old_sha = sha256_file(old)
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    done = apply_retention()  # the default 30 days
    assert [d["clip_sha256"] for d in done] == [old_sha]
    assert not old.exists() and new.exists()
    assert done[0]["reason"] == "retention (30 days)"
    monkeypatch.setenv("CRNNAUDIT_RETENTION_DAYS", "0")
    assert main(["housekeeping", "--as", _admin(monkeypatch)]) == 2  # a clear error, not a purge of everything


def test_export_writes_the_record_of_processing(tmp_path, capsys):
    from crnnaudit.card import ModelCard
    card = tmp_path / "m.card.json"
    ModelCard(name="fights", owner="City of Example, DPO office", intended_use="fight detection on trams").write(card)
    AuditLog().append({"report_id": "r"})
    assert main(["audit", "export", "--out", str(tmp_path / "log.json"), "--card", str(card)]) == 0
    record = json.loads((tmp_path / "log.record-of-processing.json").read_text())
    assert record["controller"] == "City of Example, DPO office"
    assert "fight detection on trams" in record["purposes"]
    assert record["retention"]["uploaded_clips_and_derived_data_days"] == 30
    assert {"purposes", "categories_of_data_subjects", "recipients", "security_measures"} <= set(record)
