"""Every window of a clip explained from one pass of its frames through the CNN: the same
results as explaining each window on its own (the independent path), for less work."""

from __future__ import annotations

import numpy as np
import pytest

import architectures as arch
from crnnaudit import ModelCard
from crnnaudit.errors import ExplanationError
from crnnaudit.explainers import ExplanationCache, explain
from crnnaudit.explainers.clip import CLIP_METHODS, explain_clip
from crnnaudit.model import AuditedModel
from crnnaudit.footage.video import open_clip
from conftest import write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 255, (21, 32, 32, 3), dtype=np.uint8)  # 21 frames: windows 0..3 at T=8, stride 4
    return open_clip(write_video(tmp_path_factory.mktemp("c") / "c.mp4", frames))


@pytest.mark.parametrize("build", [arch.td_cnn_gru_softmax, arch.td_per_layer_lstm])
def test_every_window_equals_its_own_explanation(build, clip):
    model = AuditedModel(build(t=8, s=32), ModelCard(stride=4))
    got = list(explain_clip(model, clip, CLIP_METHODS, cache=False))
    assert [e.window.index for e in got] == [0, 1, 2, 3]
    for e in got:
        alone = clip.window(e.window.index, 8, 4, model.frame_size)
        assert e.window.describe() == alone.describe()
        np.testing.assert_array_equal(e.window.frames, alone.frames)
        ref = explain(model, alone, list(CLIP_METHODS), cache=False)
        assert e.explanations.target == ref.target
        np.testing.assert_allclose(e.explanations.logits, ref.logits, rtol=1e-5, atol=1e-5)
        for m in CLIP_METHODS:
            a, b = e.explanations[m], ref[m]
            np.testing.assert_allclose(a.frame_scores, b.frame_scores, rtol=1e-4, atol=1e-5)
            if b.maps is not None:
                np.testing.assert_allclose(a.maps, b.maps, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(e.features, model.frame_features(model.prepare(alone.frames)),
                                   rtol=1e-5, atol=1e-6)


def test_subset_pixel_methods_and_cache_are_shared(clip, tmp_path):
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    store = ExplanationCache(tmp_path / "cache")
    got = list(explain_clip(model, clip, ["saliency", "gradcam"], windows=[2, 0], target=1, cache=store))
    assert [e.window.index for e in got] == [0, 2]
    ref = explain(model, clip.window(2, 8, 4, model.frame_size), ["saliency", "gradcam"], target=1, cache=False)
    np.testing.assert_allclose(got[1].explanations["saliency"].maps, ref["saliency"].maps, rtol=1e-4, atol=1e-6)
    # the per-window path finds what the clip pass stored
    again = explain(model, clip.window(0, 8, 4, model.frame_size), ["gradcam"], target=1, cache=store)
    np.testing.assert_array_equal(again["gradcam"].maps, got[0].explanations["gradcam"].maps)
    assert again["gradcam"].provenance == got[0].explanations["gradcam"].provenance


def test_a_clip_explained_again_reads_each_cache_entry_once(clip, tmp_path, monkeypatch):
    """A clip whose windows are all in the cache: served from it, each entry read once (the block
    path once read every entry to see whether all were there, then again to serve them), and
    the same explanations as the first time."""
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    store = ExplanationCache(tmp_path / "cache")
    first = list(explain_clip(model, clip, ["saliency", "gradcam"], cache=store))
    reads: list[str] = []
    read = ExplanationCache.get
    monkeypatch.setattr(ExplanationCache, "get", lambda self, key: reads.append(key) or read(self, key))
    again = list(explain_clip(model, clip, ["saliency", "gradcam"], cache=store))
    assert len(reads) == len(set(reads)) == 2 * len(first) == 8
    for a, b in zip(first, again):
        for m in ("saliency", "gradcam"):
            np.testing.assert_array_equal(a.explanations[m].maps, b.explanations[m].maps)
        np.testing.assert_allclose(a.features, b.features, rtol=1e-5, atol=1e-6)


def test_a_window_the_clip_lacks_is_refused(clip):
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    with pytest.raises(ExplanationError, match="no window 9"):
        list(explain_clip(model, clip, windows=[9], cache=False))


def test_a_model_without_conv_layer_gets_its_temporal_methods_from_one_pass(clip):
    model = AuditedModel(arch.no_conv_dense(t=8), ModelCard(stride=4))
    methods = ["frame_occlusion", "temporal_ig", "prefix_score"]
    for e in explain_clip(model, clip, methods, cache=False):
        ref = explain(model, clip.window(e.window.index, 8, 4, model.frame_size), methods, cache=False)
        for m in methods:
            np.testing.assert_allclose(e.explanations[m].frame_scores, ref[m].frame_scores, rtol=1e-4, atol=1e-5)
