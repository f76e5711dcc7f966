"""The model's frame rate (issue 34, point 1): a card's ``frame_rate`` samples every clip to it by
the clip's timestamps; windows count the model's frames, times stay the file's seconds; the same
content recorded at 12, 25 and 48 fps gives the same timeline; a clip recorded slower is scored
as it is, with a warning."""

from __future__ import annotations

import numpy as np
import pytest

import architectures as arch
from conftest import write_video
from crnnaudit import AuditedModel, CardError, ModelCard, open_clip
from crnnaudit.footage.sampling import sample_plan

S, T, SECONDS = 32, 8, 6.0


def _scene(t: float) -> np.ndarray:
    """What a camera sees at time ``t`` (seconds): a bright square drifting across a dim
    gradient and a slow brightness swell; the same scene whatever the camera's rate."""
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    img = 40 + 60 * xx / S + 30 * np.sin(2 * np.pi * t / SECONDS)
    cx, cy = 4 + 22 * t / SECONDS, 8 + 12 * abs(np.sin(np.pi * t / SECONDS))
    img = np.where((abs(xx - cx) < 5) & (abs(yy - cy) < 5), 230.0, img)
    return np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _recorded(folder, fps: float, later: float = 0.0):
    """The scene from ``later`` seconds on, for SECONDS, recorded at ``fps``."""
    frames = [_scene(later + i / fps) for i in range(int(round(SECONDS * fps)))]
    return write_video(folder / f"scene_{fps:g}fps_{later:g}.mp4", frames, fps=int(fps))


@pytest.fixture(scope="module")
def model():
    net = arch.td_cnn_gru_softmax(t=T, s=S, classes=2)
    return AuditedModel(net, ModelCard(classes=["normal", "fire"], anomaly_classes=["fire"], stride=4,
                                       frame_rate=12, preprocessing="unit"))


def test_sample_plan_by_hand():
    """25 fps to 12: the frame on screen at each tick of 1/12 s (0, 0.083, 0.167, 0.25, ...):
    frames 0 (0 s), 2 (0.08 s), 4 (0.16 s), 6 (0.24 s), ..., 12 (0.48 s), then 14 (0.56 s at
    the tick 0.583); 48 to 12: every 4th; 12 to 12: every frame; irregular times: the last frame
    shown at or before each tick, none twice."""
    plan = sample_plan(np.arange(50) / 25, 12)
    assert plan[:9].tolist() == [0, 2, 4, 6, 8, 10, 12, 14, 16] and len(plan) == 24
    assert sample_plan(np.arange(96) / 48, 12).tolist() == list(range(0, 96, 4))
    assert sample_plan(np.arange(24) / 12, 12).tolist() == list(range(24))
    vfr = np.array([0.0, 0.02, 0.05, 0.30, 0.31, 0.5, 0.52])  # a burst, a gap, a burst
    assert sample_plan(vfr, 4).tolist() == [0, 2, 5]  # ticks 0, 0.25 (frame 2 still shows), 0.5 (frame 5)
    assert sample_plan(vfr, 100).tolist() == list(range(7))  # faster than the clip: each frame once


def test_the_same_scene_at_12_25_and_48_fps_gives_the_same_timeline(model, tmp_path):
    timelines = {fps: model.score(open_clip(_recorded(tmp_path, fps))).table for fps in (12, 25, 48)}
    base = timelines[12]
    assert len(base) == (int(SECONDS * 12) - T) // 4 + 1
    for fps in (25, 48):
        t = timelines[fps]
        assert len(t) == len(base), fps  # the same windows: the model's frames, not the camera's
        np.testing.assert_allclose(t["start_s"], base["start_s"], atol=1 / fps + 1e-6)  # the file's seconds
        np.testing.assert_allclose(t["end_s"], base["end_s"], atol=1 / fps + 1e-6)
        assert np.max(np.abs(t["anomaly_score"] - base["anomaly_score"])) <= 0.02, fps
    # without a frame rate the 48 fps recording is read frame for frame: windows a quarter as long
    unsampled = AuditedModel(model.model, ModelCard(classes=["normal", "fire"], anomaly_classes=["fire"], stride=4,
                                                    preprocessing="unit"))
    assert len(unsampled.score(open_clip(tmp_path / "scene_48fps_0.mp4")).table) > 3 * len(base)


