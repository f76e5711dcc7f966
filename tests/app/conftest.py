from pathlib import Path

import pytest

import architectures as arch
from crnnaudit import ModelCard


@pytest.fixture(scope="session")
def small_model_path(tmp_path_factory):
    """A tiny 4-class clip model with a card, so the pages run in seconds."""
    folder = tmp_path_factory.mktemp("appmodel")
    path = folder / "small.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(name="small", classes=["normal", "fight", "fire", "shooting"], stride=8,
              known_limitations=["a test model"]).write(folder / "small.card.json")
    return path


@pytest.fixture
def app_env(monkeypatch, small_model_path, tmp_path):
    monkeypatch.setenv("CRNNAUDIT_MODEL", str(small_model_path))
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CRNNAUDIT_SAMPLES", str(Path(__file__).resolve().parents[2] / "sample_videos"))
    monkeypatch.setenv("CRNNAUDIT_CONTROLLER", "Example Transit Ltd")  # who the person concerned writes to
    monkeypatch.setenv("CRNNAUDIT_CONTEST_CONTACT", "dpo@example.org")
    return small_model_path
