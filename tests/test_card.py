import json

import pytest

from crnnaudit import CardError, ModelCard
from crnnaudit.card import default_sidecar_path, sidecar_path


def test_round_trip_json_and_yaml(tmp_path):
    card = ModelCard(name="m", classes=["normal", "fight"], anomaly_classes=["fight"],
                     preprocessing="vgg19", frames_per_window=20, stride=10, threshold=0.7,
                     known_limitations=["night footage untested"])
    for name in ("m.card.json", "m.card.yaml"):
        path = card.write(tmp_path / name)
        back = ModelCard.read(path)
        assert back.to_dict() == card.to_dict()


def test_unknown_keys_kept_in_extra(tmp_path):
    path = tmp_path / "m.card.json"
    path.write_text(json.dumps({"name": "m", "classes": ["a"], "sponsor": "x"}))
    assert ModelCard.read(path).extra == {"sponsor": "x"}


@pytest.mark.parametrize("field, value, words", [
    ("preprocessing", "imagenet", "preprocessing"),
    ("threshold", 1.5, "threshold"),
    ("threshold", True, "threshold"),
    ("frames_per_window", 0, "frames_per_window"),
    ("stride", "ten", "stride"),
    ("classes", ["a", "a"], "duplicates"),
    ("anomaly_classes", ["fire"], "not in classes"),
])
def test_invalid_fields_are_named(tmp_path, field, value, words):
    data = {"name": "m", "classes": ["a", "b"], field: value}
    path = tmp_path / "bad.card.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CardError) as err:
        ModelCard.read(path)
    assert words in str(err.value) and str(path) in str(err.value)


def test_unreadable_card_files(tmp_path):
    with pytest.raises(CardError, match="cannot read"):
        ModelCard.read(tmp_path / "missing.card.json")
    bad = tmp_path / "m.card.json"
    bad.write_text("{not json")
    with pytest.raises(CardError, match="not valid JSON"):
        ModelCard.read(bad)
    lst = tmp_path / "l.card.yaml"
    lst.write_text("- a\n- b\n")
    with pytest.raises(CardError, match="mapping"):
        ModelCard.read(lst)


def test_sidecar_lookup(tmp_path):
    model = tmp_path / "clf.keras"
    assert sidecar_path(model) is None
    assert default_sidecar_path(model).name == "clf.card.json"
    (tmp_path / "clf.card.yaml").write_text("name: x\n")
    assert sidecar_path(model).name == "clf.card.yaml"


def test_the_model_on_disk_is_the_model_in_the_card(tmp_path):
    """A card that records its model's SHA-256 refuses a file changed since (an output bias
    shifted in place, as an attacker or a careless copy would), naming both hashes."""
    import numpy as np
    import architectures as arch
    from crnnaudit import ModelError, load_model
    from crnnaudit.footage.video import sha256_file
    net = arch.td_cnn_gru_softmax()
    path = tmp_path / "m.keras"
    net.save(path)
    recorded = sha256_file(path)
    ModelCard(classes=["normal", "fight", "fire"], model_sha256=recorded).write(tmp_path / "m.card.json")
    assert load_model(path).sha256 == recorded
    out = net.layers[-1]
    out.set_weights([out.get_weights()[0], out.get_weights()[1] + np.array([0.0, 3.0, 0.0], np.float32)])
    net.save(path)  # the same file name, other weights
    with pytest.raises(ModelError) as info:
        load_model(path)
    message = str(info.value)
    assert recorded in message and sha256_file(path) in message and "changed after its card was written" in message
    with pytest.raises(CardError, match="'model_sha256' must be a SHA-256"):
        ModelCard(model_sha256="not a hash").validate()
