"""The demo model's architecture: ``TimeDistributed(VGG19)`` + per-frame max pooling +
normalisation + GRU + MLP + softmax, built from a seed (VGG19's random initial weights are
drawn from it). The shipped weights are set into it (:mod:`.shipped`); the lab trains it
(:mod:`crnnaudit.lab`)."""

from __future__ import annotations

from .paths import FRAMES, SIZE
from .synth import CLASSES


def build_model(seed: int, units: int):
    """The demo's Keras model with VGG19's random initial weights drawn from ``seed`` and a GRU
    of ``units``; the layers are named (``td_vgg19``, ``frame_pool``, ``feature_norm``, ``gru``,
    ``mlp``, ``dropout``, ``classes``) so that training and the shipped weights find them."""
    import keras
    from keras import layers as L
    keras.utils.set_random_seed(seed)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    # Each frame's feature is the peak of each block5_pool map (VGG19's pooling="max"). With
    # the average (recipe 8), a channel's constant response to the zero-padded border cost
    # nothing, and Grad-CAM peaked on the border; a peak must come from the frame's content.
    gap = L.GlobalMaxPooling2D(name="frame_pool")
    norm = L.Normalization(axis=-1, name="feature_norm")
    gru = L.GRU(units, name="gru")
    dense = L.Dense(32, activation="relu", name="mlp")
    drop = L.Dropout(0.3, name="dropout")
    out = L.Dense(len(CLASSES), activation="softmax", name="classes")
    inp = keras.Input((FRAMES, SIZE, SIZE, 3), name="clip")
    y = L.TimeDistributed(vgg, name="td_vgg19")(inp)
    y = L.TimeDistributed(gap, name="td_pool")(y)
    return keras.Model(inp, out(drop(dense(gru(norm(y))))), name="demo_vgg19_gru")
