import threading

import keras
import numpy as np
import pytest
from keras import layers as L

import architectures as arch
from crnnaudit import (REGISTRY, AuditedModel, Cancelled, ExplanationCache, ExplanationError,
                       ModelCard, explain, open_clip)
from crnnaudit.explainers import engine
from crnnaudit.explainers.passes import CompiledPasses

ALL = sorted(REGISTRY)
FAST_PARAMS = {"smoothgrad": {"samples": 4}, "integrated_gradients": {"steps": 8},
               "occlusion": {"patch": 8, "stride": 8}}


def _frames(model, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (model.window_length,) + model.frame_size + (3,),
                                                dtype=np.uint8)


def _methods_for(model):
    return [m for m in ALL if REGISTRY[m].unavailable_on(model) is None]


@pytest.mark.parametrize("name", sorted(arch.ARCHITECTURES))
def test_every_method_is_finite_on_every_architecture(name):
    keras_model = arch.ARCHITECTURES[name]()
    free_length = keras_model.inputs[0].shape[1] is None
    model = AuditedModel(keras_model, ModelCard(frames_per_window=5) if free_length else None)
    methods = _methods_for(model)
    es = explain(model, _frames(model), methods, cache=False,
                 params={m: p for m, p in FAST_PARAMS.items() if m in methods})
    T = model.window_length
    for m, e in es.items():
        assert e.frame_scores.shape == (T,) and np.all(np.isfinite(e.frame_scores)), m
        if REGISTRY[m].kind == "spatial":
            assert e.maps.ndim == 3 and e.maps.shape[0] == T and np.all(np.isfinite(e.maps)), m
        else:
            assert e.maps is None
    assert es["temporal_ig"].extra["completeness_gap"] < 0.01
    assert es["integrated_gradients"].extra["completeness_gap"] < 0.05


# --- the oracle: tf-keras-vis on a still-image CNN ------------------------------------------
def test_one_frame_clip_matches_tf_keras_vis():
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.saliency import Saliency
    from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
    from tf_keras_vis.utils.scores import CategoricalScore

    keras.utils.set_random_seed(11)
    i = keras.Input((24, 24, 3))
    c = L.Conv2D(5, 3, activation="relu", name="conv_a")(i)
    c = L.Conv2D(6, 3, activation="relu", name="conv_b")(c)
    g = L.GlobalAveragePooling2D()(c)
    feat = keras.Model(i, g)
    dense = L.Dense(3, activation="softmax")
    image_model = keras.Model(i, dense(g))  # flat, sharing every layer with the clip model
    clip_in = keras.Input((1, 24, 24, 3))
    clip_model = keras.Model(clip_in, dense(L.Flatten()(L.TimeDistributed(feat)(clip_in))))
    model = AuditedModel(clip_model, ModelCard(preprocessing="unit"))
    frames = np.random.default_rng(2).integers(0, 256, (1, 24, 24, 3), dtype=np.uint8)
    x = frames.astype("float32") / 255.0
    for target in (0, 2):
        es = explain(model, frames, ["gradcam", "saliency"], target=target, cache=False)
        ref_cam = np.asarray(Gradcam(image_model, model_modifier=ReplaceToLinear(), clone=True)(
            CategoricalScore(target), x, penultimate_layer="conv_b", expand_cam=False,
            normalize_cam=False))
        ref_sal = np.asarray(Saliency(image_model, model_modifier=ReplaceToLinear(), clone=True)(
            CategoricalScore(target), x, normalize_map=False))
        assert ref_cam.max() > 0 and ref_sal.max() > 0
        np.testing.assert_allclose(es["gradcam"].maps, ref_cam, rtol=1e-4, atol=1e-4 * ref_cam.max())
        np.testing.assert_allclose(es["saliency"].maps, ref_sal, rtol=1e-4, atol=1e-4 * ref_sal.max())


