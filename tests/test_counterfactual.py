"""Counterfactuals, checked against oracles: hand-weighted models whose smallest frame set and
region can be worked out by hand, and a drill on a trained CNN + GRU whose decisions rest on
frames planted in each clip."""

from __future__ import annotations

from itertools import combinations

import cv2
import numpy as np
import pytest

from crnnaudit import ExplanationError, ModelCard, explain
from crnnaudit.trust import counterfactual
from crnnaudit.model import AuditedModel
from crnnaudit.footage.video import Window
from tests.test_metrics import _quadrant_model


def _window(frames: np.ndarray, first: int = 100) -> Window:
    T = len(frames)
    return Window(frames, np.arange(first, first + T), np.arange(T) / 10.0, 0, T, "c" * 64)


def _uniform(brightness) -> np.ndarray:
    """Flat frames; brightness in 255ths, so the hand computation sees what the model sees."""
    return np.stack([np.full((32, 32, 3), int(round(b * 255)), np.uint8) for b in brightness])


def _p_bright(x: float) -> float:
    """The quadrant model by hand: logits (-8x + 4, 8x - 4) for mean quadrant brightness x."""
    return float(1 / (1 + np.exp(-(16 * x - 8))))


def _held(b: np.ndarray, gone: set[int]) -> np.ndarray:
    """The 'previous' baseline written out again: a removed frame shows the last kept frame."""
    kept = [t for t in range(len(b)) if t not in gone]
    return np.array([b[max([k for k in kept if k <= t], default=kept[0])] for t in range(len(b))])


def test_exact_search_returns_the_smallest_set_and_its_verified_scores():
    """Oracle: the quadrant model's probability is a function of the mean brightness, so every
    set's outcome can be computed by hand; the smallest changing set is found by brute force."""
    b = np.round(np.random.default_rng(3).uniform(0.2, 1.0, 12) * 255) / 255
    model = _quadrant_model(t=12)
    w = _window(_uniform(b))
    cf = counterfactual.temporal(model, w)
    assert cf.baseline == "previous" and cf.search == "exact"
    # brute force by hand: the smallest k with a set whose removal takes 'bright' below 0.5
    want = next(k for k in range(1, 7) if any(_p_bright(_held(b, set(s)).mean()) < 0.5
                                              for s in combinations(range(12), k)))
    assert cf.found and len(cf.positions) == want
    assert _p_bright(_held(b, set(cf.positions)).mean()) < 0.5
    assert cf.frames == [100 + t for t in cf.positions]  # the clip's frame numbers, not positions
    assert cf.before["decision"] == "anomaly" and cf.after["decision"] == "normal"
    assert cf.after["anomaly_score"] == pytest.approx(_p_bright(_held(b, set(cf.positions)).mean()), abs=1e-4)
    assert cf.before["anomaly_score"] == pytest.approx(_p_bright(b.mean()), abs=1e-4)
    assert cf.changed == ["decision", "class"] and "the smallest such set" in cf.statement
    assert sum(len(list(combinations(range(12), k))) for k in range(1, want + 1)) == cf.sets_scored - 1


def test_greedy_beyond_the_exact_budget_is_verified_and_pruned():
    """With a budget for single frames only, sets of two and more come from the greedy search.
    With zeros for removed frames the model is linear in the set, so greedy is optimal here:
    the set is the k brightest frames, k computed by hand."""
    b = np.array([242, 230, 77, 235, 224, 89, 217, 102, 229, 76]) / 255
    model = _quadrant_model(t=10)
    cf = counterfactual.temporal(model, _window(_uniform(b)), baseline="zero", exact_sets=10)
    order = np.argsort(-b, kind="stable")
    k = next(k for k in range(1, 11) if _p_bright(np.delete(b, order[:k]).sum() / 10) < 0.5)
    assert k > 1 and cf.search == "greedy" and cf.exact_up_to == 1
    assert cf.found and sorted(cf.positions) == sorted(int(t) for t in order[:k])
    assert cf.after["anomaly_score"] == pytest.approx(_p_bright(np.delete(b, cf.positions).sum() / 10), abs=1e-4)
    assert "greedy search and verified" in cf.statement


