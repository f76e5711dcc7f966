"""Each map's verdict for many windows in the same CNN passes (issue 36, point 3): every
window's verdict equals the one it gets alone, the frames several windows hold go through
the CNN once (counted), and each random deletion is the one the documented draw gives
(recomputed by hand through the Keras model)."""

import cv2
import numpy as np
import pytest

import architectures as arch
from crnnaudit import AuditedModel, explain, trust
from crnnaudit.errors import ExplanationError
from crnnaudit.footage.video import Window
from crnnaudit.trust import memo as memo_module
from crnnaudit.trust.perturb import top_share
from crnnaudit.trust.verdict import random_maps, verdicts_many

DRAWS = 5


def _clip_windows(model, frames_in_clip=10, stride=2):
    """Windows of ``model.window_length`` frames every ``stride`` frames of one random clip."""
    T = model.window_length
    clip = np.random.default_rng(7).integers(0, 256, (frames_in_clip,) + model.frame_size + (3,), dtype=np.uint8)
    return [Window(clip[s:s + T], np.arange(s, s + T), np.arange(s, s + T) / 10.0, k, stride, "d" * 64)
            for k, s in enumerate(range(0, frames_in_clip - T + 1, stride))]


@pytest.fixture
def counted(monkeypatch):
    """The model, with the number of frames each CNN pass was given recorded."""
    model = AuditedModel(arch.td_cnn_gru_softmax())
    seen = []
    inner = model.frame_features

    def frame_features(x):
        seen.append(len(x))
        return inner(x)
    monkeypatch.setattr(model, "frame_features", frame_features)
    memo_module._MEMO.clear()
    yield model, seen
    memo_module._MEMO.clear()


def test_many_windows_give_what_each_gives_alone_from_fewer_frames(counted):
    model, seen = counted
    windows = _clip_windows(model)
    T, n = model.window_length, len(windows)
    sets = [explain(model, w, ["gradcam", "saliency", "frame_occlusion"], cache=False) for w in windows]
    resolutions = {tuple(es[m].maps.shape[1:3]) for es in sets for m in es.spatial()}
    assert len(resolutions) == 2  # Grad-CAM at the conv maps' size, saliency at the pixels'

    alone = [trust.verdicts(model, w, es, draws=DRAWS) for w, es in zip(windows, sets)]
    rows_alone = sum(seen)
    # by hand: per window, its frames, each map's deletion, and DRAWS random deletions per resolution
    assert rows_alone == n * T * (1 + 2 + 2 * DRAWS)

    memo_module._MEMO.clear()
    seen.clear()
    together = verdicts_many(model, windows, sets, draws=DRAWS)
    frames_held = windows[-1].indices[-1] + 1  # every frame of the clip is in some window
    # each distinct frame once, and its random deletions once; the maps' deletions per window
    assert sum(seen) == frames_held * (1 + 2 * DRAWS) + n * T * 2 < rows_alone
    for one, many in zip(alone, together):
        assert one.keys() == many.keys()
        for m in one:
            assert many[m]["drop"] == pytest.approx(one[m]["drop"], rel=1e-5, abs=1e-6)
            np.testing.assert_allclose(many[m]["random_drops"], one[m]["random_drops"], rtol=1e-5, atol=1e-6)
            assert (many[m]["as_much"], many[m]["p_value"]) == (one[m]["as_much"], one[m]["p_value"])
    seen.clear()
    assert trust.verdicts(model, windows[1], sets[1], draws=DRAWS) is together[1] and not seen  # the memo serves it


def test_a_random_deletion_is_the_documented_draw(counted):
    """Window 1's third saliency draw, rebuilt from random_maps and scored by the Keras model."""
    model, _ = counted
    windows = _clip_windows(model)
    sets = [explain(model, w, ["saliency"], cache=False) for w in windows]
    found = verdicts_many(model, windows, sets, draws=DRAWS)
    w, T = windows[1], model.window_length
    H, W = model.frame_size
    # a frame two windows hold draws the same maps in both; the frames of one window differ
    assert np.array_equal(random_maps(w, 0, (H, W), DRAWS, 0), random_maps(windows[0], 2, (H, W), DRAWS, 0))
    assert not np.array_equal(random_maps(w, 0, (H, W), DRAWS, 0), random_maps(w, 1, (H, W), DRAWS, 0))
    d = 2
    masks = np.concatenate([top_share(random_maps(w, t, (H, W), DRAWS, 0)[d:d + 1], (H, W), 0.2) for t in range(T)])
    blur = np.stack([cv2.GaussianBlur(f, (0, 0), max(H, W) / 16) for f in w.frames])
    deleted = np.where(masks, blur, w.frames)
    target = sets[1].target
    p = lambda x: float(model.model(model.prepare(x)[None]).numpy()[0, target])  # noqa: E731 (softmax output)
    assert found[1]["saliency"]["random_drops"][d] == pytest.approx(p(w.frames) - p(deleted), abs=1e-5)


def test_a_padded_window_draws_each_repeated_frame_anew():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    T = model.window_length
    frames = np.zeros((T,) + model.frame_size + (3,), np.uint8)
    w = Window(frames, np.zeros(T, int), np.zeros(T), 0, T, "e" * 64, padded=True)
    assert not np.array_equal(random_maps(w, 0, (4, 4), 3, 0), random_maps(w, 1, (4, 4), 3, 0))


def test_explanation_sets_must_match_the_windows():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    with pytest.raises(ExplanationError, match="2 windows but 1 explanation sets"):
        verdicts_many(model, _clip_windows(model)[:2], [None])
