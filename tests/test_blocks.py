"""Pixel gradients of many windows from one forward pass of their frames (``blocks``): the
plan by hand, and every window's explanation against the independent path (each window
through :func:`explain` on its own), over architectures, strides, subsets, targets, block
sizes and a clip shorter than a window."""

from __future__ import annotations

import architectures as arch
import numpy as np
import pytest
from conftest import write_video

from crnnaudit import ModelCard
from crnnaudit.explainers import ExplanationCache, blocks, explain
from crnnaudit.explainers.clip import explain_clip
from crnnaudit.explainers.passes import CompiledPasses
from crnnaudit.footage.video import open_clip
from crnnaudit.model import AuditedModel

# Batched and one-window passes sum in different orders (oneDNN picks its kernels by batch size):
# a clean-clone CI run saw a Grad-CAM map differ by 1.7e-5 of its peak on 7 of 7,200 pixels, where
# this machine saw under 1e-5. The bound is the backend tests' (tests/test_backends.py); an error
# of the block pass (a window pulled back with another's gradient) is of the map's own size.
NOISE = 1e-4
PIXEL = ["saliency", "grad_x_input", "gradcam", "frame_occlusion", "temporal_ig", "prefix_score"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    frames = np.random.default_rng(5).integers(0, 255, (29, 32, 32, 3), dtype=np.uint8)
    return open_clip(write_video(tmp_path_factory.mktemp("b") / "b.mp4", frames))


def test_the_plan_and_the_segments_by_hand():
    assert [(b.first, b.stop, b.windows) for b in blocks.plan([0, 4, 8, 12], 8, 16)] == \
        [(0, 16, [0, 1, 2]), (12, 20, [3])]
    # windows that share no frame with the block before start their own
    assert [(b.first, b.stop, b.windows) for b in blocks.plan([0, 8, 30], 8, 64)] == \
        [(0, 8, [0]), (8, 16, [1]), (30, 38, [2])]
    assert [b.windows for b in blocks.plan([0, 4, 8, 12, 16], 8, 64, max_windows=2)] == [[0, 1], [2, 3], [4]]
    assert blocks.segments([0, 4, 8], 8) == [(0, 4), (4, 8), (8, 12), (12, 16)]
    assert blocks.segments([0, 3, 5], 8) == [(0, 3), (3, 5), (5, 8), (8, 11), (11, 13)]
    assert blocks.segments([0], 8) == [(0, 8)]


def _compare(model, clip, got, methods, target=None, stride=None):
    stride = stride or model.card.stride
    for e in got:
        alone = clip.window(e.window.index, model.window_length, stride, model.frame_size)
        assert e.window.describe() == alone.describe()
        ref = explain(model, alone, methods, target=target, cache=False)
        assert e.explanations.target == ref.target
        np.testing.assert_allclose(e.explanations.logits, ref.logits, rtol=1e-5, atol=1e-6)
        for m in methods:
            a, b = e.explanations[m], ref[m]
            np.testing.assert_allclose(a.frame_scores, b.frame_scores, rtol=1e-4, atol=1e-6, err_msg=m)
            if b.maps is not None:  # relative to the map's own peak, within TensorFlow's own noise
                scale = float(np.abs(b.maps).max()) or 1.0
                np.testing.assert_allclose(a.maps / scale, b.maps / scale, rtol=0, atol=NOISE, err_msg=m)
        np.testing.assert_allclose(e.features, model.frame_features(model.prepare(alone.frames)),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build,stride", [(arch.td_cnn_gru_softmax, 4), (arch.td_per_layer_lstm, 2),
                                          (arch.td_cnn_gru_sigmoid, 8), (arch.bidirectional_gru, 3),
                                          (arch.return_sequences_pooling, 5)])
