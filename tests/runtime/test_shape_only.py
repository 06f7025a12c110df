"""--rebuild's value-less build: initializers never run, and a fallback when a layer needs values.

The answers of a rebuilt model (paths, frozen, active) are compared with real runs in
tests/truth/test_rebuild.py; here, that the build behind them reads no values.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from graphcheck.runtime.shape_only import build_shape_only

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")


class CountingInitializer(keras.initializers.Initializer):
    """Ones, counting how often Keras asks for a value."""

    calls = 0

    def __call__(self, shape, dtype=None):
        CountingInitializer.calls += 1
        return keras.ops.ones(shape, dtype=dtype)


class AssignsInBuild(keras.layers.Layer):
    """A layer that writes its weight while building: it cannot do without values."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="zeros")
        self.w.assign(np.full((input_shape[-1],), 2.0, "float32"))

    def call(self, x):
        return x * self.w


def small_model() -> keras.Model:
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, kernel_initializer=CountingInitializer())(inputs)
    outputs = keras.layers.Dropout(0.5)(hidden)
    return keras.Model(inputs, outputs)


def test_initializers_never_run_and_shapes_are_kept() -> None:
    CountingInitializer.calls = 0
    model, value_less = build_shape_only(keras, small_model)
    assert value_less
    assert CountingInitializer.calls == 0
    assert model.count_params() == 4 * 8 + 8
    assert [tuple(w.shape) for w in model.trainable_weights] == [(4, 8), (8,)]
    # The same model built as usual does compute it: the count above is not vacuous.
    small_model()
    assert CountingInitializer.calls == 1


def test_variables_made_afterwards_have_values() -> None:
    build_shape_only(keras, small_model)
    layer = keras.layers.Dense(3, kernel_initializer=CountingInitializer())
    layer.build((None, 2))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel), np.ones((2, 3)))


def test_a_layer_that_needs_values_is_built_again_with_them() -> None:
    keras.layers.Dropout(0.1)  # the caller's session has numbered a Dropout already

    def build() -> tuple[keras.Model, str]:
        unnamed = keras.layers.Dropout(0.1)
        inputs = keras.Input((3,))
        model = keras.Model(inputs, unnamed(AssignsInBuild()(inputs)))
        return model, unnamed.name

    (model, name), value_less = build_shape_only(keras, build)
    assert not value_less
    np.testing.assert_allclose(model.predict(np.ones((1, 3)), verbose=0), 2.0)
    # Numbered as a fresh process loading the file numbers it: neither the caller's
    # earlier Dropout nor the failed value-less attempt shifts the name.
    assert name == "dropout"


def test_the_callers_name_counters_are_put_back() -> None:
    before = keras.layers.Dropout(0.1).name  # "dropout_K"
    build_shape_only(keras, lambda: keras.layers.Dropout(0.1).name)
    after = keras.layers.Dropout(0.1).name
    number = int(before.rsplit("_", 1)[1]) if "_" in before else 0
    assert after == f"dropout_{number + 1}"


@pytest.mark.skipif(importlib.util.find_spec("keras_hub") is None, reason="needs keras_hub")
def test_a_kerashub_task_that_compiles_in_its_constructor_builds_value_less() -> None:
    # KerasHub tasks compile an optimizer when constructed; Keras's StatelessScope
    # refuses its step counter, which is why the build does not use that scope.
    import keras_hub

    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
        intermediate_dim=16, max_sequence_length=8,
    )
    task = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    config = keras.saving.serialize_keras_object(task)
    rebuilt, value_less = build_shape_only(
        keras, lambda: keras.saving.deserialize_keras_object(config)
    )
    assert value_less
    assert rebuilt.count_params() == task.count_params()
