"""The observer finds what to watch on its own, so the agreement is two-sided.

What is watched comes from the tree Keras tracks (every Dropout-family, noise,
attention and random-drawing layer below a graph layer), not from graphcheck's
static search: a held Dropout the static side missed still shows in the run, and
acting there, it is a disagreement. Keras 3 and tf_keras.
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import STATIC_SCENARIOS, assert_agrees
from builders import FLAVOURS, keras_module

pytestmark = pytest.mark.keras


def holder_model(flavour: str) -> Any:
    """A user's block holding a Dense, a Dropout it calls and a GaussianNoise deeper down."""
    K = keras_module(flavour)

    class Noisy(K.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.noise = K.layers.GaussianNoise(0.5, name="noise")

        def call(self, x: Any, training: Any = None) -> Any:
            return self.noise(x, training=training)

    class Block(K.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dense = K.layers.Dense(8, name="dense")
            self.drop = K.layers.Dropout(0.5, name="drop")
            self.inner = Noisy(name="inner")

        def call(self, x: Any, training: Any = None) -> Any:
            return self.inner(self.drop(self.dense(x), training=training), training=training)

    if flavour == "keras3":
        K.backend.clear_session()
    inputs = K.Input(shape=(8,), name="x")
    outputs = K.layers.Dense(1, name="head")(Block(name="block")(inputs))
    return K.Model(inputs, outputs, name=f"held_{flavour}")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_held_stochastic_layers_are_watched_and_agree(flavour: str) -> None:
    """Without any static answer, the run records the held Dropout and the noise two
    levels down, acting in fit() only; the static report agrees, both ways."""
    from graphcheck import analyse
    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets

    model = holder_model(flavour)
    entry = analyse(model)
    inputs = synthesise_inputs(model)
    obs = observe(
        model, inputs, scenarios=STATIC_SCENARIOS, targets=synthesise_targets(model, inputs)
    )
    for path in ("block/drop", "block/inner/noise"):
        acted = {s: any(obs.active[s][path]) for s in STATIC_SCENARIOS}
        assert acted == {"fit": True, "predict": False, "call": False}, path
    assert_agrees(
        entry, obs.active, obs.bn_batch_stats, obs.class_names, obs.weights_changed, obs.fit_error
    )