def test_every_window_from_blocks_equals_its_own_explanation(build, stride, clip, monkeypatch):
    model = AuditedModel(build(t=8, s=32), ModelCard(stride=stride))
    calls = []
    real = CompiledPasses.run_shared
    monkeypatch.setattr(CompiledPasses, "run_shared", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    got = list(explain_clip(model, clip, PIXEL, cache=False))
    assert [e.window.index for e in got] == list(range(clip.window_count(8, stride)))
    assert calls == [], "a full window went through its own pass instead of its block's"
    _compare(model, clip, got, PIXEL)


def test_small_blocks_subsets_and_a_given_target(clip, monkeypatch):
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    # blocks of 16 and 12 frames: two layouts of windows, each its own compiled pass
    monkeypatch.setattr(blocks, "block_frames", lambda m: 16)
    assert [(b.first, b.stop) for b in blocks.plan([0, 4, 8, 16, 20], 8, 16)] == [(0, 16), (16, 28)]
    got = list(explain_clip(model, clip, ["saliency", "gradcam"], windows=[5, 0, 1, 4, 2], target=2, cache=False))
    assert [e.window.index for e in got] == [0, 1, 2, 4, 5]
    _compare(model, clip, got, ["saliency", "gradcam"], target=2)


def test_a_clip_shorter_than_a_window_and_the_cache(tmp_path):
    frames = np.random.default_rng(6).integers(0, 255, (5, 32, 32, 3), dtype=np.uint8)
    short = open_clip(write_video(tmp_path / "short.mp4", frames))
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    store = ExplanationCache(tmp_path / "cache")
    got = list(explain_clip(model, short, PIXEL, cache=store))
    assert len(got) == 1 and got[0].window.padded
    _compare(model, short, got, PIXEL)
    # a second time, from the cache
    again = list(explain_clip(model, short, PIXEL, cache=store))
    np.testing.assert_array_equal(again[0].explanations["saliency"].maps, got[0].explanations["saliency"].maps)


def test_a_cached_clip_runs_no_block_pass(clip, tmp_path, monkeypatch):
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    store = ExplanationCache(tmp_path / "cache")
    first = list(explain_clip(model, clip, ["saliency"], cache=store))
    monkeypatch.setattr(blocks, "run_block", lambda *a, **k: pytest.fail("a block pass for cached windows"))
    again = list(explain_clip(model, clip, ["saliency"], cache=store))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.explanations["saliency"].maps, b.explanations["saliency"].maps)
        np.testing.assert_allclose(a.features, b.features, rtol=1e-6)


@pytest.mark.parametrize("methods", [["saliency", "gradcam"], ["gradcam", "temporal_ig"]])
def test_windows_far_apart_send_only_their_own_frames_through_the_cnn(clip, methods, monkeypatch):
    """Windows 0 and 5 (frames 0-7 and 20-27): the frames between them are decoded, not kept
    or sent through the CNN, on the block path (saliency) and the conv-map path alike."""
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(stride=4))
    seen = []
    conv_maps, run_block = CompiledPasses.conv_maps, blocks.run_block
    monkeypatch.setattr(CompiledPasses, "conv_maps", lambda self, x: seen.append(len(x)) or conv_maps(self, x))
    monkeypatch.setattr(blocks, "run_block", lambda m, x, *a: seen.append(len(x)) or run_block(m, x, *a))
    got = list(explain_clip(model, clip, methods, windows=[5, 0], cache=False))
    assert [e.window.index for e in got] == [0, 5] and sum(seen) == 16, seen
    _compare(model, clip, got, methods)


def test_a_sampled_clip_keeps_only_the_frames_asked_for(tmp_path):
    frames = np.random.default_rng(7).integers(0, 255, (30, 32, 32, 3), dtype=np.uint8)
    clip = open_clip(write_video(tmp_path / "c.mp4", frames, fps=24)).at_rate(12)  # every other frame
    every = dict(clip.iter_frames(0, clip.frame_count))
    kept = dict(clip.iter_frames(0, clip.frame_count, keep=lambda i: i % 3 == 0))
    assert sorted(kept) == [i for i in range(clip.frame_count) if i % 3 == 0]
    for i, img in kept.items():
        np.testing.assert_array_equal(img, every[i])
