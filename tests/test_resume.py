"""Scoring resumes after a kill (issue 34, point 2): each finished window is kept in a checkpoint
as it is scored; a run after the kill takes the finished windows from it (only for the same clip,
model and setting), decodes from the first window missing, and gives the timeline an unbroken run
gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import architectures as arch
from conftest import write_video
from crnnaudit import AuditedModel, ModelCard, open_clip

ROOT = Path(__file__).resolve().parents[1]


class Killed(Exception):
    """Stands for the kill: raised from the progress callback after some windows."""


@pytest.fixture(scope="module")
def model():
    return AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=2),
                        ModelCard(classes=["normal", "fire"], anomaly_classes=["fire"], stride=4))


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    rng = np.random.default_rng(3)
    frames = [np.clip(rng.normal(100 + i, 30, (48, 64, 3)), 0, 255).astype(np.uint8) for i in range(200)]
    frames[120:124] = [frames[119]] * 4  # a frozen stretch: the frozen-frame check reads across the resume
    return write_video(tmp_path_factory.mktemp("clips") / "long.mp4", frames, fps=25)


def _stop_after(n):
    def progress(done, total):
        if done >= n:
            raise Killed(done)
    return progress


def test_a_killed_run_resumes_from_its_last_finished_window_and_gives_the_same_timeline(model, clip_path, tmp_path):
    whole = model.score(open_clip(clip_path)).table
    keep = tmp_path / "t.partial.jsonl"
    with pytest.raises(Killed):
        model.score(open_clip(clip_path), batch_frames=8, progress=_stop_after(20), checkpoint=keep)
    lines = keep.read_text().splitlines()
    assert json.loads(lines[0])["clip_sha256"] == open_clip(clip_path).sha256 and len(lines) - 1 >= 20
    finished = len(lines) - 1
    seen = []
    timeline = model.score(open_clip(clip_path), batch_frames=8, checkpoint=keep,
                           progress=lambda done, total: seen.append(done))
    assert timeline.resumed_windows == finished and seen[0] > finished  # the rest only were scored
    pd.testing.assert_frame_equal(timeline.table, whole, check_exact=False, rtol=1e-6)
    assert not keep.exists(), "a completed run leaves no checkpoint"


def test_a_checkpoint_cut_mid_line_or_of_another_clip_is_handled(model, clip_path, tmp_path):
    keep = tmp_path / "t.partial.jsonl"
    with pytest.raises(Killed):
        model.score(open_clip(clip_path), batch_frames=8, progress=_stop_after(10), checkpoint=keep)
    text = keep.read_text()
    keep.write_text(text + text.splitlines()[-1][:25])  # the kill cut the last line in half
    timeline = model.score(open_clip(clip_path), checkpoint=keep)
    assert timeline.resumed_windows == len(text.splitlines()) - 1 and timeline.checkpoint_note == ""
    whole = model.score(open_clip(clip_path)).table
    pd.testing.assert_frame_equal(timeline.table, whole, check_exact=False, rtol=1e-6)
    # a checkpoint of another clip (or model, stride, frame rate) is set aside, and the run says so
    other = write_video(tmp_path / "other.mp4", [np.full((48, 64, 3), 90, np.uint8)] * 40, fps=25)
    with pytest.raises(Killed):
        model.score(open_clip(other), progress=_stop_after(2), checkpoint=keep)
    timeline = model.score(open_clip(clip_path), checkpoint=keep)
    assert timeline.resumed_windows == 0 and "another clip, model or setting" in timeline.checkpoint_note
    pd.testing.assert_frame_equal(timeline.table, whole, check_exact=False, rtol=1e-6)


def test_crnnaudit_score_killed_with_sigkill_resumes(model, clip_path, tmp_path):
    """The command line, killed for real (SIGKILL) part way, then run again."""
    folder = tmp_path / "m"
    folder.mkdir()
    model.model.save(folder / "m.keras")
    model.card.write(folder / "m.card.json")
    out = tmp_path / "timeline.csv"
    cmd = [sys.executable, "-m", "crnnaudit", "score", str(folder / "m.keras"), str(clip_path), "--out", str(out)]
    env = dict(os.environ, CRNNAUDIT_MODELS_DIR=str(folder))
    keep = tmp_path / "timeline.csv.partial.jsonl"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and (not keep.exists() or len(keep.read_text().splitlines()) < 6):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(keep.read_text().splitlines()) - 1
    if finished >= 47:
        pytest.skip("the run finished before the kill landed")
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "a checkpoint of an earlier run is there" in again.stderr and "resumed: " in again.stdout
    assert not keep.exists()
    whole = model.score(open_clip(clip_path)).table
    got = pd.read_csv(out)
    assert len(got) == len(whole) == 49
    np.testing.assert_allclose(got["anomaly_score"], whole["anomaly_score"], rtol=1e-5)
