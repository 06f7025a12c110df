"""A live Keras 3 model holding the layers only a built object lets graphcheck read.

Shared by the drawing and HTML page tests. Each path names one kind of call:

- ``encoder``: KerasHub's ``TransformerEncoder``, frozen, no class graphcheck's tables
  list, whose stochastic sublayers (attention, attention dropout, feed-forward dropout)
  graphcheck reads off the object;
- ``drop_path``: KerasHub MiT's ``DropPath``, a Keras-family layer that draws random
  numbers in its own ``call`` (a symbolic call of it shows when);
- ``get_item``: the ``GetItem`` operation ``x[:, 0]`` records (``keras.ops``);
- ``scale``: a user's own registered class: graphcheck cannot tell what it does.

Keras and KerasHub are imported when the model is built, never at import.
"""

from __future__ import annotations

import functools
from typing import Any

ENCODER, DROP_PATH, GET_ITEM, USER_CLASS = "encoder", "drop_path", "get_item", "scale"


@functools.cache
def keras_family_model() -> Any:
    """The model (built once per test session); needs keras and keras_hub."""
    import keras
    import keras_hub
    from keras_hub.src.models.mit.mit_layers import DropPath

    @keras.saving.register_keras_serializable(package="graphcheck_tests")
    class Scale(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return x * 2.0

    tokens = keras.Input((6, 8), name="tokens")
    encoder = keras_hub.layers.TransformerEncoder(
        intermediate_dim=16, num_heads=2, dropout=0.1, name=ENCODER
    )
    x = encoder(tokens)
    # Frozen once built: the flag then reaches the sublayers build() made (set before,
    # it would not, and their weights would train).
    encoder.trainable = False
    x = DropPath(0.2, name=DROP_PATH)(x)
    x = Scale(name=USER_CLASS)(x)
    first = x[:, 0]  # recorded as a GetItem operation
    outputs = keras.layers.Dense(2, name="head")(first)
    return keras.Model(tokens, outputs, name="built_keras_family")
