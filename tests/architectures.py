"""Tiny clip models of every architecture crnnaudit must take (weights seeded)."""

from __future__ import annotations

import keras
from keras import layers as L

T, S = 4, 16  # frames, pixels: tiny, so the whole suite stays fast


def _seed(seed):
    keras.utils.set_random_seed(seed)


def td_cnn_gru_softmax(t=T, s=S, classes=3, seed=0):
    """The paper's shape in miniature: TimeDistributed(nested functional CNN) + GRU + MLP."""
    _seed(seed)
    fi = keras.Input((s, s, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(fi)
    x = L.MaxPooling2D(name="p1")(x)
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="c2")(x)
    x = L.MaxPooling2D(name="p2")(x)
    cnn = keras.Model(fi, x, name="cnn")
    inp = keras.Input((t, s, s, 3))
    y = L.TimeDistributed(cnn)(inp)
    y = L.TimeDistributed(L.Flatten())(y)
    y = L.GRU(8)(y)
    y = L.Dense(8, activation="relu")(y)
    y = L.Dropout(0.3)(y)
    out = L.Dense(classes, activation="softmax")(y)
    return keras.Model(inp, out, name="td_cnn_gru_softmax")


def td_cnn_gru_sigmoid(t=T, s=S, seed=1):
    _seed(seed)
    cnn = keras.Sequential([keras.Input((s, s, 3)), L.Conv2D(4, 3, activation="relu"),
                            L.Conv2D(5, 3, activation="relu", name="last_conv"),
                            L.GlobalAveragePooling2D()], name="cnn")
    inp = keras.Input((t, s, s, 3))
    y = L.TimeDistributed(cnn)(inp)
    y = L.GRU(6)(y)
    out = L.Dense(1, activation="sigmoid")(y)
    return keras.Model(inp, out, name="td_cnn_gru_sigmoid")


def td_per_layer_lstm(t=T, s=S, seed=2):
    """TimeDistributed around each layer, Sequential, LSTM."""
    _seed(seed)
    return keras.Sequential([
        keras.Input((t, s, s, 3)),
        L.TimeDistributed(L.Conv2D(4, 3, activation="relu")),
        L.TimeDistributed(L.MaxPooling2D()),
        L.TimeDistributed(L.Conv2D(6, 3, activation="relu")),
        L.TimeDistributed(L.Flatten()),
        L.LSTM(7),
        L.Dense(4, activation="softmax"),
    ], name="td_per_layer_lstm")


def bidirectional_gru(t=T, s=S, seed=3):
    _seed(seed)
    inp = keras.Input((t, s, s, 3))
    y = L.TimeDistributed(L.Conv2D(4, 3, activation="relu"))(inp)
    y = L.TimeDistributed(L.GlobalAveragePooling2D())(y)
    y = L.Bidirectional(L.GRU(5))(y)
    out = L.Dense(3, activation="softmax")(y)
    return keras.Model(inp, out, name="bidirectional_gru")


def return_sequences_pooling(t=None, s=S, seed=4):
    """return_sequences=True then pooling over time, with a time axis of None."""
    _seed(seed)
    inp = keras.Input((t, s, s, 3))
    y = L.TimeDistributed(L.Conv2D(4, 3, strides=2, activation="relu"))(inp)
    y = L.TimeDistributed(L.Conv2D(4, 3, activation="relu"))(y)
    y = L.TimeDistributed(L.GlobalMaxPooling2D())(y)
    y = L.GRU(6, return_sequences=True)(y)
    y = L.GlobalAveragePooling1D()(y)
    y = L.Dense(2)(y)
    out = L.Activation("softmax")(y)
    return keras.Model(inp, out, name="return_sequences_pooling")


def vgg19_gru(t=2, s=112, classes=4, units=32, seed=5, sigmoid=False):
    """The paper's model: TimeDistributed(VGG19(include_top=False)) + GRU + MLP."""
    _seed(seed)
    vgg = keras.applications.VGG19(include_top=False, weights=None, input_shape=(s, s, 3))
    inp = keras.Input((t, s, s, 3))
    y = L.TimeDistributed(vgg)(inp)
    y = L.TimeDistributed(L.GlobalAveragePooling2D())(y)
    y = L.GRU(units)(y)
    y = L.Dense(16, activation="relu")(y)
    y = L.Dropout(0.5)(y)
    out = L.Dense(1, activation="sigmoid")(y) if sigmoid else L.Dense(classes, activation="softmax")(y)
    return keras.Model(inp, out, name="vgg19_gru")


def no_conv_dense(t=T, s=8, seed=6):
    """Per-frame part without any conv layer: gradients and temporal methods only."""
    _seed(seed)
    return keras.Sequential([keras.Input((t, s, s, 3)), L.TimeDistributed(L.Flatten()),
                             L.TimeDistributed(L.Dense(5, activation="tanh")), L.GRU(4),
                             L.Dense(3, activation="softmax")], name="no_conv_dense")


ARCHITECTURES = {
    "td_cnn_gru_softmax": td_cnn_gru_softmax,
    "td_cnn_gru_sigmoid": td_cnn_gru_sigmoid,
    "td_per_layer_lstm": td_per_layer_lstm,
    "bidirectional_gru": bidirectional_gru,
    "return_sequences_pooling": return_sequences_pooling,
    "no_conv_dense": no_conv_dense,
}
