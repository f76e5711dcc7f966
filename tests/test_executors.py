"""One executor interface and one driver: a third executor is one class and one line in EXECUTORS;
executors take the same arguments; an archive with odd entries cannot stall or end a run."""

from __future__ import annotations

import json
import os
import signal
import threading

import pandas as pd
import pytest

import architectures as arch
from crnnaudit import ModelCard
from crnnaudit.dataset import executors
from crnnaudit.dataset.executors import EXECUTORS, Executor, Outcome, run_batch
from crnnaudit.errors import CrnnauditError
from crnnaudit.model import AuditedModel

CLASSES = ["normal", "fight", "fire", "shooting"]


class ReverseExecutor(Executor):
    """A third executor, written the way the module says: last clip first, its own processor."""

    name = "reverse"

    def run(self, job):
        process = job.processor(job.load_model())
        for path in reversed(job.clips):
            yield Outcome(path, bool(process(path)), "reverse-worker", 1.0)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    from crnnaudit.demo import synthesize
    folder = tmp_path_factory.mktemp("archive")
    synthesize(folder / "clips", count=3, seed=31, frames=24)
    return folder


def _model():
    return AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32, classes=4), ModelCard(classes=CLASSES, stride=8))


def test_a_third_executor_is_one_class_and_one_line(archive, tmp_path, monkeypatch):
    monkeypatch.setitem(EXECUTORS, "reverse", "test_executors:ReverseExecutor")
    model = _model()
    local = run_batch(model, [str(archive / "clips")], tmp_path / "local")
    seen = []
    other = run_batch(model, [str(archive / "clips")], tmp_path / "other", executor="reverse",
                      progress=lambda done, total, rate: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert other["executor"] == "reverse" and other["workers"] == {"reverse-worker": {"peak_rss_mb": 1.0}}
    assert local["executor"] == "local" and list(local["workers"]) == [str(os.getpid())]
    a = pd.read_parquet(tmp_path / "local" / "windows.parquet").sort_values(["sha256", "window"])
    b = pd.read_parquet(tmp_path / "other" / "windows.parquet").sort_values(["sha256", "window"])
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    same = [json.dumps({k: v for k, v in s.items() if k not in ("executor", "workers", "sealed_log_row")}, sort_keys=True)
            for s in (local, other)]  # as text: a class without clips has a NaN ROC-AUC in both
    assert same[0] == same[1]


def test_executors_refuse_what_they_cannot_do(archive, tmp_path):
    with pytest.raises(CrnnauditError, match="unknown executor 'dask'; executors: local, ray"):
        run_batch(_model(), [str(archive / "clips")], tmp_path / "r", executor="dask")
    with pytest.raises(CrnnauditError, match="local executor runs in this process"):
        run_batch(_model(), [str(archive / "clips")], tmp_path / "r", workers=2)
    with pytest.raises(CrnnauditError, match="loads the model in each of its workers: give the model's file"):
        run_batch(_model(), [str(archive / "clips")], tmp_path / "r", executor="ray")
    with pytest.raises(CrnnauditError, match="--workers must be a whole number >= 1"):
        executors.executor_named("local", workers=0)


def test_a_batch_survives_its_archive(archive, tmp_path):
    """Named pipe, folder named like a clip, link loop, dangling link: each a failed clip with
    its reason, the good clips scored, and nothing blocks (a pipe opened would wait forever)."""
    odd = tmp_path / "odd"
    odd.mkdir()
    for p in (archive / "clips").glob("*.mp4"):
        (odd / p.name).symlink_to(p)
    os.mkfifo(odd / "pipe.mp4")
    (odd / "folder.mp4").mkdir()
    (odd / "loop.mp4").symlink_to(odd / "loop.mp4")
    (odd / "gone.mp4").symlink_to(odd / "nowhere.mp4")
    (odd / "sub").mkdir()
    (odd / "sub" / "up").symlink_to(odd, target_is_directory=True)  # a folder loop: never followed
    timer = threading.Timer(120, lambda: os.kill(os.getpid(), signal.SIGALRM))
    timer.start()  # a hang fails the test instead of the suite
    try:
        summary = run_batch(_model(), [str(odd)], tmp_path / "run")
    finally:
        timer.cancel()
    clips = pd.read_parquet(tmp_path / "run" / "clips.parquet").set_index("clip")
    assert summary["clips"] == 7 and summary["failed"] == 4
    assert clips.loc["pipe.mp4", "error"] == "pipe.mp4: is a named pipe, not a video file; skipped"
    assert clips.loc["folder.mp4", "error"] == "folder.mp4: is a folder, not a video file; skipped"
    assert "cannot be read" in clips.loc["loop.mp4", "error"] and "cannot be read" in clips.loc["gone.mp4", "error"]
    good = clips[clips["error"].isna()]
    assert len(good) == 3 and good["windows"].min() >= 1
    again = run_batch(_model(), [str(odd)], tmp_path / "run")
    assert again["scored_this_run"] == 0, "failed paths are recorded too, so a rerun skips them"
