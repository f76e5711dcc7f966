"""What makes a run GPU-ready, checked on the CPU: batch sizes from free device memory, and
frames decoded in a thread while the model works. A GPU cannot be reached here, so the one
stand-in is the backend's answer to "which GPU, how much free" (``ADAPTER.accelerator``)."""

from __future__ import annotations

import threading

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers as L

import architectures as arch
from crnnaudit import AuditedModel, open_clip
from crnnaudit.model import backend
from crnnaudit.model.decompose import all_layers
from crnnaudit.model.scoring import prefetched


def _frame_layers():
    m = keras.Sequential([keras.Input((16, 16, 3)), L.Conv2D(4, 3, padding="same"), L.MaxPooling2D()])
    return all_layers(m)


def test_frame_bytes_counts_every_activation_of_a_frame():
    # Conv2D 'same' 16x16x4 = 1024 floats, pooled 8x8x4 = 256: 1280 floats of 4 bytes
    assert backend.frame_bytes(_frame_layers(), gradients=False) == 1280 * 4
    assert backend.frame_bytes(_frame_layers(), gradients=True) == 3 * 1280 * 4


def test_batch_frames_keeps_the_cpu_default_and_fills_a_gpu(monkeypatch):
    layers = _frame_layers()
    assert backend.batch_frames(layers, False, 32) == 32  # no GPU here
    monkeypatch.setattr(backend, "on_accelerator", lambda: True)
    gpu = backend.Accelerator("a GPU with 1 MiB free", 1 << 20, 0)
    monkeypatch.setattr(backend.ADAPTER, "accelerator", lambda: gpu)
    assert backend.batch_frames(layers, False, 32) == (1 << 20) // 2 // 5120  # 102 frames
    assert backend.batch_frames(layers, True, 32) == 34  # a third of that with the backward
    monkeypatch.setattr(backend.ADAPTER, "accelerator", lambda: backend.Accelerator("big", 1 << 40, 0))
    assert backend.batch_frames(layers, False, 32) == backend.MAX_BATCH_FRAMES
    monkeypatch.setattr(backend.ADAPTER, "accelerator", lambda: backend.Accelerator("tiny", 1000, 0))
    assert backend.batch_frames(layers, False, 32) == 32  # never below the CPU default
    monkeypatch.setattr(backend.ADAPTER, "accelerator", lambda: backend.Accelerator("says nothing", None, 0))
    monkeypatch.setattr(backend, "UNKNOWN_FREE_BYTES", 4 << 20)  # the fixed budget: 4 MiB here
    assert backend.batch_frames(layers, False, 32) == 409  # 2 MiB / 5120 bytes
    assert backend.batch_frames(layers, True, 32) == 136  # 2 MiB / 15360 bytes


def test_prefetched_gives_every_item_in_order_and_raises_the_producers_error():
    assert list(prefetched(iter(range(100)), 3)) == list(range(100))

    def failing():
        yield 1
        yield 2
        raise ValueError("frame 3 is damaged")
    got = []
    with pytest.raises(ValueError, match="frame 3 is damaged"):
        for item in prefetched(failing(), 2):
            got.append(item)
    assert got == [1, 2]


def test_leaving_a_prefetch_early_stops_its_thread_and_closes_the_source():
    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()
    for item in prefetched(endless(), 2):
        if item == 5:
            break
    assert closed.wait(5)
    assert not any(t.name == "crnnaudit-decode" for t in threading.enumerate())


def test_scoring_with_frames_decoded_ahead_gives_the_same_timeline(sample_clips):
    model = AuditedModel(arch.td_cnn_gru_softmax(t=4, s=16))
    clip = open_clip(sample_clips[0])
    plain = model.score(clip, stride=2, batch_frames=3, prefetch=False).table
    ahead = model.score(clip, stride=2, batch_frames=3, prefetch=True).table
    assert len(plain) >= 5
    pd.testing.assert_frame_equal(plain, ahead)
    # and it is the model's own answer: window 0 by the Keras model itself
    first = model.prepare(clip.window(0, 4, 2, (16, 16)).frames)[None]
    p = np.asarray(model.model(first, training=False))[0]
    assert np.allclose(plain.filter(like="p_").to_numpy()[0], p, atol=1e-5)
