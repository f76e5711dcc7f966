"""The demo recipe's pieces: the bfloat16 twin of the frozen layers and the two training
phases (the second must leave block5_conv4 as the first left it)."""

import numpy as np
import pytest

from crnnaudit.demo.paths import SIZE
from crnnaudit.lab.training import FrozenMaps, build_parts, init_tail, train

CELLS = SIZE // 16  # block5_conv3's grid: four 2 x 2 pools before it


@pytest.fixture(scope="module")
def parts():
    return build_parts(0, 8)


def test_bfloat16_twin_computes_the_same_maps_within_bfloat16_rounding(parts):
    _, frozen, _ = parts
    x = np.random.default_rng(0).uniform(-110, 140, (3, SIZE, SIZE, 3)).astype(np.float32)
    exact = frozen.predict_on_batch(x)
    twin = FrozenMaps(frozen, "bfloat16")
    fast = twin.predict_on_batch(x)
    assert fast.dtype == np.float32 and fast.shape == exact.shape == (3, CELLS, CELLS, 512)
    rel = np.abs(fast - exact).mean() / np.abs(exact).mean()
    assert 0 < rel < 0.03, rel  # rounded (bfloat16 keeps 8 bits), yet the same maps
    assert {str(w.dtype) for w in twin.model.weights} == {"float32"}  # weights kept in float32
    assert {layer.compute_dtype for layer in twin.model.layers[1:]} == {"bfloat16"}
    same = FrozenMaps(frozen, "float32").predict_on_batch(x)
    np.testing.assert_array_equal(same, exact)
    with pytest.raises(ValueError, match="float16"):
        FrozenMaps(frozen, "float16")


def test_the_head_phase_leaves_block5_conv4_alone_and_trains_the_head(parts):
    _, _, tail = parts
    rng = np.random.default_rng(1)
    maps = rng.gamma(1.0, 1.0, (4, 24, CELLS, CELLS, 512)).astype(np.float32)
    in_event = np.zeros((4, 24), bool)
    in_event[1:, 10:] = True
    data = (maps, in_event, np.array([0, 1, 2, 3], np.int32))
    init_tail(tail, maps, 0)
    conv = [w.copy() for w in tail.conv4.get_weights()]
    gru = [w.copy() for w in tail.gru.get_weights()]
    history = train(tail, data, data, epochs=0, head_epochs=3, learning_rate=1e-2, l1=0.0, seed=0)
    for before, after in zip(conv, tail.conv4.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert any(not np.array_equal(b, a) for b, a in zip(gru, tail.gru.get_weights()))
    assert [h["phase"] for h in history] == ["head"] * 4 and history[-1]["averaged_epochs"] == 1
    history = train(tail, data, data, epochs=1, head_epochs=0, learning_rate=1e-2, l1=0.0, seed=0)
    assert any(not np.array_equal(b, a) for b, a in zip(conv, tail.conv4.get_weights()))
    assert [h["phase"] for h in history] == ["block5_conv4 + head"] * 2
