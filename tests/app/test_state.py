"""The review's world: a card edited in either format reloads its model; samples come from
configuration, not from where the package lies."""

import os
import time

import pytest

import architectures as arch
from crnnaudit import ModelCard


@pytest.mark.parametrize("suffix", [".card.yaml", ".card.json"])
def test_editing_a_card_in_either_format_reloads_the_model(tmp_path, suffix):
    from crnnaudit.review import World
    world = World()
    path = tmp_path / "m.keras"
    arch.td_cnn_gru_softmax().save(path)
    card_path = tmp_path / f"m{suffix}"
    ModelCard(name="m", classes=["normal", "fight", "fire"], threshold=0.5).write(card_path)
    first = world.model(str(path))
    assert first.card.threshold == 0.5 and world.model(str(path)) is first  # cached
    ModelCard(name="m", classes=["normal", "fight", "fire"], threshold=0.8).write(card_path)
    stamp = time.time() + 5  # a later mtime even on coarse file systems
    os.utime(card_path, (stamp, stamp))
    again = world.model(str(path))
    assert again is not first and again.card.threshold == 0.8


def test_sample_clips_come_from_configuration(tmp_path, monkeypatch):
    from crnnaudit.review import World
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a clip")
    monkeypatch.setenv("CRNNAUDIT_SAMPLES", str(tmp_path))
    assert [p.name for p in World().samples()] == ["a.mp4"]
    monkeypatch.setenv("CRNNAUDIT_SAMPLES", str(tmp_path / "missing"))
    assert World().samples() == []
    monkeypatch.delenv("CRNNAUDIT_SAMPLES")
    monkeypatch.chdir(tmp_path)  # the default: sample_videos in the working folder
    (tmp_path / "sample_videos").mkdir()
    (tmp_path / "sample_videos" / "b.avi").write_bytes(b"x")
    assert [p.name for p in World().samples()] == ["b.avi"]
