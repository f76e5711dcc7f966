"""The rooms made by the split: capabilities in the registry, the window scheduler, cards that
are completed without being changed, and the compiled passes kept per model."""

import gc
import weakref

import numpy as np
import pytest

import architectures as arch
from crnnaudit import REGISTRY, AuditedModel, CardError, ModelCard, explain
from crnnaudit.explainers.passes import CompiledPasses
from crnnaudit.model import WindowScheduler, decompose


def _frames(model, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (model.window_length,) + model.frame_shape, dtype=np.uint8)


def test_methods_declare_what_they_are():
    assert REGISTRY["prefix_score"].contribution is False and REGISTRY["prefix_score"].ranks_frames is False
    assert REGISTRY["temporal_ig"].convergence == "completeness_gap"
    assert REGISTRY["frame_occlusion"].contribution and REGISTRY["frame_occlusion"].ranks_frames
    assert all(m.kind in ("spatial", "temporal") for m in REGISTRY.values())


def test_explanation_set_answers_spatial_temporal_and_ranking():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    frames = _frames(model)
    es = explain(model, frames, ["prefix_score", "gradcam", "temporal_ig", "saliency"], cache=False)
    assert es.spatial() == ["gradcam", "saliency"]
    assert es.temporal() == ["prefix_score", "temporal_ig"]
    assert es.temporal(contributions_only=True) == ["temporal_ig"]
    assert es.ranking() == "temporal_ig"  # the first temporal method that ranks frames
    only_prefix = explain(model, frames, ["prefix_score", "saliency"], cache=False)
    assert only_prefix.ranking() == "saliency"  # a running score does not rank frames
    assert explain(model, frames, ["prefix_score"], cache=False).ranking() is None


def test_window_scheduler_hands_out_windows_in_order_and_drops_what_no_window_needs():
    s = WindowScheduler([0, 2, 4], length=4, available=7)
    assert s.indices(2) == [4, 5, 6, 6]  # past the end, the last frame repeats
    s.add([0, 1, 2], np.arange(3)[:, None] * 1.0)
    assert s.ready() == [] and sorted(s.features) == [0, 1, 2]
    s.add([3, 4], np.array([[3.0], [4.0]]))
    ready = s.ready()
    assert [(w, idx) for w, idx, _ in ready] == [(0, [0, 1, 2, 3])]
    np.testing.assert_array_equal(ready[0][2][:, 0], [0, 1, 2, 3])
    assert sorted(s.features) == [2, 3, 4], "frames before window 1's start are dropped"
    s.add([5, 6], np.array([[5.0], [6.0]]))
    assert [w for w, _, _ in s.ready()] == [1, 2] and s.done and not s.features


def test_completed_card_is_new_and_the_callers_card_is_unchanged():
    card = ModelCard(name="mine", classes=["normal", "fight", "fire"])
    before = card.to_dict()
    done = card.completed(n_outputs=3, fixed_frames=8, preprocessing="unit", source="test")
    assert card.to_dict() == before and done is not card
    assert done.anomaly_classes == ["fight", "fire"] and done.frames_per_window == 8 and done.stride == 4
    assert done.preprocessing == "unit"
    assert sorted(done.extra["defaulted"]) == ["anomaly_classes", "frames_per_window", "preprocessing", "stride"]
    with pytest.raises(CardError, match="3 classes .* 2 outputs"):
        card.completed(n_outputs=2, fixed_frames=8, preprocessing="unit", source="test")
    with pytest.raises(CardError, match="fixed at 8"):
        ModelCard(frames_per_window=6).completed(n_outputs=1, fixed_frames=8, preprocessing="unit")
    AuditedModel(arch.td_cnn_gru_softmax(), card)
    assert card.to_dict() == before, "building a model with a card does not change the card"


def test_decompose_is_a_pure_function_of_the_model():
    keras_model = arch.td_cnn_gru_softmax()
    weights = [w.numpy().copy() for w in keras_model.weights]
    config = keras_model.get_config()
    parts = decompose(keras_model)
    assert parts.target_layer and parts.n_outputs == keras_model.outputs[0].shape[1]
    assert keras_model.get_config() == config
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(weights, keras_model.weights))
    ids = {id(v) for v in keras_model.weights}
    assert {id(v) for v in parts.head.weights} <= ids | {id(v) for v in parts.head.weights if "logits" in v.path}


def test_compiled_passes_are_kept_per_model_and_released_with_it():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    explain(model, _frames(model), ["gradcam"], cache=False)
    passes = CompiledPasses.of(model)
    assert CompiledPasses.of(model) is passes and set(passes._shared) == {False}
    # every compiled pass built: shared with pixels, head gradients, whole-window gradients
    explain(model, _frames(model), ["saliency", "temporal_ig", "smoothgrad"], cache=False)
    assert set(passes._shared) == {False, True}
    assert passes._head_grad is not None and passes._input_grad is not None
    ref = weakref.ref(model)
    del model, passes
    gc.collect()
    assert ref() is None, "the cache does not keep a model alive"
    assert all(m is not None for m in CompiledPasses._by_model.keys())
