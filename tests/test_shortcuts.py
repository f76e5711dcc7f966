"""The shortcut screen (SpRAy) as a drill, with the batch's default methods: a tiny model
trained where a corner marker comes with one class is flagged, and its cluster's mean map peaks
on the marker; the same model trained without the marker is not flagged."""

from __future__ import annotations

import numpy as np
import pytest

from crnnaudit import ModelCard
from crnnaudit.dataset.executors import run_batch
from crnnaudit.model import AuditedModel
from crnnaudit.dataset.shortcuts import describe_cluster, spectral_clusters
from conftest import write_video

T, S, CLIPS = 8, 32, 40
MARKER = 4  # pixels: a white square in the top-left corner


def _clips(rng, marker: bool):
    """Half 'normal' (grey noise), half 'fire' (a bright blob somewhere); with ``marker``
    every fire clip also carries the corner square."""
    xs, ys = [], []
    for i in range(CLIPS):
        frames = np.clip(rng.normal(110, 12, (T, S, S, 3)), 0, 255)
        label = i % 2
        if label:
            cy, cx = rng.integers(8, S - 6, 2)
            yy, xx = np.mgrid[0:S, 0:S]
            blob = ((yy - cy) ** 2 + (xx - cx) ** 2 <= 9)
            frames[:, blob] = frames[:, blob] * 0.4 + np.array([230, 150, 60]) * 0.6
            if marker:
                frames[:, :MARKER, :MARKER] = 255
        xs.append(frames.astype(np.uint8))
        ys.append(label)
    return np.stack(xs), np.array(ys)


def _train(x, y, seed=0):
    import keras
    import tensorflow as tf
    from keras import layers as L
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    fi = keras.Input((S, S, 3))
    # valid padding: with zero padding the maxima of the no-marker model sat in the padded
    # corners (a real fixed-place artefact, which the screen flagged)
    h = L.Conv2D(8, 3, activation="relu", name="c1")(fi)
    h = L.Conv2D(8, 3, activation="relu", name="c2")(h)
    cnn = keras.Model(fi, L.GlobalMaxPooling2D()(h), name="cnn")
    inp = keras.Input((T, S, S, 3))
    out = L.Dense(2, activation="softmax")(L.GRU(8)(L.TimeDistributed(cnn)(inp)))
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x.astype(np.float32) / 255, y, epochs=80, batch_size=8, verbose=0)
    acc = model.evaluate(x.astype(np.float32) / 255, y, verbose=0)[1]
    return model, acc


@pytest.fixture(scope="module", params=[True, False], ids=["marker", "no-marker"])
def drill(request, tmp_path_factory):
    rng = np.random.default_rng(5)
    x, y = _clips(rng, request.param)
    net, acc = _train(x, y)
    folder = tmp_path_factory.mktemp("drill")
    test_x, test_y = _clips(np.random.default_rng(6), request.param)  # unseen clips, same kind
    for i, (frames, label) in enumerate(zip(test_x, test_y)):
        write_video(folder / f"{['normal', 'fire'][label]}_{i:02d}.mp4", frames)
    model = AuditedModel(net, ModelCard(classes=["normal", "fire"], anomaly_classes=["fire"], stride=T,
                                        preprocessing="unit"))
    return request.param, model, folder, acc


@pytest.mark.long  # the shortcut drills train two models: make test-long (CI runs it)
def test_the_screen_flags_the_marker_and_only_the_marker(drill, tmp_path):
    marker, model, folder, acc = drill
    assert acc >= 0.9  # both models learned their task
    # the default methods: the screen itself picks those whose maps beat random deletion here
    summary = run_batch(model, [str(folder)], tmp_path / "run", explain="all")
    screen = summary["explanations"]["shortcut_screen"]
    # saliency is computed for each clip's top window beside the chosen Grad-CAM; every
    # cluster says which method's maps it comes from and how far that method is trusted here
    assert set(screen["trust"]) == {"gradcam", "saliency"}
    from scipy.stats import binomtest
    for t in screen["trust"].values():  # per class: 20 windows each, every clip measured (a run this small)
        assert t["windows"] == 40 and set(t["classes"]) == {"normal", "fire"}
        for e in t["classes"].values():
            p = binomtest(e["beats"], e["windows"], 1 / 21, alternative="greater").pvalue  # chance: 1 in 21
            assert e["windows"] == 20 and e["p_value"] == pytest.approx(p) and e["trusted"] == (p <= 0.05 / 2)
        assert t["trusted_classes"] == [c for c, e in t["classes"].items() if e["trusted"]]
    print({m: {c: (e["beats"], e["windows"]) for c, e in t["classes"].items()} for m, t in screen["trust"].items()})
    assert all(c["method_trusted"] for c in screen["clusters"] if c["flagged"]), "only a trusted method flags"
    assert all(c["method"] in screen["methods"] and c["method_trust"] == screen["trust"][c["method"]]["classes"][c["class"]]
               for c in screen["clusters"])
    flagged = [c for c in screen["clusters"] if c["flagged"]]
    if marker:  # the marker model is saturated (p(fire) near 1): the per-class count still finds its maps
        assert any("fire" in t["trusted_classes"] for t in screen["trust"].values())
        fire = [c for c in flagged if c["class"] == "fire"]
        assert fire, screen["clusters"]
        c = max(fire, key=lambda c: c["windows"])
        mean = np.asarray(c["mean_map"])
        row, col = np.unravel_index(mean.argmax(), mean.shape)
        cells = mean.shape[0] * MARKER // S  # the marker's cells on the grid
        assert row < cells + 1 and col < cells + 1  # the mean map peaks on the marker
        assert c["clips"] >= 3
    else:
        assert not flagged, [(c["class"], c["concentration"], c["clips"]) for c in screen["clusters"]]


