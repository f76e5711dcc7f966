import json
import zipfile

import keras
import numpy as np
import pytest
from keras import layers as L

import architectures as arch
from crnnaudit import (AuditedModel, CardError, CrnnauditError, ModelCard, ModelError,
                       UnsafeModelError, UnsupportedModelError, load_model, open_clip)
from crnnaudit.model import weights_hash as _weights_hash
from crnnaudit.model.backend import ADAPTER


@pytest.mark.parametrize("name", sorted(arch.ARCHITECTURES))
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_decomposition_reproduces_every_architecture(saved_models, name, suffix):
    model = load_model(saved_models[(name, suffix)])
    assert model.verify() <= 1e-5
    assert model.verify(seed=3) <= 1e-5
    # and logits really are pre-activation: softmax/sigmoid of them gives the model's output
    x = np.random.default_rng(1).integers(0, 256, (1, model.window_length) + model.frame_shape, dtype=np.uint8)
    f = model.frame_features(model.prepare(x[0]))[None]
    logits = model.head_logits(f)
    out = np.asarray(model.model(model.prepare(x), training=False))
    act = model.output_activation
    expected = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True) if act == "softmax" else 1 / (1 + np.exp(-logits))
    np.testing.assert_allclose(expected, out, atol=1e-5)


def test_in_memory_and_saved_agree(saved_models):
    built = AuditedModel(arch.td_cnn_gru_softmax())
    loaded = load_model(saved_models[("td_cnn_gru_softmax", ".keras")])
    assert built.target_layer == loaded.target_layer == "c2"
    assert built.feature_shape == loaded.feature_shape == (96,)


def test_found_parts(saved_models):
    m = load_model(saved_models[("td_per_layer_lstm", ".h5")])
    d = m.describe()
    assert d["per_frame_layers"] and d["recurrent_layers"] and d["outputs"] == 4
    assert d["conv_maps"] == [5, 5, 6] and d["target_layer"].startswith("conv2d")
    assert m.capabilities.spatial_cam and m.card.preprocessing == "unit"
    table = m.layers_table()
    assert list(table["role"]) == ["per-frame"] * 4 + ["head"] * 2  # Sequential: no InputLayer listed
    nc = load_model(saved_models[("no_conv_dense", ".keras")])
    assert not nc.capabilities.spatial_cam and nc.conv is None and nc.capabilities.gradients
    assert "Grad-CAM is unavailable" in nc.capabilities.notes[0]


def test_time_axis_none_uses_card_length():
    m = AuditedModel(arch.return_sequences_pooling(), ModelCard(frames_per_window=6))
    assert m.window_length_fixed is None and m.window_length == 6
    assert m.verify() <= 1e-5


def test_target_layer_can_be_chosen():
    m = AuditedModel(arch.td_cnn_gru_softmax(), target_layer="c1")
    assert m.target_layer == "c1" and m.verify() <= 1e-5
    assert tuple(m.conv.outputs[0].shape[1:]) == (16, 16, 4)
    with pytest.raises(UnsupportedModelError, match="'p1'"):
        AuditedModel(arch.td_cnn_gru_softmax(), target_layer="p1")


def test_verify_detects_a_wrong_decomposition():
    m = AuditedModel(arch.td_cnn_gru_sigmoid())
    assert m.verify() <= 1e-5
    # break the decomposition (not the model): a head with other weights
    m.head = AuditedModel(arch.td_cnn_gru_sigmoid(seed=99)).head
    m._head_fn = ADAPTER.compile(m.logits_op, [m.head])  # the compiled head read the old one
    assert m.verify(seed=1) > 1e-4


def test_user_model_is_never_changed(saved_models, tmp_path):
    model = arch.td_cnn_gru_softmax()
    before = _weights_hash(model)
    x = np.random.default_rng(0).random((1, 4, 16, 16, 3)).astype("float32")
    out_before = np.asarray(model(x))
    AuditedModel(model).verify()
    assert _weights_hash(model) == before
    np.testing.assert_array_equal(np.asarray(model(x)), out_before)
    path = saved_models[("bidirectional_gru", ".keras")]
    digest = path.read_bytes()
    load_model(path).verify()
    assert path.read_bytes() == digest


