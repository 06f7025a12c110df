"""Subclassed Keras 3 models whose ``call`` decides ``training`` in Python.

For ``test_subclass_heldout.py`` and the version matrix's worker (which runs them
under other Keras builds, without pytest): each class is registered, so a saved
file of one loads back, and built by calling it once.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np


def _encoder() -> Any:
    inputs = keras.Input((8,), name="enc_in")
    hidden = keras.layers.Dense(8, name="enc_dense")(inputs)
    outputs = keras.layers.Dropout(0.4, name="enc_dropout")(hidden)
    encoder = keras.Model(inputs, outputs, name="encoder")
    encoder.trainable = False
    return encoder


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class NoTrainingArgument(keras.Model):
    """``call(self, x)``: no ``training`` parameter at all."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8, name="dense")
        self.drop = keras.layers.Dropout(0.5, name="drop")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x: Any) -> Any:
        return self.out(self.drop(self.dense(x)))


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class EncoderInInference(keras.Model):
    """The frozen encoder called with ``training=False`` inside ``call``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.encoder = _encoder()
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.out(self.encoder(x, training=False))


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class McDropoutThenHead(keras.Model):
    """An MC dropout (``training=True`` in ``call``), then a Dropout with no flag."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8, name="dense")
        self.mc = keras.layers.Dropout(0.5, name="mc")
        self.head = keras.layers.Dropout(0.2, name="head_dropout")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.out(self.head(self.mc(self.dense(x), training=True)))


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class PlainDropout(keras.Model):
    """The common pattern: ``call(self, x, training=None)``, a Dropout and a
    BatchNormalization called with no flag of their own."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8, name="dense")
        self.drop = keras.layers.Dropout(0.5, name="drop")
        self.bn = keras.layers.BatchNormalization(name="bn")
        self.out = keras.layers.Dense(1, name="out")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.out(self.bn(self.drop(self.dense(x))))


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class McDropoutInASubclass(keras.Model):
    """A subclass calling :class:`McDropoutThenHead` with no flag, then a Dropout of its
    own with none: the MC call inside leaves True in the context for it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = McDropoutThenHead(name="mc_inner")
        self.drop = keras.layers.Dropout(0.3, name="after_inner")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.drop(self.inner(x))


NESTED = {
    "encoder_in_inference": EncoderInInference,
    "mc_dropout_then_head": McDropoutThenHead,
    "twice_nested": McDropoutInASubclass,
    "no_training_argument": NoTrainingArgument,
}


def in_a_functional(cls: type, name: str, sequential: bool = False) -> Any:
    """``cls`` called inside a Functional (or Sequential) model, after a Dropout (its
    stored False is in the context under model(x)) and before a BatchNormalization
    with no flag (it takes whatever the subclass's call leaves in the context)."""
    inner = cls(name=name)
    inner(np.zeros((1, 8), "float32"))
    pre = keras.layers.Dropout(0.1, name="pre")
    after = keras.layers.BatchNormalization(name="after_bn")
    head = keras.layers.Dense(1, name="head")
    if sequential:
        return keras.Sequential([keras.Input((8,)), pre, inner, after, head], name="outer")
    inputs = keras.Input((8,), name="x")
    return keras.Model(inputs, head(after(inner(pre(inputs)))), name="outer")


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class LeavesFalse(keras.layers.Layer):
    """Calls its BatchNormalization with ``training=False``: leaves False in the context."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bn = keras.layers.BatchNormalization(name="bn")

    def call(self, x: Any, training: Any = None) -> Any:
        return self.bn(x, training=False)


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class HoldsDropout(keras.layers.Layer):
    """``call(self, x)`` takes no ``training`` and calls the Dropout it holds."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drop = keras.layers.Dropout(0.5, name="drop")

    def call(self, x: Any) -> Any:
        return self.drop(x)


def leaver_then_holder() -> Any:
    """A Functional: ``LeavesFalse``, then ``HoldsDropout``. Keras 3.0-3.9 push fit()'s
    True only into calls that take ``training``, so the holder inherits the False the
    leaver left and its Dropout is off in fit(); Keras 3.10 and later push True into it."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    x = keras.Input((8,), name="x")
    h = HoldsDropout(name="holder")(LeavesFalse(name="leaver")(x))
    model = keras.Model(x, keras.layers.Dense(1, name="head")(h), name="leaver_then_holder")
    model(np.zeros((1, 8), "float32"))
    return model
