"""validate on tf_keras sees a stateless random op seeded from a variable draw anew.

A stateless op (``tf.random.stateless_uniform``) gives the same numbers for the same
seed; seeded from a variable the layer moves every call, it draws anew each call.
When a watched layer ran a stateless op, the observer runs its call again and counts
it as a draw if the outputs differ. Truth is the layer's real calls: run twice on the
same input, a drawing layer's outputs differ, a fixed-seed one's do not.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytestmark = pytest.mark.keras
tf = pytest.importorskip("tensorflow")
tf_keras = pytest.importorskip("tf_keras")

# The truth tests' layer (tests/truth is on the path, as for builders).
from test_own_random_tf_keras_truth import CounterSeeded  # noqa: E402


class FixedSeeded(tf_keras.layers.Layer):
    """Deterministic: a stateless draw with a constant seed, after a weight-fed input."""

    def call(self, x: Any) -> Any:
        return x * 2.0 + tf.random.stateless_uniform(tf.shape(x), seed=[1, 2])


def build() -> Any:
    tf_keras.backend.clear_session()
    inputs = tf_keras.Input(shape=(3,), name="x")
    h = tf_keras.layers.Dense(3, name="dense")(inputs)
    h = FixedSeeded(name="fixed")(CounterSeeded(name="seeded")(h))
    return tf_keras.Model(inputs, tf_keras.layers.Dense(1, name="head")(h), name="tfk_seeded")


def draws_in_real_calls(layer: Any, x: Any) -> bool:
    return not np.array_equal(np.asarray(layer(x)), np.asarray(layer(x)))


def test_validate_observes_a_stateless_draw_seeded_from_a_variable() -> None:
    from graphcheck import load
    from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets
    from graphcheck.runtime.comparison import compare

    model = build()
    x = tf.ones((2, 3))
    truth = {name: draws_in_real_calls(model.get_layer(name), x) for name in ("seeded", "fixed")}
    assert truth == {"seeded": True, "fixed": False}
    model = build()
    inputs = synthesise_inputs(model)
    observation = observe(model, inputs, targets=synthesise_targets(model, inputs))
    for name, draws in truth.items():
        for scenario, by_path in observation.records.items():
            assert [r.active for r in by_path[name]] == [draws], (name, scenario)
    result = compare(load(model).analyse(), observation, False)
    own = {c.path: c for c in result.calls if c.kind == "own_random"}
    assert own["seeded"].observed and own["seeded"].agree
    assert result.disagreements == ()