def test_paper_shape_vgg19(tmp_path):
    """TimeDistributed(VGG19(include_top=False, weights=None)) + GRU at 112 x 112, T = 3."""
    model = arch.vgg19_gru(t=3)
    path = tmp_path / "vgg.keras"
    model.save(path)
    m = load_model(path)
    assert m.target_layer == "block5_conv4" and m.card.preprocessing == "vgg19"
    assert tuple(m.conv.outputs[0].shape[1:]) == (7, 7, 512)
    assert m.verify() <= 1e-5


def test_paper_shape_vgg19_sigmoid_h5(tmp_path):
    model = arch.vgg19_gru(t=2, sigmoid=True)
    path = tmp_path / "vgg.h5"
    model.save(path)
    m = load_model(path)
    assert m.n_outputs == 1 and m.card.classes == ["anomaly"] and m.verify() <= 1e-5


# --- bad models ------------------------------------------------------------------------
def _save(model, path):
    model.save(path)
    return path


def _no_time_axis(tmp):
    return _save(keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(2, 3), L.Flatten(),
                                   L.Dense(2, activation="softmax")]), tmp / "image.keras")


def _no_td(tmp):
    return _save(keras.Sequential([keras.Input((4, 8)), L.GRU(3), L.Dense(2, activation="softmax")]),
                 tmp / "seq.keras")


def _no_td_5d(tmp):
    return _save(keras.Sequential([keras.Input((4, 8, 8, 3)), L.ConvLSTM2D(2, 3),
                                   L.Flatten(), L.Dense(2, activation="softmax")]), tmp / "convlstm.keras")


def _lambda(suffix):
    def make(tmp):
        m = keras.Sequential([keras.Input((4, 8, 8, 3)), L.Lambda(lambda z: z * 2.0),
                              L.TimeDistributed(L.Flatten()), L.GRU(2), L.Dense(2, activation="softmax")])
        return _save(m, tmp / f"lambda{suffix}")
    return make


def _two_inputs(tmp):
    a, b = keras.Input((4, 8, 8, 3)), keras.Input((3,))
    x = L.TimeDistributed(L.Flatten())(a)
    x = L.Concatenate()([L.GRU(2)(x), b])
    return _save(keras.Model([a, b], L.Dense(2, activation="softmax")(x)), tmp / "two.keras")


def _per_step_output(tmp):
    return _save(keras.Sequential([keras.Input((4, 8, 8, 3)), L.TimeDistributed(L.Flatten()),
                                   L.GRU(2, return_sequences=True)]), tmp / "steps.keras")


def _text(tmp):
    p = tmp / "model.keras"
    p.write_text("not a model")
    return p


def _empty(tmp):
    p = tmp / "model.h5"
    p.write_bytes(b"")
    return p


def _wrong_suffix(tmp):
    p = tmp / "model.onnx"
    p.write_bytes(b"\x00" * 10)
    return p


def _broken_zip(tmp):
    p = tmp / "broken.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {"layers": "??"}}))
    return p


def _custom_class(tmp):
    src = _save(arch.td_cnn_gru_sigmoid(), tmp / "src.keras")
    p = tmp / "custom.keras"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(p, "w") as zout:
        for item in zin.namelist():
            data = zin.read(item)
            if item == "config.json":
                data = data.replace(b'"module": "keras.layers"', b'"module": "evil.layers"', 1)
            zout.writestr(item, data)
    return p


