"""Automation bias in sight: each reviewer's figures from a real log, by hand."""

import json
from datetime import datetime, timedelta, timezone

import pytest

from crnnaudit import AuditLog
from crnnaudit.evidence.oversight import CONFIRM_SHARE, MIN_DECISIONS, reviewer_figures


def _decide(log, reviewer, decision, seconds):
    log.append({"reviewer": reviewer, "decision": decision, "seconds_to_decision": seconds})


def test_figures_and_warnings_per_reviewer_from_the_log():
    log = AuditLog()
    for i in range(21):  # ana: 20 of 21 confirm (95.2%), median 6 s
        _decide(log, "ana", "confirm" if i else "override", 4 + (i % 5))
    for i in range(10):  # ben: 5 of 10 confirm, median 30 s, one decision without a time
        _decide(log, "ben", "confirm" if i % 2 else "escalate", None if i == 0 else 30)
    log.append({"user": "ana", "role": "auditor"}, kind="account")  # not a decision
    figures = {f["reviewer"]: f for f in reviewer_figures(log.rows())}
    ana, ben = figures["ana"], figures["ben"]
    assert (ana["decisions"], ana["confirmed"], ana["timed"]) == (21, 20, 21)
    assert ana["confirm_share"] == pytest.approx(20 / 21) and ana["confirm_share"] > CONFIRM_SHARE
    assert ana["median_seconds"] == 6  # 4..8 repeating: 5 of each of 4, 5, 6, 7 and 4 of 8 -> median 6
    assert len(ana["warnings"]) == 2 and "95%" in ana["warnings"][0] and "6.0 s" in ana["warnings"][1]
    assert (ben["decisions"], ben["confirmed"], ben["timed"], ben["median_seconds"]) == (10, 5, 9, 30)
    assert ben["warnings"] == []


def test_few_decisions_do_not_warn_of_confirming_too_often():
    log = AuditLog()
    for _ in range(MIN_DECISIONS - 1):
        _decide(log, "cy", "confirm", 60)
    [cy] = reviewer_figures(log.rows())
    assert cy["confirm_share"] == 1.0 and cy["warnings"] == []


def test_a_report_records_the_time_to_decision_and_the_export_carries_the_figures(tmp_path, capsys):
    import architectures as arch
    from crnnaudit import AuditedModel, ModelCard, explain, open_clip
    from crnnaudit.cli.main import main
    from crnnaudit.demo import synthesize
    from crnnaudit.report import build_report, write_report
    clip = open_clip(synthesize(tmp_path / "c", count=1, seed=4, frames=16, labels=["fight"])[0])
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4),
                         ModelCard(classes=["normal", "fight", "fire", "shooting"], stride=8))
    window = clip.window(0, 8, 8, model.frame_size)
    es = explain(model, window, ["gradcam", "frame_occlusion"], cache=False)
    now = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)
    body = build_report(model, clip, window, es, decision="confirm", reviewer="dee", faithfulness=False,
                        sanity=False, now=now, shown_at=now - timedelta(seconds=42.5))
    assert body["human"]["seconds_to_decision"] == 42.5
    write_report(body, tmp_path / "r")
    assert json.loads(AuditLog().rows()[-1]["payload"])["seconds_to_decision"] == 42.5
    assert main(["audit", "export", "--format", "json", "--out", str(tmp_path / "log.json")]) == 0
    oversight = json.loads((tmp_path / "log.oversight.json").read_text())
    [dee] = oversight["reviewers"]
    assert dee["reviewer"] == "dee" and dee["median_seconds"] == 42.5 and dee["decisions"] == 1