def test_no_set_up_to_k_frames_is_said_plainly():
    b = np.full(8, 1.0)  # removing 3 of 8 bright frames leaves x = 5/8: still 'bright' (0.88)
    cf = counterfactual.temporal(_quadrant_model(t=8), _window(_uniform(b)), baseline="zero", max_frames=3)
    assert not cf.found and cf.after is None and cf.positions == []
    assert cf.exact_up_to == 3 and cf.max_frames == 3 and cf.sets_scored == 8 + 28 + 56
    assert cf.statement.startswith("Removing any set of up to 3 frames (each replaced by")
    assert "leaves the model's answer unchanged (anomaly; most likely class bright)" in cf.statement


def test_bad_arguments_are_refused_by_name():
    model, w = _quadrant_model(t=4), _window(_uniform([0.9] * 4))
    with pytest.raises(ExplanationError, match="baseline 'median'"):
        counterfactual.temporal(model, w, baseline="median")
    with pytest.raises(ExplanationError, match="max_frames must be a whole number from 1 to 4"):
        counterfactual.temporal(model, w, max_frames=0)
    es = explain(model, w, ["frame_occlusion"], cache=False)
    cf = counterfactual.temporal(model, w)
    with pytest.raises(ExplanationError, match="'gradcam' is not a spatial method"):
        counterfactual.region(model, w, cf, es, "gradcam")


def _red_model(t=6, s=32):
    """Hand-weighted: a frame's feature is its reddest pixel's excess redness,
    max(relu((r - g) / 255 - 0.3)); the window's is the mean over frames; 'red' wins above 0.1."""
    import keras
    from keras import layers as L
    fi = keras.Input((s, s, 3))
    conv = L.Conv2D(1, 1, activation="relu", name="conv")
    cnn = keras.Model(fi, L.GlobalMaxPooling2D()(conv(fi)), name="cnn")
    inp = keras.Input((t, s, s, 3))
    dense = L.Dense(2, activation="softmax", name="out")
    model = keras.Model(inp, dense(L.GlobalAveragePooling1D()(L.TimeDistributed(cnn, name="td")(inp))))
    conv.set_weights([np.array([1.0, -1.0, 0.0], np.float32).reshape(1, 1, 3, 1), np.array([-0.3], np.float32)])
    dense.set_weights([np.array([[-20.0, 20.0]], np.float32), np.array([2.0, -2.0], np.float32)])
    return AuditedModel(model, ModelCard(classes=["normal", "red"], anomaly_classes=["red"], preprocessing="unit"))


def write_red_clip(path):
    """A real H.264 file for the red-pixel model: six grey frames, frames 2 and 4 with a red square."""
    from conftest import write_video
    frames = np.full((6, 64, 64, 3), 120, np.uint8)
    frames[[2, 4], 8:20, 8:20] = (240, 20, 20)
    write_video(path, frames)
    return path


def test_region_is_the_smallest_blurred_share_that_changes_the_outcome():
    """Two frames of six carry a 3 x 3 red square. Without either one (held by a grey
    neighbour) the mean redness halves and the model says normal: a one-frame counterfactual.
    Blurring the top 5% of a map centred on the square melts it into the grey (recomputed here
    with OpenCV and the Keras model itself); a map centred on the far corner never reaches the
    square, so no share up to 50% changes anything."""
    model = _red_model()
    frames = np.full((6, 32, 32, 3), 120, np.uint8)
    frames[[2, 4], 4:7, 4:7] = (240, 20, 20)
    w = _window(frames, first=0)
    cf = counterfactual.temporal(model, w)
    assert cf.found and len(cf.positions) == 1 and cf.positions[0] in (2, 4)
    es = explain(model, w, ["saliency", "frame_occlusion"], target="red", cache=False)
    yy, xx = np.mgrid[:32, :32]
    es["saliency"].maps[:] = -np.hypot(yy - 5, xx - 5)  # highest on the square
    region = counterfactual.region(model, w, cf, es, "saliency")
    assert region.found and region.share == 0.05 and region.masks.shape == (1, 32, 32)
    t = cf.positions[0]
    k = round(0.05 * 32 * 32)
    mask = np.zeros(32 * 32, bool)
    mask[np.argsort(np.hypot(yy - 5, xx - 5).ravel(), kind="stable")[:k]] = True
    assert (region.masks[0].ravel() == mask).all()
    blurred = frames.copy()
    blurred[t] = np.where(mask.reshape(32, 32, 1), cv2.GaussianBlur(frames[t], (0, 0), 2), frames[t])
    p = float(model.model(model.prepare(blurred)[None]).numpy()[0, 1])
    assert p < 0.5 and region.after["anomaly_score"] == pytest.approx(p, abs=1e-4)
    es["saliency"].maps[:] = -np.hypot(yy - 31, xx - 31)
    far = counterfactual.region(model, w, cf, es, "saliency")
    assert not far.found and "none up to 50%" in far.statement


