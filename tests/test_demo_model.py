import json

import numpy as np
import pytest

from crnnaudit import load_model
from crnnaudit.demo.model import (CLASSES, RECIPE_VERSION, build_demo, classification_figures, demo_is_current,
                                  demo_model_path, evaluate_demo, event_cells, roc_auc)


def test_roc_auc_by_hand():
    y = np.array([0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    assert roc_auc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
    f = classification_figures(np.array([0, 1, 2, 3]), np.eye(4))
    assert f["accuracy"] == 1.0 and f["macro_roc_auc"] == 1.0


def test_event_cells_reads_the_mask_at_cell_centres():
    masks = np.zeros((3, 70, 140), bool)
    masks[0, 10:20, 20:40] = True  # holds the centre of cell (1, 1): y 15, x 30
    masks[1, 0:3, 0:3] = True  # between centres: the cell it covers most, (0, 0)
    masks[2] = False  # no event on this frame
    cells = event_cells(masks)
    want = np.zeros((3, 7, 7), np.float32)
    want[0, 1, 1] = want[1, 0, 0] = 1
    np.testing.assert_array_equal(cells, want)
    masks[0, :, :] = True
    assert event_cells(masks)[0].sum() == 49


def test_reduced_build_end_to_end(tmp_path, monkeypatch, capsys):
    """Few clips, one epoch: the whole pipeline, not the quality."""
    monkeypatch.setenv("CRNNAUDIT_HOME", str(tmp_path))
    path = build_demo(train_clips=8, heldout_clips=4, epochs=1, validation_clips=4)
    assert path == demo_model_path() and path.exists()
    card = json.loads(path.with_name(path.stem + ".card.json").read_text())
    assert card["classes"] == CLASSES and card["anomaly_classes"] == ["fight", "fire", "shooting"]
    assert card["preprocessing"] == "vgg19" and card["frames_per_window"] == 16
    assert "demonstration" in card["intended_use"].lower()
    assert card["extra"]["recipe"]["trainable_layers"][0] == "block5_conv4"
    assert card["extra"]["recipe"]["version"] == RECIPE_VERSION
    assert [set(h) for h in card["extra"]["recipe"]["history"]] == [{"loss", "guidance_loss", "validation_accuracy"}]
    assert card["extra"]["recipe"]["kept_epoch"] == 1
    assert card["extra"]["evaluation"]["clips"] == 4 and "gradcam_pointing_game" in card["extra"]["evaluation"]
    model = load_model(path)
    assert model.target_layer == "block5_conv4" and model.verify() <= 1e-5
    assert model.describe()["conv_maps"] == [7, 7, 512]
    mtime = path.stat().st_mtime
    assert build_demo(train_clips=8, heldout_clips=4, epochs=1, validation_clips=4) == path  # reused, not rebuilt
    assert path.stat().st_mtime == mtime
    from crnnaudit.cli import main
    assert main(["demo"]) == 0 and "already built" in capsys.readouterr().out
    figures = evaluate_demo(path, heldout_clips=4)
    # A demo built by an older recipe is not current, and build_demo rebuilds it.
    card_path = path.with_name(path.stem + ".card.json")
    old = json.loads(card_path.read_text())
    old["extra"]["recipe"]["version"] = RECIPE_VERSION - 1
    card_path.write_text(json.dumps(old))
    assert not demo_is_current()
    assert build_demo(train_clips=8, heldout_clips=4, epochs=1, validation_clips=4) == path and demo_is_current()
    assert path.stat().st_mtime > mtime
    assert 0 <= figures["accuracy"] <= 1 and 0 <= figures["gradcam_pointing_game"] <= 1
    assert figures["anomalous_clips"] == 3 and figures["verify_max_abs_diff"] <= 1e-5


def test_full_demo_model_meets_the_quality_bars(full_demo, monkeypatch):
    """The real demo build (once per run) on 100 held-out clips."""
    monkeypatch.setenv("CRNNAUDIT_HOME", str(full_demo))
    figures = evaluate_demo()
    print(json.dumps(figures, indent=1))
    assert figures["clips"] >= 100
    assert figures["macro_roc_auc"] >= 0.95
    assert figures["accuracy"] >= 0.85
    assert figures["frame_occlusion_top_frame_in_interval"] >= 0.7
    assert figures["gradcam_pointing_game"] >= 0.6
    # Pixel saliency is measured for comparison; the guard keeps it from collapsing unnoticed
    # (0.52 measured; CPU training is not bit-exact from run to run, so it leaves a margin).
    assert figures["saliency_pointing_game"] >= 0.35
    card = json.loads(demo_model_path().with_name(demo_model_path().stem + ".card.json").read_text())
    assert card["extra"]["evaluation"]["accuracy"] == pytest.approx(figures["accuracy"], abs=0.03)
