import json

import numpy as np
import pytest

from crnnaudit import CrnnauditError, open_clip
from crnnaudit.demo import CLASSES, synth_clip, synthesize


def test_same_seed_same_clip_other_seed_other_clip():
    a, b, c = synth_clip("fire", 3, frames=12), synth_clip("fire", 3, frames=12), synth_clip("fire", 4, frames=12)
    np.testing.assert_array_equal(a.frames, b.frames)
    assert not np.array_equal(a.frames, c.frames)


@pytest.mark.parametrize("label", CLASSES)
def test_ground_truth_matches_what_is_drawn(label):
    clip = synth_clip(label, 1, frames=30)
    if label == "normal":
        assert clip.interval is None and not clip.masks.any()
        return
    first, last = clip.interval
    assert 0 < first <= last == 29
    assert not clip.masks[:first].any() and clip.masks[first:].any(axis=(1, 2)).all()
    # the anomaly changes pixels inside its mask: compare with the same scene as normal
    normal = synth_clip("normal", 1, frames=30)
    t = min(first + 2, 29)
    diff = np.abs(clip.frames[t].astype(int) - normal.frames[t]).sum(-1) > 30
    assert diff[clip.masks[t]].mean() > diff[~clip.masks[t]].mean()


def test_written_clips_are_h264_with_truth(tmp_path):
    paths = synthesize(tmp_path, count=4, seed=2, frames=16)
    assert [p.name.split("_")[0] for p in paths] == CLASSES
    for p in paths:
        clip = open_clip(p)
        assert clip.codec == "h264" and clip.frame_count == 16
        truth = clip.ground_truth
        meta = json.loads(p.with_name(p.stem + ".truth.json").read_text())
        assert truth.label == meta["label"] and truth.masks.shape == (16, 120, 160)
    with pytest.raises(CrnnauditError, match="not one of"):
        synth_clip("riot", 0)
    with pytest.raises(CrnnauditError, match="at least 1"):
        synthesize(tmp_path, count=0)


def test_committed_sample_videos_have_truth():
    from pathlib import Path
    folder = Path(__file__).resolve().parents[1] / "sample_videos"
    clips = sorted(folder.glob("*.mp4"))
    assert {p.name.split("_")[0] for p in clips} == set(CLASSES)
    for p in clips:
        assert open_clip(p).ground_truth is not None