BAD_MODELS = {
    "custom class": (_custom_class, UnsafeModelError, "evil.layers"),
    "no time axis": (_no_time_axis, UnsupportedModelError, "no time axis"),
    "no TimeDistributed": (_no_td, UnsupportedModelError, "no time axis"),
    "5-D but no per-frame part": (_no_td_5d, UnsupportedModelError, "no TimeDistributed"),
    "Lambda .keras": (_lambda(".keras"), UnsafeModelError, "Lambda"),
    "Lambda .h5": (_lambda(".h5"), UnsafeModelError, "Lambda"),
    "two inputs": (_two_inputs, UnsupportedModelError, "2 inputs"),
    "per-step output": (_per_step_output, UnsupportedModelError, "one score vector per clip"),
    "text file": (_text, ModelError, "not a Keras model file"),
    "empty file": (_empty, ModelError, "empty"),
    "wrong suffix": (_wrong_suffix, ModelError, "unsupported model file type"),
    "broken archive": (_broken_zip, ModelError, "cannot load"),
    "missing": (lambda tmp: tmp / "absent.keras", ModelError, "no such model file"),
}


@pytest.mark.parametrize("case", sorted(BAD_MODELS))
def test_bad_models_are_refused_with_a_named_reason(tmp_path, case):
    make, kind, words = BAD_MODELS[case]
    path = make(tmp_path)
    with pytest.raises(kind) as err:
        load_model(path)
    assert isinstance(err.value, CrnnauditError)
    assert str(path) in str(err.value) and words in str(err.value)


def test_card_must_match_model(saved_models, tmp_path):
    path = saved_models[("td_cnn_gru_softmax", ".keras")]
    with pytest.raises(CardError, match="3 outputs"):
        load_model(path, card=ModelCard(classes=["a", "b"]))
    with pytest.raises(CardError, match="fixed at 4"):
        load_model(path, card=ModelCard(frames_per_window=9))
    side = tmp_path / "m.card.json"
    ModelCard(name="fights", classes=["normal", "fight", "fire"]).write(side)
    m = load_model(path, card=side)
    assert m.card.anomaly_classes == ["fight", "fire"]  # "normal" recognised
    assert "anomaly_classes" in m.card.extra["defaulted"]


def test_sidecar_card_is_found(tmp_path):
    path = tmp_path / "clf.keras"
    arch.td_cnn_gru_sigmoid().save(path)
    ModelCard(name="clf", version="2", classes=["fire"], threshold=0.3).write(tmp_path / "clf.card.json")
    m = load_model(path)
    assert (m.card.name, m.card.version, m.card.threshold, m.card.anomaly_classes) == ("clf", "2", 0.3, ["fire"])


def test_score_matches_the_original_model_window_by_window(vtest):
    """Per-frame features are computed once and shared by overlapping windows; each window's
    probabilities must equal the original model run on that window alone."""
    m = AuditedModel(arch.td_cnn_gru_softmax(), ModelCard(classes=["normal", "fight", "fire"], stride=2))
    clip = open_clip(vtest)
    calls = []
    tl = m.score(clip, progress=lambda d, t: calls.append((d, t)), batch_frames=50)
    t = tl.table
    assert len(t) == clip.window_count(4, 2) == 169
    assert calls[-1] == (169, 169)
    for k in (0, 57, 168):
        w = clip.window(k, 4, 2, m.frame_size)
        p = np.asarray(m.model(m.prepare(w.frames)[None], training=False))[0]
        np.testing.assert_allclose(t.loc[k, ["p_normal", "p_fight", "p_fire"]].to_numpy(float), p, atol=1e-5)
        assert (t.loc[k, "first_frame"], t.loc[k, "last_frame"]) == (2 * k, 2 * k + 3)
    np.testing.assert_allclose(t["anomaly_score"], t["p_fight"] + t["p_fire"], atol=1e-6)
    assert set(t["decision"]) <= {"anomaly", "normal"}
    assert ((t["anomaly_score"] >= 0.5) == (t["decision"] == "anomaly")).all()
    assert t["end_s"].iloc[-1] == pytest.approx(339 / 25)


def test_score_short_clip_pads(tmp_path):
    from conftest import write_video
    path = write_video(tmp_path / "s.mp4", [np.full((20, 20, 3), 9 * i, np.uint8) for i in range(2)], 5)
    m = AuditedModel(arch.td_cnn_gru_sigmoid())
    tl = m.score(open_clip(path))
    assert len(tl.table) == 1 and bool(tl.table["padded"].iloc[0])
