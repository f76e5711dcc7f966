import numpy as np
import pytest

import architectures as arch
from crnnaudit import AuditedModel, GroundTruth, ModelCard, explain, open_clip
from crnnaudit import trust
from crnnaudit.explainers.base import REGISTRY, register
from crnnaudit.footage.video import Window


def _window(model, seed=0):
    frames = np.random.default_rng(seed).integers(0, 256, (model.window_length,) + model.frame_size + (3,),
                                                  dtype=np.uint8)
    return Window(frames, np.arange(model.window_length), np.arange(model.window_length) / 10.0, 0,
                  model.window_length, "c" * 64)


def test_rank_statistics_by_hand():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert trust.spearman(a, a * 10 + 3) == pytest.approx(1.0)
    assert trust.spearman(a, -a) == pytest.approx(-1.0)
    assert trust.spearman(a, np.array([[2.0, 1.0], [3.0, 4.0]])) == pytest.approx(0.8)
    assert trust.topk_overlap(a, a, 0.5) == 1.0
    assert trust.topk_overlap(a, -a, 0.5) == 0.0
    assert trust.topk_overlap(a, np.array([[9.0, 2.0], [3.0, 4.0]]), 0.5) == pytest.approx(1 / 3)


def test_agreement_table_covers_every_pair_and_frame():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    es = explain(model, _window(model), ["gradcam", "saliency", "grad_x_input", "frame_occlusion"], cache=False)
    table = trust.agreement_table(es)
    assert len(table) == 3 * model.window_length  # 3 spatial pairs x T frames
    assert table["spearman"].between(-1, 1).all() and table["topk_iou"].between(0, 1).all()


def test_deletion_beats_reversed_map():
    """Deleting by a map that ranks the pixels the model uses first must hurt the score
    faster than deleting by the reversed map."""
    model = AuditedModel(arch.td_cnn_gru_softmax())
    w = _window(model, 3)
    es = explain(model, w, ["integrated_gradients"], params={"integrated_gradients": {"steps": 8}}, cache=False)
    maps = es["integrated_gradients"].maps
    good = trust.deletion_insertion(model, w, maps, es.target, steps=8)
    bad = trust.deletion_insertion(model, w, -maps, es.target, steps=8)
    assert good["deletion_auc"] < bad["deletion_auc"]
    assert good["insertion_auc"] > bad["insertion_auc"]
    assert len(good["deletion_curve"]) == 9
    # endpoints: nothing deleted = the window's probability; everything = the blurred window's
    assert good["deletion_curve"][0] == pytest.approx(float(es.probabilities[es.target]), abs=1e-5)
    assert good["deletion_curve"][-1] == pytest.approx(good["insertion_curve"][0], abs=1e-5)


def test_temporal_deletion_ranks_better_than_random():
    model = AuditedModel(arch.td_cnn_gru_sigmoid(t=8))
    w = _window(model, 1)
    es = explain(model, w, ["frame_occlusion"], cache=False)
    res = trust.temporal_deletion(model, w, es["frame_occlusion"].frame_scores, es.target)
    worst = trust.temporal_deletion(model, w, -es["frame_occlusion"].frame_scores, es.target)
    assert res["deletion_auc"] <= worst["deletion_auc"]
    assert len(res["curve"]) == 9 and res["curve"][0] == pytest.approx(float(es.probabilities[0]), abs=1e-5)


def test_sanity_check_flags_a_method_that_ignores_the_model():
    if "_edges" not in REGISTRY:
        @register("_edges", "edge detector (ignores the model)", "spatial")
        def _edges(ctx):
            m = np.abs(np.diff(ctx.x.mean(-1), axis=1, prepend=0))
            return m, m.sum((1, 2)), {}
    try:
        model = AuditedModel(arch.td_cnn_gru_softmax())
        weights_before = [w.copy() for w in model.model.get_weights()]
        res = trust.sanity_randomisation(model, _window(model), ["gradcam", "_edges"], checkpoints=3)
        assert res["flagged"] == {"gradcam": False, "_edges": True}
        assert res["final_similarity"]["_edges"] == pytest.approx(1.0)
        assert len(res["stages"]) == 3 and res["stages"][-1]["count"] == res["layers"]
        for a, b in zip(weights_before, model.model.get_weights()):
            np.testing.assert_array_equal(a, b)  # the user's model is untouched
    finally:
        REGISTRY.pop("_edges", None)


def test_localisation_against_ground_truth():
    model = AuditedModel(arch.td_cnn_gru_softmax())
    w = _window(model)
    es = explain(model, w, ["gradcam", "frame_occlusion"], cache=False)
    T = model.window_length
    masks = np.zeros((T, 32, 32), bool)
    masks[:, :16, :16] = True
    truth = GroundTruth("fight", (2, 3), masks)
    # an explanation that points exactly at the mask scores 1, one that points away 0
    es["gradcam"].maps[:] = 0
    es["gradcam"].maps[:, 1, 1] = 1.0
    res = trust.localisation_figures(es, w, truth)["gradcam"]
    assert res["pointing_game"] == 1.0 and res["energy_inside"] > 0.9
    es["gradcam"].maps[:] = 0
    es["gradcam"].maps[:, -1, -1] = 1.0
    res = trust.localisation_figures(es, w, truth)
    assert res["gradcam"]["pointing_game"] == 0.0
    top = int(np.argmax(es["frame_occlusion"].frame_scores))
    assert res["frame_occlusion"]["temporal_hit"] == (top in (2, 3))