def test_a_sampled_clip_numbers_the_models_frames_and_keeps_the_files_seconds(model, tmp_path):
    clip = open_clip(_recorded(tmp_path, 25))
    seen = model.sampled(clip)
    assert seen.frame_count == 72 and seen.fps == 12 and clip.frame_count == 150
    assert [seen.source_frame(i) for i in range(4)] == [0, 2, 4, 6]
    assert seen.time_of(3) == pytest.approx(clip.time_of(6))
    w = seen.window(2, T, 4, (S, S))  # frames 8..15 of the model's sequence
    assert w.indices.tolist() == list(range(8, 16))
    np.testing.assert_array_equal(w.frames[0], clip.frame(seen.source_frame(8), (S, S)))
    assert w.times[0] == pytest.approx(clip.time_of(seen.source_frame(8)))
    facts = seen.facts()
    assert facts["frames"] == 150 and facts["fps"] == 25 and facts["model_frame_rate"] == 12
    assert facts["sampled"] and facts["recorded_frames"] == 150 and not facts["below_model_rate"]
    assert model.sampled(seen) is seen and seen.at_rate(None).frame_count == 150  # idempotent, undone


def test_a_clip_recorded_below_the_models_rate_is_scored_with_a_warning(model, tmp_path):
    clip = open_clip(_recorded(tmp_path, 8))
    seen = model.sampled(clip)
    assert seen.frame_count == clip.frame_count == 48 and seen.below_model_rate
    timeline = model.score(clip)
    assert len(timeline.table) == (48 - T) // 4 + 1  # every frame used
    warned = [w for w in timeline.clip_warnings if "below the 12 fps" in w]
    assert warned and "8 fps" in warned[0] and "1.5 times" in warned[0]
    assert not any("below" in w for w in model.sampled(open_clip(_recorded(tmp_path, 12))).warnings())


@pytest.mark.parametrize("bad", [0, -5, "12", True, 5000])
def test_a_bad_frame_rate_is_refused_naming_the_field(bad):
    with pytest.raises(CardError, match="'frame_rate'"):
        ModelCard(classes=["a"], frame_rate=bad).validate()
    assert ModelCard(classes=["a"], frame_rate=12).validate().frame_rate == 12.0


def test_calibrate_records_the_frame_rate_and_reads_the_clips_at_it(model, tmp_path):
    from crnnaudit import calibrate_card
    path = tmp_path / "m.keras"
    model.model.save(path)
    ModelCard(classes=["normal", "fire"], anomaly_classes=["fire"], stride=4, preprocessing="unit").write(
        tmp_path / "m.card.json")
    clips = [_recorded(tmp_path, 25, later) for later in (0, 1.5, 3, 4.5)]
    card_path, entry = calibrate_card(path, clips, frame_rate=12)
    card = ModelCard.read(card_path)
    # 3 of the 4 clips make the statistics (the 4th sets the threshold): 6 s at 12 fps each, not 150 frames
    assert card.frame_rate == 12.0 and entry["frames"] == 3 * 72, entry
    with pytest.raises(CardError, match="'frame_rate'"):
        calibrate_card(path, clips, frame_rate=-1)
    assert ModelCard.read(card_path).frame_rate == 12.0, "a refused rate changes nothing"


def test_a_review_of_a_faster_recording_shows_and_explains_the_models_frames(model, tmp_path):
    """Through the review service (pages and the command line): the timeline, the window on
    screen and the explained window all come from the clip as the model sees it."""
    from crnnaudit.review import ReviewSession, World, violations
    from test_review import Who
    folder = tmp_path / "models"
    folder.mkdir()
    model.model.save(folder / "m.keras")
    model.card.write(folder / "m.card.json")
    samples = tmp_path / "samples"
    samples.mkdir()
    clip_path = _recorded(samples, 48)
    review = ReviewSession(World(default_model=str(folder / "m.keras"), samples=samples), Who("ana"))
    review.settle()
    assert review.state.clip_path == str(clip_path)
    seen = review.clip()
    assert seen.frame_count == 72 and seen.model_rate == 12  # 6 s of 48 fps, as the model sees it
    timeline = review.timeline()
    assert len(timeline.table) == (72 - T) // 4 + 1
    review.select_window(3)
    review.explain()
    expected = model.sampled(open_clip(clip_path)).window(3, T, 4, (S, S))
    np.testing.assert_array_equal(review.window().frames, expected.frames)
    assert review.window().times[0] == pytest.approx(timeline.table.loc[3, "start_s"])
    assert review.screen().explained_window == 3 and violations(review.state, review) == []


def test_a_clip_is_sampled_once_per_rate(model, tmp_path):
    clip = open_clip(_recorded(tmp_path, 25))
    assert model.sampled(clip) is model.sampled(clip)  # the review asks on every rerun
    assert clip.at_rate(6).frame_count == 36 and clip.at_rate(12).frame_count == 72
