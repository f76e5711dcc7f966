"""The demo model: the recipe end to end (reduced), determinism, the shipped weights and their
hash check, and the full figures of the shipped demo measured through the app's path."""

import json
import shutil

import numpy as np
import pytest

from crnnaudit import ModelCard, ModelError, load_model, open_clip
from crnnaudit.demo import shipped
from crnnaudit.lab.recipe import (CLASSES, RECIPE_VERSION, build_demo, classification_figures, demo_is_current,
                                  demo_model_path, evaluate_demo, roc_auc)
from crnnaudit.lab.training import window_labels, window_starts

# Issue 21's bars, measured through the app's path (README, *The demo model*) on 120 clips of
# three seeds (21-23) that no choice of recipe looked at. Rendering and training are
# bit-reproducible, so this machine and CI read the same clips.
ACCURACY, MACRO_AUC, WINDOW_AUC, HELDOUT_FLAGGED = 0.93, 0.98, 0.96, 0.02
DEGRADED_FLAGGED, CLEAN_FLAGGED = 0.9, 0.02
# Grad-CAM on recipe 9 does NOT reach issue 21's 0.5 pointing game (README, *What Grad-CAM can
# and cannot show on this model*): the test holds the figures the card states, so the card
# cannot claim more, and holds the methods that do beat random deletion to it.
BEATS_RANDOM = 0.7


def test_roc_auc_by_hand():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    f = classification_figures(np.array([0, 1, 2, 3]), np.eye(4))
    assert f["accuracy"] == 1.0 and f["macro_roc_auc"] == 1.0


def test_windows_are_labelled_as_the_evaluation_reads_them():
    assert window_starts(48) == [0, 4, 8, 12, 16, 20, 24, 28, 32]
    in_event = np.zeros((2, 48), bool)
    in_event[0, 20:] = True  # a fight from frame 20: windows with >= 8 of 16 frames inside
    labels = window_labels(in_event, np.array([1, 0]), [0, 8, 12, 16, 32])
    np.testing.assert_array_equal(labels[:, 0], [0, 0, 1, 1, 1])  # 12..27 holds 8 event frames
    np.testing.assert_array_equal(labels[:, 1], [0, 0, 0, 0, 0])


def _reduced(**kw):
    return build_demo(train_clips=8, validation_clips=4, epochs=1, head_epochs=2, force=True, **kw)


@pytest.mark.long  # the recipe end to end: make test-long (CI runs it)
def test_reduced_build_end_to_end_and_deterministic(tmp_path, monkeypatch, capsys, sample_clips):
    """Few clips, one epoch: the whole pipeline (not the quality), twice: the same weights."""
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path))
    path = _reduced()
    assert path == demo_model_path() and demo_is_current()
    card = ModelCard.read(path.with_name(path.stem + ".card.json"))
    assert card.classes == CLASSES and card.anomaly_classes == ["fight", "fire", "shooting"]
    assert card.preprocessing == "vgg19" and card.frames_per_window == 16 and card.stride == 8
    assert card.frame_rate == 12.0  # the demo's clips' rate: clips are sampled to it
    recipe = card.extra["recipe"]
    assert recipe["version"] == RECIPE_VERSION and recipe["explanation_loss"] is None
    assert recipe["trainable_layers"][0] == "block5_conv4" and recipe["averaged_epochs"] == [1, 1]
    assert recipe["epochs"] == {"block5_conv4_and_head": 1, "head_alone": 2}
    assert card.calibration["clips"] == 12 and (path.parent / card.calibration["file"]).exists()
    model = load_model(path)
    assert model.target_layer == "block5_conv4" and model.verify() <= 1e-5
    assert model.feature_stats is not None
    assert model.frame_size == (128, 128) and recipe["frame_pool"].startswith("global max pooling")
    quality = card.calibration["quality"]  # image-quality bounds from every window of its clips
    assert quality["windows"] == 12 * 5 and quality["low"]["sharpness"] > 0
    table = model.score(open_clip(sample_clips[1])).table
    assert {"training_distance", "unlike_training", "quality_flags", "reliable"} <= set(table)
    first = card.extra["weights_sha256"]
    from crnnaudit.cli.main import main
    assert main(["demo"]) == 0 and "already built" in capsys.readouterr().out
    again = ModelCard.read(_reduced().with_name(path.stem + ".card.json"))
    assert again.extra["weights_sha256"] == first, "two builds on one machine give the same model"


