"""'Unlike the training data': feature statistics, their threshold, and where they show."""

import json
import shutil

import numpy as np
import pytest

import architectures as arch
from crnnaudit import CardError, ModelCard, load_model, open_clip
from crnnaudit.cli.main import main
from crnnaudit.model.calibration import calibrate, clip_features
from crnnaudit.model.statistics import NO_STATISTICS, SHRINKAGE, FeatureStats, familiarity


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calib")
    path = folder / "m.keras"
    arch.td_cnn_gru_softmax(t=8, s=32, classes=4).save(path)
    ModelCard(name="m", classes=["normal", "fight", "fire", "shooting"], stride=4).write(folder / "m.card.yaml")
    return path


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from crnnaudit.demo import synthesize
    return synthesize(tmp_path_factory.mktemp("calclips"), count=8, seed=11, frames=24)


def test_distance_by_hand():
    stats = FeatureStats(mean=np.array([1.0, 0.0]), precision=np.array([[4.0, 0.0], [0.0, 1.0]]),
                         threshold=2.0, percentile=99.0, frames=10)
    f = np.array([[2.0, 1.0], [1.0, 0.0]])  # d^2 = 4*1 + 1 = 5, then 0; divided by F = 2
    np.testing.assert_allclose(stats.distances(f), [2.5, 0.0])
    assert stats.window_distance(f) == pytest.approx(1.25)
    diag = FeatureStats(np.zeros(2), np.array([4.0, 1.0]), 2.0, 99.0, 10)
    np.testing.assert_allclose(diag.distances(f - [1.0, 0.0]), [2.5, 0.0])


def test_calibrate_matches_an_independent_computation(model_path, synthetic):
    model = load_model(model_path)
    stats = calibrate(model, synthetic, percentile=90.0, holdout_every=4)
    feats = [clip_features(model, open_clip(p)).reshape(24, -1).astype(np.float64) for p in synthetic]
    fit = np.concatenate([f for i, f in enumerate(feats) if i % 4 != 3])
    mean = fit.mean(0)
    cov = np.cov(fit.T, bias=True)
    cov = (1 - SHRINKAGE) * cov + SHRINKAGE * np.trace(cov) / len(mean) * np.eye(len(mean))
    prec = np.linalg.inv(cov)
    np.testing.assert_allclose(stats.mean, mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(stats.precision, prec, rtol=1e-4, atol=1e-6)
    d = []
    for f in (feats[3], feats[7]):
        for s in range(0, 24 - 8 + 1, 4):
            x = f[s:s + 8] - mean
            d.append(np.mean(np.einsum("nf,fg,ng->n", x, prec, x)) / len(mean))
    assert stats.threshold == pytest.approx(np.percentile(d, 90.0), rel=1e-4)
    assert stats.frames == 6 * 24


def test_calibrated_card_flags_unlike_footage_and_survives_no_tampering(model_path, synthetic, vtest, tmp_path, capsys,
                                                                      monkeypatch):
    folder = tmp_path / "m"
    shutil.copytree(model_path.parent, folder)
    path = folder / "m.keras"
    monkeypatch.setenv("CRNNAUDIT_MODELS_DIR", str(folder))  # calibrate writes the card: a model from there
    assert main(["calibrate", str(path), str(synthetic[0].parent)]) == 0
    assert "threshold" in capsys.readouterr().out
    card = ModelCard.read(folder / "m.card.yaml")
    assert card.calibration["file"] == "m.features.npz" and card.calibration["clips"] == 8
    model = load_model(path)
    assert model.feature_stats.threshold == pytest.approx(card.calibration["threshold"])
    real = model.score(open_clip(vtest)).table
    assert real["unlike_training"].all(), "real footage is unlike synthetic scenes"
    same = model.score(open_clip(synthetic[1])).table
    assert not same["unlike_training"].all()
    out = tmp_path / "t.csv"
    assert main(["score", str(path), str(vtest), "--out", str(out)]) == 0
    assert "unlike the data the model was trained on" in capsys.readouterr().out
    window = open_clip(vtest).window(0, 8, 4, model.frame_size)
    check = familiarity(model, window.frames)
    assert check["unlike_training"] and "UNLIKE" in check["statement"]
    stats_file = folder / "m.features.npz"
    data = bytearray(stats_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stats_file.write_bytes(bytes(data))
    with pytest.raises(CardError, match="do not match the SHA-256"):
        load_model(path)


def test_without_statistics_scoring_is_as_before_and_says_so(model_path, synthetic, capsys):
    model = load_model(model_path)
    table = model.score(open_clip(synthetic[0])).table
    assert "unlike_training" not in table and model.feature_stats is None
    assert familiarity(model, np.zeros((8, 32, 32, 3), np.uint8)) == {"checked": False, "statement": NO_STATISTICS}
    assert main(["score", str(model_path), str(synthetic[0]), "--out", str(model_path.parent / "x.csv")]) == 0
    assert "no check is possible" in capsys.readouterr().out


def test_calibration_needs_enough_clips(model_path, synthetic):
    from crnnaudit import ModelError
    with pytest.raises(ModelError, match="at least 4 clips"):
        calibrate(load_model(model_path), synthetic[:2])
    assert json.dumps(FeatureStats(np.zeros(1), np.ones(1), 1.0, 99.0, 1).threshold) == "1.0"
