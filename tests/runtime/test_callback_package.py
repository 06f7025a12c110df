"""GraphcheckCallback given to the other Keras's fit(): one line saying which argument fixes it."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.keras
def test_keras3_callback_in_a_tf_keras_fit_names_the_package_argument() -> None:
    """tf_keras's fit() refuses a Keras 3 callback with a TypeError naming package="tf_keras"."""
    tf_keras = pytest.importorskip("tf_keras")
    from graphcheck.keras import GraphcheckCallback

    inputs = tf_keras.Input((4,))
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(1)(tf_keras.layers.Dropout(0.5)(inputs)))
    model.compile("sgd", "mse")
    data = np.zeros((4, 4), dtype="float32"), np.zeros((4, 1), dtype="float32")
    with pytest.raises(TypeError, match='package="tf_keras"'):
        model.fit(*data, verbose=0, callbacks=[GraphcheckCallback()])
    history = model.fit(*data, verbose=0, callbacks=[GraphcheckCallback(package="tf_keras")])
    assert len(history.history["loss"]) == 1  # the right package: fit() runs its step