def _planted(n: int, rng, T: int = 10, S: int = 16):
    """Grey noise clips; an anomaly clip has a red square on 1 to 3 frames (the planted ones);
    any clip may carry a green square on up to 2 frames (a distractor)."""
    x = rng.normal(100, 15, (n, T, S, S, 3)).clip(0, 255)
    y = rng.integers(0, 2, n)
    planted = []
    for i in range(n):
        for t in rng.choice(T, rng.integers(0, 3), replace=False):
            r, c = rng.integers(0, S - 5, 2)
            x[i, t, r:r + 5, c:c + 5] = (60, 220, 60)
        chosen = rng.choice(T, rng.integers(1, 4), replace=False) if y[i] else []
        for t in chosen:
            r, c = rng.integers(0, S - 5, 2)
            x[i, t, r:r + 5, c:c + 5] = (230, 40, 40)
        planted.append({int(t) for t in chosen})
    return x.astype(np.uint8), y, planted


def test_drill_the_counterfactual_lies_within_the_planted_frames():
    """A CNN + GRU trained on labels alone to tell clips with a red square on some frames;
    on fresh clips it flags, the counterfactual set lies within the planted frames in at
    least 90% (the issue's bar)."""
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(0)
    T, S = 10, 16
    x, y, _ = _planted(600, np.random.default_rng(0), T, S)
    fi = keras.Input((S, S, 3))
    cnn = keras.Model(fi, L.GlobalMaxPooling2D()(L.Conv2D(8, 3, activation="relu", name="conv")(fi)))
    inp = keras.Input((T, S, S, 3))
    net = keras.Model(inp, L.Dense(2, activation="softmax")(L.GRU(8)(L.TimeDistributed(cnn)(inp))))
    net.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    net.fit(x.astype("float32") / 255, y, epochs=12, batch_size=32, verbose=0)
    model = AuditedModel(net, ModelCard(classes=["normal", "red"], anomaly_classes=["red"], preprocessing="unit"))
    xt, yt, planted = _planted(60, np.random.default_rng(1), T, S)
    flagged = [i for i in range(60) if yt[i] and model.anomaly_score(
        model.probabilities(model.head_logits(model.frame_features(model.prepare(xt[i]))[None])))[0]
        >= model.card.threshold]
    assert len(flagged) >= 25
    inside = [counterfactual.temporal(model, _window(xt[i], 0)) for i in flagged]
    share = np.mean([cf.found and set(cf.positions) <= planted[i] for cf, i in zip(inside, flagged)])
    assert share >= 0.9
    # the window's mean still carries the planted frames, so removing them to it explains fewer
    # windows (README: 29 of 33 here, against 33 of 33)
    mean = [counterfactual.temporal(model, _window(xt[i], 0), baseline="mean") for i in flagged]
    assert np.mean([cf.found for cf in mean]) <= np.mean([cf.found for cf in inside])


def test_a_long_window_stops_at_the_search_budget_and_says_so():
    """A 2,000-frame window: one pass over every single frame would exceed the budget of frames
    through the head, so the search stops at once (never minutes) and the statement says so;
    a window whose exact search fits but whose greedy search does not says both."""
    import time
    from crnnaudit.limits import COUNTERFACTUAL_FRAME_STEPS
    T = 2000
    model = _quadrant_model(t=T)
    b = np.full(T, 1.0)
    t0 = time.perf_counter()
    cf = counterfactual.temporal(model, _window(_uniform(b)), baseline="zero")
    assert time.perf_counter() - t0 < 60
    assert not cf.found and cf.stopped_at_budget and cf.exact_up_to == 0 and cf.sets_scored == 0
    assert cf.statement.startswith("No counterfactual was searched to the end") and f"{T}-frame" in cf.statement
    T = 600  # 600 single frames fit (600 x 600 = 360,000), pairs do not fit EXACT_SETS; greedy steps run out
    cf = counterfactual.temporal(_quadrant_model(t=T), _window(_uniform(np.full(T, 1.0))), baseline="zero")
    assert not cf.found and cf.stopped_at_budget and cf.exact_up_to == 1
    assert cf.sets_scored * T <= COUNTERFACTUAL_FRAME_STEPS
    assert "Removing any set of up to 1 frame (" in cf.statement and "ran out before sets of 300 frames" in cf.statement
