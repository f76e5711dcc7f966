"""The demo's pretrained VGG19 trunk: its frame labels, its initialisation, the training loop,
the int8 weights it ships as, and the pin that refuses a changed file."""

import keras
import numpy as np
import pytest

from crnnaudit.lab import pretrain
from crnnaudit.demo.paths import CLIP_FRAMES, SIZE
from crnnaudit.demo.synth import CLASSES, synth_clip
from crnnaudit.errors import CrnnauditError


def test_frame_labels_are_the_clip_class_inside_the_event_interval():
    frames, labels = pretrain.frame_set(4, 9)
    assert frames.shape == (4 * CLIP_FRAMES, SIZE, SIZE, 3) and frames.dtype == np.uint8
    starts = np.random.default_rng([9, 7]).integers(2, CLIP_FRAMES - 3, 4)
    for i in range(4):  # the oracle: the generator's own interval for the same seed and start
        clip = synth_clip(CLASSES[i], 9 * 1_000_003 + i, frames=CLIP_FRAMES, start=int(starts[i]))
        mine = labels[i * CLIP_FRAMES:(i + 1) * CLIP_FRAMES]
        expected = np.zeros(CLIP_FRAMES, int)
        if clip.interval is not None:
            expected[clip.interval[0]:] = i
        np.testing.assert_array_equal(mine, expected)
        assert abs(float(frames[i * CLIP_FRAMES].mean()) - float(clip.frames[0].mean())) < 2  # resized, same scene


def test_quantized_weights_are_within_half_a_step_and_load_exactly():
    keras.utils.set_random_seed(3)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3))
    arrays = pretrain.quantize(vgg)
    kernel, bias = vgg.get_layer("block3_conv2").get_weights()
    scale = np.abs(kernel).max(axis=(0, 1, 2)) / 127  # by hand: one step per output channel
    np.testing.assert_allclose(arrays["block3_conv2/scale"], scale, rtol=1e-6)
    assert arrays["block3_conv2/q"].dtype == np.int8 and np.abs(arrays["block3_conv2/q"]).max() == 127
    back = pretrain.dequantized(arrays, "block3_conv2")[0]
    assert np.all(np.abs(back - kernel) <= scale / 2 + 1e-7)
    np.testing.assert_array_equal(pretrain.dequantized(arrays, "block3_conv2")[1], bias)
    other = keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3))
    pretrain.load_trunk(other, arrays)
    for name in pretrain.CONV_LAYERS:
        np.testing.assert_array_equal(other.get_layer(name).get_weights()[0], pretrain.dequantized(arrays, name)[0])


def test_he_initialisation_keeps_the_deep_maps_at_unit_scale():
    """With Keras' default the block5 maps come out about 50 times smaller than the inputs'
    scale; He scaled by the inputs' RMS keeps them near 1."""
    from crnnaudit.model import preprocess
    frames, _ = pretrain.frame_set(1, 4)
    x = preprocess(frames[::12], "vgg19")
    rms = float(np.sqrt(np.mean(np.square(x))))
    model, vgg = pretrain.frame_classifier(0, input_rms=rms)
    deep = keras.Model(vgg.input, vgg.get_layer("block5_conv4").output)
    ours = float(np.sqrt(np.mean(np.square(np.asarray(deep(x))))))
    keras.utils.set_random_seed(0)
    default = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    theirs = float(np.sqrt(np.mean(np.square(np.asarray(
        keras.Model(default.input, default.get_layer("block5_conv4").output)(x))))))
    assert 0.05 < ours < 20 and theirs < rms / 20
    assert model.get_layer("frame_classes").units == len(CLASSES)


def test_the_loop_learns_frame_labels_on_a_small_model():
    """The training loop (warm-up, cosine, shuffled flipped batches, validation) on frames
    whose class is the colour of a square somewhere on a grey floor: a small conv net learns it."""
    rng = np.random.default_rng(0)

    def frames(n):
        x = np.full((n, 32, 32, 3), 110, np.uint8)
        y = rng.integers(0, 4, n)
        colours = [(230, 60, 60), (60, 230, 60), (60, 60, 230), (230, 230, 60)]
        for i, c in enumerate(y):
            r, q = rng.integers(0, 26, 2)
            x[i, r:r + 6, q:q + 6] = colours[c]
        return x, y.astype(np.int32)
    train, val = frames(256), frames(64)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.GlobalMaxPooling2D(), keras.layers.Dense(4)])
    from crnnaudit.model import preprocess
    before = float(np.mean(np.asarray(model(preprocess(val[0], "vgg19"))).argmax(1) == val[1]))
    history = pretrain.pretrain(model, *train, val, epochs=8, batch=32, learning_rate=3e-3, seed=0, log=lambda s: None)
    assert [h["epoch"] for h in history] == list(range(1, 9))
    assert history[-1]["loss"] <= history[0]["loss"] and history[-1]["validation_frame_accuracy"] >= 0.95
    assert before <= 0.6  # it learned: an untrained net is far from it (chance: 0.25)


def test_a_trunk_file_round_trips_and_anything_else_is_refused(tmp_path):
    keras.utils.set_random_seed(5)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "trunk.npz"
    np.savez(path, **pretrain.quantize(vgg))
    arrays = pretrain.read_trunk(path)
    assert set(arrays) == {f"{n}/{p}" for n in pretrain.CONV_LAYERS for p in ("q", "scale", "bias")}
    assert sum(a.nbytes for k, a in arrays.items() if k.endswith("/q")) == vgg.count_params() - sum(
        vgg.get_layer(n).get_weights()[1].size for n in pretrain.CONV_LAYERS)  # one byte a kernel weight
    from crnnaudit.lab.training import build_parts
    full, _, _ = build_parts(0, 8, trunk=arrays)  # a screened recipe on the trunk: its weights, dequantised
    inner = full.get_layer("td_vgg19").layer
    for name in ("block1_conv1", "block5_conv4"):
        np.testing.assert_array_equal(inner.get_layer(name).get_weights()[0], pretrain.dequantized(arrays, name)[0])
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{"block1_conv1/q": arrays["block1_conv1/q"]})
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    single = tmp_path / "one.npy"
    np.save(single, np.zeros(3))
    for bad, why in ((partial, "not a VGG19 trunk"), (text, "not a readable trunk file"),
                     (single, "not a trunk file"), (tmp_path / "absent.npz", "not a readable trunk file")):
        with pytest.raises(CrnnauditError, match=why) as e:
            pretrain.read_trunk(bad)
        assert str(bad) in str(e.value)
