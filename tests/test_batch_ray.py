"""The Ray executor: a real local Ray (ray.init(num_cpus=2)), actors that each hold the model;
the same records as the local executor, resumable by content."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import ray

import architectures as arch
from crnnaudit import ModelCard
from crnnaudit.dataset.executors import run_batch
from crnnaudit.cli.main import main
from crnnaudit.model import load_model

pytestmark = pytest.mark.long  # a real Ray cluster, started here: make test-long (CI runs it)

CLASSES = ["normal", "fight", "fire", "shooting"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from crnnaudit.demo import synthesize
    folder = tmp_path_factory.mktemp("ray")
    synthesize(folder / "clips", count=6, seed=21, frames=24)
    path = folder / "m.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(classes=CLASSES, stride=4).write(folder / "m.card.json")
    return folder, path



@pytest.fixture(autouse=True)
def _patient_sandbox(monkeypatch):
    """The sandbox's 45 s limit is for hostile files; a Ray actor's first load on a loaded 2-core CI
    machine (TensorFlow imported in the actor and again in its sandbox, beside the other worker's
    tests) once took longer for a tiny model. The runs take the setting to their workers."""
    monkeypatch.setenv("CRNNAUDIT_MODEL_TIMEOUT_S", "180")

def test_ray_gives_the_local_records_and_resumes(setup, local_ray, tmp_path):
    folder, path = setup
    local = run_batch(load_model(path), [str(folder / "clips")], tmp_path / "local", explain="all")
    got = run_batch(path, [str(folder / "clips")], tmp_path / "ray", executor="ray", explain="all", workers=2)
    assert got["executor"] == "ray" and got["scored_this_run"] == 6 and len(got["workers"]) == 2
    a = pd.read_parquet(tmp_path / "local" / "windows.parquet").sort_values(["sha256", "window"])
    b = pd.read_parquet(tmp_path / "ray" / "windows.parquet").sort_values(["sha256", "window"])
    np.testing.assert_allclose(a["anomaly_score"].to_numpy(), b["anomaly_score"].to_numpy(), rtol=1e-5, atol=1e-6)
    for key in ("accuracy", "confusion_matrix", "detection_roc_auc"):
        assert got[key] == local[key]
    assert got["explanations"]["windows"] == local["explanations"]["windows"]
    for sha in a["sha256"].unique():
        with np.load(tmp_path / "local" / "explained" / f"{sha}.npz") as x, \
             np.load(tmp_path / "ray" / "explained" / f"{sha}.npz") as y:
            np.testing.assert_allclose(x["map__gradcam"], y["map__gradcam"], atol=1e-5)
    # killed during one clip: only that clip is done again
    next((tmp_path / "ray" / "clips").glob("*.json")).unlink()
    again = run_batch(path, [str(folder / "clips")], tmp_path / "ray", executor="ray", workers=1)
    assert again["scored_this_run"] == 1 and again["clips"] == 6


def test_cli_executor_ray_writes_the_run_report(setup, local_ray, tmp_path, capsys, monkeypatch):
    folder, path = setup
    from crnnaudit.evidence.accounts import Accounts
    Accounts().add("Ray Auditor", "a long batch password", "auditor")
    monkeypatch.setenv("CRNNAUDIT_PASSWORD", "a long batch password")
    assert main(["batch", str(path), str(folder / "clips"), "--out", str(tmp_path / "r"), "--executor", "ray",
                 "--workers", "1", "--explain", "flagged", "--as", "Ray Auditor"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["clips"] == 6
    page = (tmp_path / "r" / "report.html").read_text()
    assert "Confusion matrix" in page and "Flagged clips" in page
    with pytest.raises(SystemExit) as e:  # argparse: one line, exit 2
        main(["batch", str(path), str(folder / "clips"), "--out", str(tmp_path / "r2"), "--executor", "ray",
              "--workers", "0", "--as", "Ray Auditor"])
    assert e.value.code == 2
    assert "--workers" in capsys.readouterr().err
