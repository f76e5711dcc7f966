"""Image-quality checks: each measure against a hand-computed value, the calibrated bounds,
and the window status a degraded clip gets through the scoring path."""

import numpy as np
import pytest

import architectures as arch
from crnnaudit.footage import quality
from crnnaudit import AuditedModel, ModelCard, open_clip
from crnnaudit.decision import NO_RELIABLE_READING
from crnnaudit.errors import CardError
from conftest import write_video


def _grey(level, n=1, size=32):
    return np.full((n, size, size, 3), level, np.uint8)


def test_measures_of_a_flat_frame_by_hand():
    m = quality.frame_measures(_grey(90, 2))
    sharp, bright, contrast, noise, block, step = m[0]
    assert sharp == 0 and contrast == 0 and noise == 0
    assert bright == pytest.approx(90, abs=0.01)  # luminance of grey 90 is 90
    assert block == pytest.approx(1.0)  # no steps anywhere: edges and insides alike
    assert np.isnan(step) and m[1, 5] == 0  # the first frame has no previous; the second repeats it


def test_noise_estimate_recovers_the_noise_added():
    rng = np.random.default_rng(0)
    frames = np.clip(120 + rng.normal(0, 10, (1, 128, 128, 1)), 0, 255).repeat(3, -1).astype(np.uint8)
    noise = quality.frame_measures(frames)[0, 3]
    assert noise == pytest.approx(10, rel=0.1)  # Immerkaer's estimate of white noise, sigma 10


def test_blockiness_sees_blocks_on_the_grid():
    rng = np.random.default_rng(1)
    blocks = rng.integers(60, 200, (8, 8)).repeat(quality.BLOCK, 0).repeat(quality.BLOCK, 1)
    frame = np.repeat(blocks[None, ..., None], 3, -1).astype(np.uint8)
    smooth = np.repeat(np.linspace(0, 255, 32)[None, None, :, None], 32, 1).repeat(3, -1).astype(np.uint8)
    assert quality.frame_measures(frame)[0, 4] > 100  # every step lies on a block edge
    assert quality.frame_measures(smooth)[0, 4] == pytest.approx(1.0, rel=0.05)  # a ramp: steps everywhere alike


def test_window_values_and_the_frozen_share():
    a, b = _grey(50), _grey(200)
    m = quality.frame_measures(np.concatenate([a, a, a, b]))
    vals = quality.window_values(m)
    assert vals["still"] == pytest.approx(2 / 3)  # pairs (a,a) (a,a) (a,b): two of three repeat
    assert vals["brightness"] == pytest.approx(50, abs=0.01)  # the median frame


def test_bounds_calibrate_widen_and_fire_on_the_right_side():
    rng = np.random.default_rng(2)
    windows = [{"sharpness": float(s), "brightness": float(b), "contrast": 15.0, "noise": 1.5,
                "blockiness": 1.0, "still": 0.0}
               for s, b in zip(rng.uniform(100, 200, 200), rng.uniform(100, 120, 200))]
    bounds = quality.calibrate_bounds(windows)
    lo_s = np.percentile(np.log([w["sharpness"] for w in windows]), 0.5)
    hi_s = np.percentile(np.log([w["sharpness"] for w in windows]), 99.5)
    assert bounds.low["sharpness"] == pytest.approx(np.exp(lo_s - max(0.5 * (hi_s - lo_s), np.log(1.5))))
    assert bounds.high["sharpness"] is None  # a sharp frame is never degraded
    assert bounds.low["noise"] is None and bounds.high["noise"] == pytest.approx(1.5 * 1.5)  # the floor
    assert bounds.high["still"] == pytest.approx(0.2)
    clean = dict(windows[0])
    assert bounds.check(clean) == []
    blurred = dict(clean, sharpness=3.0)
    dark = dict(clean, brightness=20.0)
    assert [f["check"] for f in bounds.check(blurred)] == ["blur"]
    fired = bounds.check(dark)
    assert [f["check"] for f in fired] == ["exposure"] and fired[0]["side"] == "below"
    assert "exposure" in quality.statement(fired) and "20" in quality.statement(fired)
    again = quality.QualityBounds.from_dict(bounds.to_dict())
    assert again.check(blurred) == bounds.check(blurred)


@pytest.mark.parametrize("bad", ["bounds", {"low": 1}, {"low": {"sharpness": "x"}, "high": {}},
                                 {"low": {"colour": 1.0}, "high": {}}, {"low": {}, "high": {"noise": float("nan")}}])
def test_bad_bounds_in_a_card_are_refused(bad):
    with pytest.raises(CardError, match="calibration.quality"):
        ModelCard(classes=["normal", "fight"], calibration={"file": "x.npz", "threshold": 1.0, "quality": bad}).validate()


def _bounds_card(withhold: bool) -> ModelCard:
    windows = [{"sharpness": 50.0 + i, "brightness": 100.0 + i % 7, "contrast": 20.0, "noise": 5.0,
                "blockiness": 1.0, "still": 0.0} for i in range(50)]
    return ModelCard(classes=["normal", "fight", "fire"], anomaly_classes=["fight", "fire"], stride=4,
                     withhold_unreliable=withhold,
                     calibration={"file": "unused.npz", "threshold": 1.0,
                                  "quality": quality.calibrate_bounds(windows).to_dict()})


@pytest.mark.parametrize("withhold", [True, False])
def test_a_dark_clip_gets_no_reliable_reading_unless_the_card_decides_anyway(tmp_path, withhold):
    """Through the scoring path: an unlit clip fires the exposure check on every window; the
    card's default withholds the decision, ``withhold_unreliable: false`` keeps it."""
    net = arch.td_cnn_gru_softmax(t=8, s=32)
    rng = np.random.default_rng(3)
    frames = np.clip(rng.normal(12, 3, (16, 32, 32, 3)), 0, 255).astype(np.uint8)
    path = write_video(tmp_path / "dark.mp4", frames)
    model = AuditedModel(net, _bounds_card(withhold))
    t = model.score(open_clip(path)).table
    assert (t["quality_flags"].str.contains("exposure")).all() and not t["reliable"].any()
    assert (t["q_brightness"] < 30).all()
    if withhold:
        assert (t["decision"] == NO_RELIABLE_READING).all()
    else:
        expected = np.where(t["anomaly_score"] >= model.card.threshold, "anomaly", "normal")
        assert (t["decision"].to_numpy() == expected).all()


def test_the_card_and_the_checks_name_the_same_measures():
    """A card's calibration.quality is checked against the vocabulary's list; the checks measure
    exactly those."""
    from crnnaudit.vocabulary import QUALITY_MEASURES
    assert tuple(quality.MEASURES) == QUALITY_MEASURES
    with pytest.raises(CardError, match="known measure"):
        ModelCard(calibration={"file": "x.npz", "threshold": 1.0,
                               "quality": {"low": {"sharpnes": 1.0}, "high": {}}}).validate()
