"""The Dataset and Queue pages over a real run of `crnnaudit batch` (local executor)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from crnnaudit import AuditLog
from crnnaudit.dataset.executors import run_batch
from crnnaudit.config import runs_dir
from crnnaudit.model import load_model
from tests.app.test_pages import APP, TIMEOUT, signed_in

SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"


@pytest.fixture
def run(app_env):
    model = load_model(app_env)
    summary = run_batch(model, [str(SAMPLES)], runs_dir() / "first-run", explain="all")
    return summary, pd.read_parquet(runs_dir() / "first-run" / "clips.parquet")


def _page(page, role="auditor"):
    at = signed_in(AppTest.from_file(APP, default_timeout=TIMEOUT), f"someone {role}", role)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_dataset_page_shows_the_run_and_opens_a_clip_in_review(run):
    summary, clips = run
    at = _page("views/dataset.py")
    assert at.selectbox(key="dataset_run").value.name == "first-run"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["clips"] == str(summary["clips"]) and metrics["flagged"] == str(summary["flagged"])
    assert len(at.get("plotly_chart")) >= 2  # confusion matrix, scores (and the temporal peaks)
    screen = summary["explanations"]["shortcut_screen"]
    clusters = [e for e in at.expander if ", cluster " in e.label]
    assert len(clusters) == len(screen["clusters"]) > 0
    assert all(c["method"] in e.label for e, c in zip(clusters, screen["clusters"]))  # each names its method
    from crnnaudit.dataset.run_report import where_to_look
    look = {e.label.rsplit(": ", 1)[0]: int(e.label.rsplit(": ", 1)[1]) for e in at.expander if ", cluster " not in e.label}
    card = json.loads((runs_dir() / "first-run" / "model.json").read_text())["card"]
    assert look == {title: len(rows) for _, title, rows in where_to_look(clips, card["anomaly_classes"])}
    assert len(at.get("image")) >= 2, "mean maps and cluster thumbnails are shown"
    pick = clips.sort_values("max_anomaly_score").iloc[0]  # not the first in the table
    at.selectbox(key="dataset_clip").select(pick["clip"]).run()
    at.button(key="dataset_open").click().run()
    assert not at.exception, at.exception
    review = at.session_state["review"].state
    assert review.clip_path == pick["path"] and review.window == int(pick["top_window"])


def test_queue_lists_flagged_clips_by_score_with_their_review_status(run):
    summary, clips = run
    flagged = clips[clips["decision"] == "anomaly"].sort_values("max_anomaly_score", ascending=False)
    assert len(flagged) >= 2, "the test needs flagged clips"
    first = flagged.iloc[0]
    AuditLog().append({"clip_sha256": first["sha256"], "clip": first["clip"], "decision": "confirm",
                       "reviewer": "someone auditor", "report_id": "r-1"})
    at = _page("views/queue.py")
    shown = at.dataframe[0].value
    assert first["clip"] not in shown["clip"].tolist()  # reviewed: not in the open queue
    assert shown["clip"].tolist() == flagged["clip"].tolist()[1:]  # highest score first
    at.toggle(key="queue_open_only").set_value(False).run()
    everything = at.dataframe[0].value
    assert everything.set_index("clip").loc[first["clip"], "review"] == "decided"
    AuditLog().append({"report_id": "r-1", "second_reviewer": "an approver"}, kind="countersign")
    at.run()
    assert at.dataframe[0].value.set_index("clip").loc[first["clip"], "review"] == "countersigned"
    at.selectbox(key="queue_clip").select(flagged.iloc[1]["clip"]).run()
    at.button(key="queue_open").click().run()
    assert at.session_state["review"].state.clip_path == flagged.iloc[1]["path"]


def test_without_a_run_the_pages_say_how_to_make_one(app_env):
    for page in ("views/dataset.py", "views/queue.py"):
        at = _page(page)
        assert any("crnnaudit batch" in i.value for i in at.info)