def test_localisation_on_a_synthetic_clip(sample_clips):
    clip = open_clip([p for p in sample_clips if p.name.startswith("fire")][0])
    truth = clip.ground_truth
    model = AuditedModel(arch.td_cnn_gru_softmax(t=8, s=32), ModelCard(classes=["normal", "fire", "x"]))
    w = clip.window(2, 8, 8, model.frame_size)
    res = trust.localisation_figures(explain(model, w, ["gradcam"], cache=False), w, truth)["gradcam"]
    anomalous = [i for i in w.indices if truth.frame_is_anomalous(int(i))]
    assert ("pointing_game" in res) == bool(anomalous)


def _quadrant_model(t=4, s=32):
    """A hand-weighted clip model that reads only the brightness of each frame's top-left
    quadrant: class 1's probability rises with it, whatever the rest of the frame shows."""
    import keras
    from keras import layers as L
    fi = keras.Input((s, s, 3))
    conv = L.Conv2D(1, 1, name="conv")
    h = conv(fi)
    h = L.Cropping2D(((0, s // 2), (0, s // 2)))(h)
    cnn = keras.Model(fi, L.GlobalAveragePooling2D()(h), name="cnn")
    inp = keras.Input((t, s, s, 3))
    dense = L.Dense(2, activation="softmax", name="out")
    out = dense(L.GlobalAveragePooling1D()(L.TimeDistributed(cnn, name="td")(inp)))
    model = keras.Model(inp, out)
    conv.set_weights([np.full((1, 1, 3, 1), 1 / 3, np.float32), np.zeros(1, np.float32)])
    dense.set_weights([np.array([[-8.0, 8.0]], np.float32), np.array([4.0, -4.0], np.float32)])
    return AuditedModel(model, ModelCard(classes=["normal", "bright"], anomaly_classes=["bright"],
                                         preprocessing="unit"))


def test_evidence_tells_a_map_on_what_the_model_reads_from_one_elsewhere():
    """The oracle: the model reads only the top-left quadrant, where a bright square sits.
    A map on the square beats random deletion (blurring the square lowers 'bright'); a map on
    the bottom-right corner, which the model never reads, does no better than random and the
    verdict says not to rely on it. The drops are the model's own scores, recomputed here."""
    model = _quadrant_model()
    T, S = model.window_length, model.frame_size[0]
    frames = np.full((T, S, S, 3), 40, np.uint8)
    frames[:, 2:12, 2:12] = 250  # the bright square: 100 of 1024 pixels (about 10%)
    w = Window(frames, np.arange(T), np.arange(T) / 10.0, 0, T, "e" * 64)
    es = explain(model, w, ["saliency", "gradcam", "frame_occlusion"], target="bright", cache=False)
    on, away = np.zeros((T, S, S), np.float32), np.zeros((T, S, S), np.float32)
    on[:, 2:12, 2:12] = 1.0
    away[:, -15:, -15:] = 1.0  # 225 pixels: more than the 20% deleted, all outside what the model reads
    es["saliency"].maps[:] = on
    assert es["gradcam"].maps.shape == (T, S, S)  # a 1 x 1 conv: Grad-CAM maps at full size
    es["gradcam"].maps[:] = away
    res = trust.verdicts(model, w, es)
    sal = res["saliency"]
    assert sal["better_than_random"] and "beats random deletion" in sal["verdict"]
    # the test by hand: the share of the 20 random deletions that did as much, counting the map's own
    as_much = sum(r >= sal["drop"] - 1e-6 for r in sal["random_drops"])
    assert sal["draws"] == 20 and sal["as_much"] == as_much == 0
    assert sal["p_value"] == pytest.approx((1 + as_much) / 21) and "0 of 20 random deletions" in sal["verdict"]
    assert "better than 20 of 20 random deletions (p = 0.05)" in sal["short"]
    # recompute the oracle's drop by hand: blur exactly the top 20% of pixels the map ranks first
    import cv2
    blur = np.stack([cv2.GaussianBlur(f, (0, 0), S / 16) for f in frames])
    k = round(0.2 * S * S)
    order = np.argsort(-on[0].ravel(), kind="stable")[:k]
    mask = np.zeros(S * S, bool)
    mask[order] = True
    deleted = np.where(mask.reshape(1, S, S, 1), blur, frames)
    p = lambda x: float(model.model(model.prepare(x)[None]).numpy()[0, 1])  # the Keras model itself
    assert res["saliency"]["drop"] == pytest.approx(p(frames) - p(deleted), abs=1e-4)
    assert res["saliency"]["score"] == pytest.approx(p(frames), abs=1e-4)
    g = res["gradcam"]
    assert not g["better_than_random"] and "do not rely on it" in g["verdict"] and g["p_value"] > 0.05
    assert g["drop"] == pytest.approx(0.0, abs=1e-4)  # blurring a corner the model never reads changes nothing
    assert len(g["random_drops"]) == trust.verdict.VERDICT_DRAWS
    # temporal: every frame counts the same here, so ranking frames is no better than random
    assert not res["frame_occlusion"]["better_than_random"]
    assert res["frame_occlusion"]["kind"] == "temporal"
    assert trust.verdicts(model, w, es) is res  # the second ask is served from the memo


@pytest.mark.parametrize("value, shown", [(-0.001, "+0.00"), (0.004, "+0.00"), (-0.123, "-0.12"), (0.456, "+0.46")])
def test_a_change_that_rounds_to_nothing_is_never_minus_zero(value, shown):
    assert trust.signed(value) == shown