def test_spectral_clusters_recovers_separated_groups():
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 10
    x = np.concatenate([c + rng.normal(0, 0.3, (15, 3)) for c in centres])
    labels = spectral_clusters(x, max_clusters=6)
    assert len(set(labels)) == 3
    for g in range(3):
        assert len(set(labels[g * 15:(g + 1) * 15])) == 1  # each group in one cluster


def test_concentration_by_hand():
    maps = np.zeros((2, 4, 4))
    maps[0, 0, 0], maps[0, 3, 3] = 0.75, 0.25
    maps[1, 0, 0], maps[1, 2, 2] = 0.5, 0.5
    info = describe_cluster(maps, area=1 / 16)  # one cell: (0, 0), where the mean is 0.625
    assert info["region"][0, 0] and info["region"].sum() == 1
    assert info["concentration"] == pytest.approx((0.75 + 0.5) / 2)
    assert info["peak"] == {"row": 0.125, "col": 0.125}


def test_a_method_is_trusted_for_a_class_only_when_it_beats_random_there_significantly_more_than_chance():
    """By hand: chance is 1/21 (a map no better than random outranks all 20 random deletions at
    most that often); 2 of 40 windows is what chance gives, 10 of 40 is far beyond it (binomial
    p < 0.001); on 3 windows, 2 passes are already unlikely by chance (p = 0.0067) and 1 is not
    (p = 0.14). Per class, at 5% over the method's classes (Bonferroni): a method that tracks
    one class's evidence is not trusted on another's windows."""
    from crnnaudit.dataset.explained import method_trust, screen_all
    def top(hits, n, targets=None):
        targets = [0] * n if targets is None else targets
        return {"maps": {"m": np.zeros((n, 4, 4))}, "beats": {"m": np.array([1.0] * hits + [0.0] * (n - hits))},
                "rows": [{"target": t, "sha256": f"{i:064d}", "window": 0} for i, t in enumerate(targets)]}
    one = method_trust(top(2, 40), ["a"])["m"]
    assert not one["trusted"] and not one["classes"]["a"]["trusted"] and one["trusted_classes"] == []
    t = method_trust(top(10, 40), ["a"])["m"]["classes"]["a"]
    assert t["trusted"] and t["p_value"] < 0.001 and t["beats"] == 10 and t["interval"][0] < 0.25 < t["interval"][1]
    assert t["level"] == 0.05 and t["interval"][1] < 0.5  # a two-sided interval, not a one-sided one to 100%
    assert method_trust(top(2, 3), ["a"])["m"]["trusted"] and not method_trust(top(1, 3), ["a"])["m"]["trusted"]
    # two classes: 2 of 3 windows of class a (p = 0.0067 <= 0.025) and none of class b
    two = method_trust(top(2, 6, [0, 0, 0, 1, 1, 1]), ["a", "b"])["m"]
    assert two["trusted_classes"] == ["a"] and two["classes"]["a"]["level"] == 0.025
    assert two["classes"]["b"]["beats"] == 0 and not two["classes"]["b"]["trusted"]
    # at 2.5% each, 2 of 6 windows of a class is not enough (p = 0.030; alone, at 5%, it would be)
    assert not method_trust(top(2, 12, [0] * 6 + [1] * 6), ["a", "b"])["m"]["trusted"]
    # nobody trusted: clusters are shown, none is flagged, and the note says so
    maps = np.zeros((12, 4, 4))
    maps[:, 0, 0] = 1.0  # every map in one corner: would be flagged on a trusted method
    untrusted = dict(top(0, 12), maps={"m": maps})
    screen = screen_all(untrusted, ["normal"], {})
    assert screen["clusters"] and screen["flagged"] == 0 and "No method is trusted" in screen["note"]
    trusted = dict(top(12, 12), maps={"m": maps})
    assert screen_all(trusted, ["normal"], {})["flagged"] >= 1
    # trusted for one class only: the other class's corner cluster is shown, not flagged
    both = dict(top(6, 12, [0] * 6 + [1] * 6), maps={"m": maps})
    screen = screen_all(both, ["fire", "normal"], {})
    assert {c["class"]: c["flagged"] for c in screen["clusters"]} == {"fire": True, "normal": False}
    assert "trusted for fire" in screen["note"] and "NOT to be trusted for normal" in screen["note"]
