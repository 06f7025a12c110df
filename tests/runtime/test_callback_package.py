"""GraphcheckCallback: the other Keras's fit(), and an error that says what it leaves out."""

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


@pytest.mark.keras
def test_findings_error_says_how_many_it_does_not_list() -> None:
    """Four dropouts in a frozen submodel: the error lists three GC101s and says one more."""
    keras = pytest.importorskip("keras")
    from graphcheck.keras import GraphcheckCallback, GraphcheckFindingsError

    inner_in = keras.Input((4,))
    x = inner_in
    for i in range(4):
        x = keras.layers.Dropout(0.5, name=f"drop_{i}")(keras.layers.Dense(4, name=f"dense_{i}")(x))
    base = keras.Model(inner_in, x, name="base")
    base.trainable = False
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="head")(base(inputs)))
    model.compile("sgd", "mse")
    with pytest.raises(GraphcheckFindingsError) as caught:
        model.fit(np.zeros((4, 4)), np.zeros((4, 1)), verbose=0,
                  callbacks=[GraphcheckCallback(fail_on="warning")])
    message = str(caught.value)
    assert "4 finding(s) at or above warning" in message
    assert message.count("GC101 ") == 3 and "; and 1 more (logged above)" in message