def test_shipped_weights_assemble_the_recorded_model_or_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path / "home"))
    card = shipped.shipped_card()
    assert card is not None, "the package ships the demo's trained layers"
    assert card.frame_rate == 12.0, "the demo's card says the rate its clips were made at"
    assert (shipped.SHIPPED / "trained.npz").stat().st_size <= 12 * 1024 * 1024
    assert sum(f.stat().st_size for f in shipped.SHIPPED.iterdir()) <= 40_000_000  # issue 21: at most 40 MB shipped
    path = shipped.install_shipped()
    assert path == demo_model_path() and demo_is_current()
    from crnnaudit.model import weights_hash
    model = load_model(path)
    assert weights_hash(model.model) == card.extra["weights_sha256"] and model.feature_stats is not None
    from crnnaudit.demo.paths import demo_card_path
    from crnnaudit.footage.video import sha256_file
    assert ModelCard.read(demo_card_path()).model_sha256 == sha256_file(path) == model.sha256
    altered = model.model  # after the first start, the file changed in place: the output bias shifted
    out = altered.layers[-1]
    out.set_weights([out.get_weights()[0], out.get_weights()[1] + np.array([0, 4, 0, 0], np.float32)])
    altered.save(path)
    with pytest.raises(ModelError, match="changed after its card was written"):
        load_model(path)
    # A copy whose weights do not hash to the record is refused, not installed.
    fake = tmp_path / "shipped"
    shutil.copytree(shipped.SHIPPED, fake)
    data = dict(np.load(fake / "trained.npz"))
    data["classes/1"] = data["classes/1"] + 1.0
    np.savez(fake / "trained.npz", **data)
    monkeypatch.setattr(shipped, "SHIPPED", fake)
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path / "other"))
    with pytest.raises(shipped.ShippedDemoMismatch, match="not the recorded"):
        shipped.install_shipped()
    assert not demo_model_path().exists()


@pytest.mark.long  # the demo's full figures: make test-long (CI runs it)
@pytest.mark.first  # 120 clips through VGG19: over ten minutes on one core (the drill: test_demo_degraded.py)
def test_full_demo_reads_its_own_clips_and_unseen_ones_right(full_demo, monkeypatch, vtest):
    """The shipped demo, evaluated through the path the app and the CLI take (the image-quality
    drill is its own test, in its own file, so that it runs beside this one)."""
    from pathlib import Path
    monkeypatch.setenv("CRNNAUDIT_HOME", str(full_demo))
    samples = Path(__file__).resolve().parents[1] / "sample_videos"
    figures = evaluate_demo(samples=samples, real_clip=vtest, explained=24, degraded=0)
    print(json.dumps(figures, indent=1, default=float))
    assert figures["clips"] == 120 and figures["verify_max_abs_diff"] <= 1e-5
    assert sorted(figures["seeds"]) == ["21", "22", "23"]  # seeds no recipe choice looked at
    assert sum(s["clips"] for s in figures["seeds"].values()) == 120
    readings = figures["sample_clips"]
    assert all(r["right"] for r in readings.values()), readings  # each read as its class, in its event
    assert figures["macro_roc_auc"] >= MACRO_AUC and figures["accuracy"] >= ACCURACY
    assert figures["window_roc_auc"] >= WINDOW_AUC
    exp = figures["explanations"]
    assert exp["windows"] == 24 and exp["frame_occlusion_temporal_hit"] >= 0.8
    beats = exp["beats_random_deletion"]
    assert beats["gradcam_pp"] >= BEATS_RANDOM and beats["grad_x_input"] >= BEATS_RANDOM
    assert exp["pointing_game"]["grad_x_input"] >= 0.8
    recorded = ModelCard.read(demo_model_path().with_name(demo_model_path().stem + ".card.json")).extra[
        "evaluation"]["explanations"]
    for figure in ("pointing_game", "beats_random_deletion"):  # 24 of the card's 90 windows: near its figures
        assert exp[figure]["gradcam"] == pytest.approx(recorded[figure]["gradcam"], abs=0.15), figure
    assert recorded["pointing_game"]["gradcam"] < 0.5  # what the card and README say, not more
    assert "degraded" not in figures  # measured by tests/test_demo_degraded.py
    assert figures["unlike_training_rate_real_clip"] == 1.0
    assert figures["unlike_training_rate_heldout_windows"] <= HELDOUT_FLAGGED
    card = ModelCard.read(demo_model_path().with_name(demo_model_path().stem + ".card.json"))
    for key in ("accuracy", "macro_roc_auc", "window_roc_auc"):  # CPUs differ in the last bits
        assert card.extra["evaluation"][key] == pytest.approx(figures[key], abs=0.02), \
            "the shipped card carries the figures of the shipped weights"
