"""Reading a BatchNormalization call's statistics from its numbers, without a second call.

The observer decides "batch or moving statistics" by recomputing a sample of the
output both ways (runtime/batch_stats.py `recognise_batch_statistics`) and falls back
to a ``training=False`` call of the layer when that is not conclusive.  Here real
Keras 3 and tf_keras layers run in both modes; the verdict must never be wrong,
and for the ordinary configurations it must not need the fallback.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphcheck.runtime.batch_stats import moving_statistics, recognise_batch_statistics

pytestmark = pytest.mark.keras

# (flavour, BatchNormalization kwargs, input shape, verdict required rather than None)
CASES = [
    ("keras3", {}, (8, 7, 7, 16), True),
    ("keras3", {"momentum": 0.9}, (8, 5), True),
    ("keras3", {"momentum": 0.999}, (8, 14, 14, 32), True),
    ("keras3", {}, (8, 64, 64, 8), True),
    ("keras3", {"axis": 1}, (4, 3, 9, 9), True),
    ("keras3", {"center": False, "scale": False}, (8, 6, 6, 4), True),
    ("keras3", {"epsilon": 1e-5}, (1, 4, 4, 3), True),
    ("keras3", {"momentum": 0.999}, (2, 5), True),
    ("keras3", {"momentum": 1.0}, (8, 5), True),
    ("keras3", {"renorm": True}, (8, 6, 6, 4), False),
    ("tf_keras", {}, (8, 7, 7, 16), True),
    ("tf_keras", {"fused": False}, (8, 7, 7, 16), True),
    ("tf_keras", {"momentum": 0.9}, (8, 5), True),
    ("tf_keras", {"axis": 1}, (4, 3, 9, 9), True),
    ("tf_keras", {"renorm": True}, (8, 6, 6, 4), False),
    ("tf_keras", {"virtual_batch_size": 2}, (8, 6, 6, 4), False),
    ("tf_keras", {"momentum": 1.0}, (8, 5), True),
]


def batch_norm(flavour: str, kwargs: dict[str, Any]) -> Any:
    import keras
    import tf_keras

    module = keras if flavour == "keras3" else tf_keras
    return module.layers.BatchNormalization(**kwargs)


@pytest.mark.parametrize(("flavour", "kwargs", "shape", "conclusive"), CASES)
@pytest.mark.parametrize("training", [True, False])
def test_verdict_is_right_or_defers_to_keras(
    flavour: str, kwargs: dict[str, Any], shape: tuple[int, ...], conclusive: bool, training: bool
) -> None:
    import tensorflow as tf

    rng = np.random.default_rng(7)
    layer = batch_norm(flavour, kwargs)
    layer.build(shape)
    # Moving statistics as a pre-trained model has them, not the fresh 0 and 1.
    layer.moving_mean.assign(rng.normal(size=layer.moving_mean.shape).astype("float32"))
    layer.moving_variance.assign(
        rng.uniform(0.2, 3.0, size=layer.moving_variance.shape).astype("float32")
    )
    x = (rng.normal(size=shape) * 2.5 + 1.5).astype("float32")
    before = moving_statistics(layer)
    y = layer(tf.constant(x), training=training)
    after = moving_statistics(layer)

    # With the moving-average update (inverted where it can be), and without it.
    for verdict in (
        recognise_batch_statistics(layer, x, y, before, after),
        recognise_batch_statistics(layer, x, y, before),
    ):
        assert verdict in (training, None), f"read {verdict}, Keras used batch statistics={training}"
        if conclusive:
            assert verdict is training


def test_mixed_precision_output_is_recognised() -> None:
    import keras

    rng = np.random.default_rng(3)
    layer = keras.layers.BatchNormalization(dtype="mixed_float16")
    layer.build((8, 6, 6, 4))
    x = (rng.normal(size=(8, 6, 6, 4)) * 2 + 1).astype("float16")
    for training in (True, False):
        before = moving_statistics(layer)
        y = layer(x, training=training)
        assert np.asarray(y).dtype == np.float16
        verdict = recognise_batch_statistics(layer, x, y, before)
        assert verdict is training


@pytest.mark.parametrize("flavour", ["keras3", "tf_keras"])
@pytest.mark.parametrize("momentum", [0.99, 0.9999, 1.0])
@pytest.mark.parametrize("offset", [0.0, 1e-3, 1e-1])
@pytest.mark.parametrize("training", [True, False])
def test_moving_statistics_near_the_batch_are_never_misread(
    flavour: str, momentum: float, offset: float, training: bool
) -> None:
    """Moving statistics at (or near) the batch's own: the verdict is right or deferred."""
    import tensorflow as tf

    rng = np.random.default_rng(11)
    x = (rng.normal(size=(64, 4)) * 3 + 100).astype("float32")
    layer = batch_norm(flavour, {"momentum": momentum})
    layer.build(x.shape)
    layer.moving_mean.assign((x.mean(axis=0) + offset).astype("float32"))
    layer.moving_variance.assign((x.var(axis=0) * (1 + offset)).astype("float32"))
    before = moving_statistics(layer)
    y = layer(tf.constant(x), training=training)
    after = moving_statistics(layer)

    assert recognise_batch_statistics(layer, x, y, before, after) in (training, None)
    assert recognise_batch_statistics(layer, x, y, before) in (training, None)


def test_subclass_is_left_to_keras() -> None:
    import keras

    class Scaled(keras.layers.BatchNormalization):
        def call(self, inputs, training=None, mask=None):
            return super().call(inputs, training=training, mask=mask) * 2.0

    layer = Scaled()
    x = np.random.default_rng(5).normal(size=(8, 3)).astype("float32")
    layer.build(x.shape)
    before = moving_statistics(layer)
    y = layer(x, training=False)
    assert recognise_batch_statistics(layer, x, y, before) is None