# --- hand-computed values -----------------------------------------------------------------
def _linear_clip_model(k, v, b):
    """x_t -> A_t = sum_c k_c x_tc (1x1 conv) -> f_t = mean(A_t) -> logit = sum_t v_t f_t + b."""
    T = len(v)
    inp = keras.Input((T, 4, 4, 3))
    conv = L.Conv2D(1, 1, use_bias=False, name="conv")
    y = L.TimeDistributed(conv)(inp)
    y = L.TimeDistributed(L.GlobalAveragePooling2D())(y)
    y = L.Flatten()(y)
    dense = L.Dense(1, activation="sigmoid")
    out = dense(y)
    m = keras.Model(inp, out)
    conv.set_weights([np.asarray(k, "float32").reshape(1, 1, 3, 1)])
    dense.set_weights([np.asarray(v, "float32").reshape(T, 1), np.asarray([b], "float32")])
    return m


def test_hand_computed_values():
    k, v, b = [0.5, -1.0, 2.0], [1.5, -2.0, 0.5], 0.25
    model = AuditedModel(_linear_clip_model(k, v, b), ModelCard(preprocessing="unit"))
    frames = np.random.default_rng(4).integers(0, 256, (3, 4, 4, 3), dtype=np.uint8)
    x = frames.astype(np.float64) / 255
    k, v = np.asarray(k), np.asarray(v)
    A = x @ k  # (T, 4, 4)
    f = A.mean(axis=(1, 2))
    logit = v @ f + b
    es = explain(model, frames, ALL, cache=False, params={
        "frame_occlusion": {"baseline": "zero"}, "occlusion": {"patch": 2, "stride": 2},
        "smoothgrad": {"samples": 3}, "integrated_gradients": {"steps": 4}})
    assert es.target == 0 and es.logits[0] == pytest.approx(logit, rel=1e-5)
    sal = np.broadcast_to((np.abs(v)[:, None] * np.abs(k).max() / 16)[:, :, None], (3, 4, 4))
    np.testing.assert_allclose(es["saliency"].maps, sal, rtol=1e-5)
    np.testing.assert_allclose(es["smoothgrad"].maps, sal, rtol=1e-5)  # linear: noise cannot change it
    np.testing.assert_allclose(es["grad_x_input"].maps, v[:, None, None] / 16 * A, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(es["gradcam"].maps, np.maximum(v[:, None, None] / 16 * A, 0), rtol=1e-4, atol=1e-7)
    # integrated gradients on a linear model equal gradient x (input - black)
    np.testing.assert_allclose(es["integrated_gradients"].maps, v[:, None, None] / 16 * A, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(es["frame_occlusion"].frame_scores, v * f, rtol=1e-4)
    np.testing.assert_allclose(es["temporal_ig"].frame_scores, v * f, rtol=1e-4)
    held = [v[:t + 1] @ f[:t + 1] + f[t] * v[t + 1:].sum() + b for t in range(3)]
    np.testing.assert_allclose(es["prefix_score"].frame_scores, 1 / (1 + np.exp(-np.asarray(held))), rtol=1e-5)
    assert es["prefix_score"].extra["exact"] is False
    # occlusion: a 2x2 patch replaced by the frame's mean colour changes f_t by
    # (mean(A) - A_patch) * 4 / 16, so the logit drops by v_t times minus that.
    fill = x.mean(axis=(1, 2)) @ k
    exp_occ = np.zeros((3, 4, 4))
    for t in range(3):
        for i in (0, 2):
            for j in (0, 2):
                exp_occ[t, i:i + 2, j:j + 2] = -v[t] * (fill[t] - A[t, i:i + 2, j:j + 2].mean()) * 4 / 16
    np.testing.assert_allclose(es["occlusion"].maps, exp_occ, rtol=1e-3, atol=1e-6)


def test_gradcam_pp_matches_its_formula_and_pooled_gradcam():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    frames = _frames(model, 5)
    es = explain(model, frames, ["gradcam", "gradcam_pp"], target=1, cache=False)
    ctx = engine.Context(model, frames, 1, engine.Progress(None, None))
    shared = ctx.run_shared_pass(input_grad=False)
    a, g = shared.maps.astype(np.float64), shared.grad_maps.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):  # the paper's formula, as written
        alpha = np.where(g != 0, g ** 2 / (2 * g ** 2 + a.sum((1, 2), keepdims=True) * g ** 3), 0)
    w = (alpha * np.maximum(g, 0)).sum((1, 2))
    np.testing.assert_allclose(es["gradcam_pp"].maps, np.maximum((a * w[:, None, None]).sum(-1), 0),
                               rtol=1e-4, atol=1e-6)
    pooled = explain(model, frames, ["gradcam"], target=1, params={"gradcam": {"pooled": True}}, cache=False)
    wp = g.mean((0, 1, 2))
    np.testing.assert_allclose(pooled["gradcam"].maps, np.maximum((a * wp).sum(-1), 0), rtol=1e-4, atol=1e-6)
    assert not np.allclose(pooled["gradcam"].maps, es["gradcam"].maps)


def test_one_forward_and_one_backward_serve_the_shared_methods(monkeypatch):
    model = AuditedModel(arch.td_cnn_gru_softmax())
    counts = {"shared_pass": 0, "forward": 0, "input_grads": 0}
    real_shared = CompiledPasses.run_shared

    def counting_shared(self, *a):
        counts["shared_pass"] += 1
        return real_shared(self, *a)
    real_features = AuditedModel.frame_features

    def counting_features(self, x):
        counts["forward"] += 1
        return real_features(self, x)
    monkeypatch.setattr(CompiledPasses, "run_shared", counting_shared)
    monkeypatch.setattr(AuditedModel, "frame_features", counting_features)
    monkeypatch.setattr(engine.Context, "input_grads", lambda *a: counts.__setitem__("input_grads", 1))
    explain(model, _frames(model), ["saliency", "grad_x_input", "gradcam", "gradcam_pp",
                                    "frame_occlusion", "temporal_ig", "prefix_score"], cache=False)
    assert counts == {"shared_pass": 1, "forward": 0, "input_grads": 0}


def test_grad_cam_alone_stops_the_backward_at_the_conv_maps():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    frames = _frames(model, 3)
    alone = explain(model, frames, ["gradcam", "gradcam_pp"], cache=False)
    with_pixels = explain(model, frames, ["gradcam", "saliency"], cache=False)
    assert set(CompiledPasses.of(model)._shared) == {False, True}
    np.testing.assert_allclose(alone["gradcam"].maps, with_pixels["gradcam"].maps, rtol=1e-5, atol=1e-7)


def test_default_target_is_predicted_class_or_anomaly_logit():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    frames = _frames(model, 1)
    es = explain(model, frames, ["saliency"], cache=False)
    assert es.target == int(np.argmax(es.logits))
    by_name = explain(model, frames, ["saliency"], target=model.card.classes[2], cache=False)
    assert by_name.target == 2 and not np.allclose(by_name["saliency"].maps, es["saliency"].maps)
    sig = AuditedModel(arch.td_cnn_gru_sigmoid())
    assert explain(sig, _frames(sig), ["gradcam"], cache=False).target == 0


def test_cache_returns_the_same_explanation_and_keys_on_content(tmp_path, monkeypatch):
    model = AuditedModel(arch.td_cnn_gru_softmax())
    frames = _frames(model, 2)
    cache = ExplanationCache(tmp_path / "c")
    first = explain(model, frames, ["gradcam", "temporal_ig"], cache=cache)
    monkeypatch.setattr(engine.Context, "run_shared_pass", lambda s, **k: pytest.fail("recomputed"))
    monkeypatch.setattr(engine.Context, "forward", lambda s: pytest.fail("recomputed"))
    again = explain(model, frames, ["gradcam", "temporal_ig"], cache=cache)
    np.testing.assert_array_equal(first["gradcam"].maps, again["gradcam"].maps)
    np.testing.assert_array_equal(first["temporal_ig"].frame_scores, again["temporal_ig"].frame_scores)
    assert again["temporal_ig"].extra["completeness_gap"] == first["temporal_ig"].extra["completeness_gap"]
    np.testing.assert_allclose(again.probabilities, first.probabilities)
    monkeypatch.undo()
    other = explain(model, frames, ["gradcam"], params={"gradcam": {"pooled": True}}, cache=cache)
    assert not np.allclose(other["gradcam"].maps, first["gradcam"].maps)  # new params, new entry
    assert len(list((tmp_path / "c").glob("*.npz"))) == 3
    # another backend computes its own entry: a served result names the backend that made it
    assert first["gradcam"].provenance["versions"]["backend"] == "tensorflow"
    monkeypatch.setattr(engine, "BACKEND", "jax")
    calls = []
    monkeypatch.setattr(engine.Context, "run_shared_pass",
                        lambda s, *a, **k: calls.append(1) or pytest.fail("recomputed, as it should be"))
    with pytest.raises(pytest.fail.Exception, match="recomputed, as it should be"):
        explain(model, frames, ["gradcam"], cache=cache)
    assert calls == [1]


def test_cache_size_is_bounded(tmp_path):
    model = AuditedModel(arch.td_cnn_gru_softmax())
    cache = ExplanationCache(tmp_path / "c", max_bytes=6000)
    for seed in range(6):
        explain(model, _frames(model, seed), ["saliency"], cache=cache)
    assert cache.size_bytes() <= 6000 and len(list(cache.folder.glob("*.npz"))) >= 1


def test_progress_and_cancel():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    seen = []
    explain(model, _frames(model), ["smoothgrad"], params={"smoothgrad": {"samples": 4, "batch": 1}},
            progress=lambda d, t: seen.append((d, t)), cache=False)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    stop = threading.Event()

    def cancel_after_two(d, t):
        if d >= 2:
            stop.set()
    with pytest.raises(Cancelled):
        explain(model, _frames(model), ["occlusion"], params={"occlusion": {"patch": 8, "stride": 4, "batch": 8}},
                progress=cancel_after_two, cancel=stop, cache=False)


BAD_REQUESTS = {
    "unknown method": (dict(methods=["gradcam", "lime"]), "unknown methods"),
    "no method": (dict(methods=[]), "unknown methods"),
    "unknown parameter": (dict(methods=["gradcam"], params={"gradcam": {"layer": "x"}}), "unknown parameters"),
    "params for other method": (dict(methods=["gradcam"], params={"saliency": {}}), "not asked for"),
    "target name": (dict(methods=["saliency"], target="explosion"), "not one of"),
    "target index": (dict(methods=["saliency"], target=7), "index 0..2"),
    "target bool": (dict(methods=["saliency"], target=True), "index 0..2"),
    "bad temporal baseline": (dict(methods=["frame_occlusion"], params={"frame_occlusion": {"baseline": "x"}}), "baseline"),
    "bad pixel baseline": (dict(methods=["integrated_gradients"], params={"integrated_gradients": {"baseline": "x"}}), "baseline"),
    "temporal_ig no steps": (dict(methods=["temporal_ig"], params={"temporal_ig": {"steps": 0}}), "steps"),
    "temporal_ig steps above max": (dict(methods=["temporal_ig"], params={"temporal_ig": {"steps": 32, "max_steps": 16}}), "max_steps"),
    "temporal_ig float steps": (dict(methods=["temporal_ig"], params={"temporal_ig": {"steps": 2.5}}), "whole numbers"),
    "temporal_ig negative tolerance": (dict(methods=["temporal_ig"], params={"temporal_ig": {"tolerance": -1}}), "tolerance"),
}


def test_temporal_ig_matches_a_fine_riemann_sum_and_refines_until_complete():
    """Oracle: integrated gradients by a 2000-step midpoint rule, computed here with a plain
    tape on the head. The engine's few Gauss-Legendre nodes must agree, report the nodes it
    used, and add nodes while the completeness gap is above the tolerance."""
    import tensorflow as tf
    model = AuditedModel(arch.td_cnn_gru_softmax())
    frames = _frames(model, seed=3)
    es = explain(model, frames, ["temporal_ig"], cache=False)
    e = es["temporal_ig"]
    f = model.frame_features(model.prepare(frames))
    alphas = (np.arange(2000) + 0.5) / 2000
    path = tf.constant((alphas[:, None, None] * f[None]).astype(np.float32))  # zero baseline
    with tf.GradientTape() as tape:
        tape.watch(path)
        y = tf.reduce_sum(model.head(path, training=False)[:, e.target])
    oracle = (f * tape.gradient(y, path).numpy().mean(axis=0)).sum(axis=1)
    np.testing.assert_allclose(e.frame_scores, oracle, rtol=1e-3, atol=1e-5 * np.abs(oracle).max())
    assert e.extra["converged"] and e.extra["completeness_gap"] < 0.01
    assert e.extra["steps_used"] == 8  # the default nodes were enough here
    # One node misses by 0.7% here, two by 2e-5: a 0.1% tolerance doubles once and stops ...
    def run(**p):
        return explain(model, frames, ["temporal_ig"], cache=False, params={"temporal_ig": p})["temporal_ig"]
    once = run(steps=1, tolerance=1e-3)
    assert once.extra["steps_used"] == 2 and once.extra["converged"] and once.extra["completeness_gap"] <= 1e-3
    np.testing.assert_allclose(once.frame_scores, oracle, rtol=1e-2, atol=1e-5 * np.abs(oracle).max())
    # ... a tolerance out of reach stops at max_steps and says it did not converge ...
    capped = run(steps=1, tolerance=1e-9, max_steps=2)
    assert capped.extra["steps_used"] == 2 and capped.extra["converged"] is False
    assert capped.extra["completeness_gap"] > 1e-9
    # ... and a loose one keeps the single node.
    rough = run(steps=1, tolerance=10.0)
    assert rough.extra["steps_used"] == 1


@pytest.mark.parametrize("case", sorted(BAD_REQUESTS))
def test_bad_requests(case):
    model = AuditedModel(arch.td_cnn_gru_softmax())
    kwargs, words = BAD_REQUESTS[case]
    with pytest.raises(ExplanationError, match=words):
        explain(model, _frames(model), cache=False, **kwargs)


@pytest.mark.parametrize("method", ALL)
def test_bad_windows_for_every_method(method):
    model = AuditedModel(arch.td_cnn_gru_softmax())
    good = _frames(model)
    for bad, words in ((good[:2], "does not fit"), (good[..., :1], "does not fit"),
                       (good.astype(np.float32), "uint8"), (good[0], "does not fit")):
        with pytest.raises(ExplanationError, match=words):
            explain(model, bad, [method], cache=False)
    no_conv = AuditedModel(arch.no_conv_dense())
    if "spatial_cam" in REGISTRY[method].needs:
        with pytest.raises(ExplanationError, match="needs a per-frame conv layer"):
            explain(no_conv, _frames(no_conv), [method], cache=False)


def test_real_clip_window_and_provenance(vtest):
    model = AuditedModel(arch.td_cnn_gru_softmax(t=6, s=32))
    clip = open_clip(vtest)
    w = clip.window(3, 6, 3, model.frame_size)
    es = explain(model, w, ["gradcam", "frame_occlusion"], cache=False)
    p = es["gradcam"].provenance
    assert p["model_sha256"] == model.sha256 and p["clip_sha256"] == clip.sha256
    assert p["window"]["first_frame"] == 9 and p["versions"]["tensorflow"]
    assert es["gradcam"].summary()["map_shape"] == [6, 16, 16]


def test_a_session_that_reads_the_registry_while_another_fills_it_waits_for_every_method(tmp_path, monkeypatch):
    """The server's sessions read the registry from several threads; the first read imports the
    method modules (TensorFlow, seconds). A second reader must wait for the whole registry, not
    find it half-filled (a clean-clone CI run's auditor was offered no methods)."""
    import sys
    import time

    from crnnaudit.explainers import base
    (tmp_path / "slow_methods_probe.py").write_text(
        "import time\nfrom crnnaudit.explainers.base import register\ntime.sleep(0.6)\n"
        "@register('_slow_probe', 'Slow probe', 'temporal')\ndef _probe(ctx):\n    return None, None, {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(base, "METHOD_MODULES", base.METHOD_MODULES + ("slow_methods_probe",))
    monkeypatch.setattr(base._Registry, "_loaded", False)
    seen = {}
    try:
        first = threading.Thread(target=lambda: seen.setdefault("first", sorted(REGISTRY)))
        first.start()
        time.sleep(0.2)  # the first reader is inside the slow module's import now
        seen["second"] = "_slow_probe" in REGISTRY
        first.join()
    finally:
        dict.pop(REGISTRY, "_slow_probe", None)
        sys.modules.pop("slow_methods_probe", None)
    assert seen["second"] is True and "_slow_probe" in seen["first"]
    assert base._Registry._loaded and not base._Registry._loading
