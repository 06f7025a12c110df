"""A user's own layer classes are opaque, whatever their names look like.

The WGAN-GP ``RandomWeightedAverage`` (random in every mode), a Monte Carlo
Dropout subclass (random in ``predict()``), a registered custom class named
``Dropout`` (also MC) and a plain Dropout subclass (off in ``predict()``) are
built with real Keras 3 and tf_keras, saved in every format, loaded back with
their classes, and run: Keras shows which are random in ``predict()``. graphcheck
must not take any of them for a Keras class (none is in ``stochastic``; all are in
``unknown_layers``), and must say which look like a Dropout subclass, exactly
those that subclass Dropout.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import FLAVOURS, KERAS_VERSIONS, keras_module
from saving import FORMATS, save_model

pytestmark = pytest.mark.truth

CUSTOM = ("rwa", "mc_dropout", "named_dropout", "plain_dropout")


@functools.cache  # Keras keeps one registration per name and process
def custom_classes(flavour: str) -> dict[str, type]:
    """The custom classes of one flavour, keyed by the name a config stores for them."""
    K = keras_module(flavour)
    if flavour == "keras3":
        register = K.saving.register_keras_serializable

        def uniform(shape: Any) -> Any:
            return K.random.uniform(shape)
    else:
        import tensorflow as tf

        register = K.utils.register_keras_serializable

        def uniform(shape: Any) -> Any:
            return tf.random.uniform(shape)

    class RandomWeightedAverage(K.layers.Layer):
        """WGAN-GP: a random point between a real and a generated sample, in every mode."""

        def call(self, inputs: Any) -> Any:
            real, fake = inputs
            alpha = uniform((1,))
            return alpha * real + (1 - alpha) * fake

    class MCDropout(K.layers.Dropout):
        """Monte Carlo dropout: drops whatever `training` says."""

        def call(self, inputs: Any, training: Any = None) -> Any:
            return super().call(inputs, training=True)

    @register(package="Custom", name="Dropout")
    class NamedDropout(MCDropout):
        """A user's class stored under Keras's own class name, Dropout."""

    class PlainDropout(K.layers.Dropout):
        """A Dropout subclass that changes nothing: off in predict()."""

    return {
        "RandomWeightedAverage": RandomWeightedAverage,
        "MCDropout": MCDropout,
        "Custom>Dropout": NamedDropout,
        "PlainDropout": PlainDropout,
    }


def custom_model(flavour: str) -> Any:
    K = keras_module(flavour)
    classes = custom_classes(flavour)
    real = K.Input(shape=(6,), name="real")
    fake = K.Input(shape=(6,), name="fake")
    outputs = [
        classes["RandomWeightedAverage"](name="rwa")([real, fake]),
        classes["MCDropout"](0.5, name="mc_dropout")(real),
        classes["Custom>Dropout"](0.5, name="named_dropout")(real),
        classes["PlainDropout"](0.5, name="plain_dropout")(real),
    ]
    return K.Model([real, fake], outputs, name="custom_classes")


def load(path: Path, flavour: str, fmt: str) -> Any:
    K = keras_module(flavour)
    objects = custom_classes(flavour)
    if fmt == "json":
        return K.models.model_from_json(path.read_text(), custom_objects=objects)
    if flavour == "keras3":
        return K.models.load_model(path, custom_objects=objects, compile=False, safe_mode=False)
    return K.models.load_model(path, custom_objects=objects, compile=False)


def random_in_predict(model: Any) -> dict[str, bool]:
    """Per output layer: do two predict() calls on the same input differ?"""
    rng = np.random.default_rng(0)
    inputs = [rng.uniform(1, 2, (16, 6)).astype("float32") for _ in model.inputs]
    first = model.predict(inputs, verbose=0)
    second = model.predict(inputs, verbose=0)
    names = [t._keras_history[0].name for t in model.outputs]
    return {name: not np.array_equal(a, b) for name, a, b in zip(names, first, second, strict=True)}


@pytest.mark.parametrize(("flavour", "fmt"), [(f, fmt) for f in FLAVOURS for fmt in FORMATS[f]])
def test_custom_classes_are_opaque(tmp_path: Path, flavour: str, fmt: str) -> None:
    """No custom class is read as Keras's; those subclassing Dropout are said to look like one."""
    from graphcheck import analyse

    built = custom_model(flavour)
    dropout = __import__("keras" if flavour == "keras3" else "tf_keras").layers.Dropout
    dropout_like = {
        layer.name: isinstance(layer, dropout) for layer in built.layers if layer.name in CUSTOM
    }
    path = save_model(built, flavour, fmt, tmp_path)
    model = load(path, flavour, fmt)
    random = random_in_predict(model)
    # What Keras does: these are the facts graphcheck must not contradict.
    assert random == {
        "rwa": True,
        "mc_dropout": True,
        "named_dropout": True,
        "plain_dropout": False,
    }

    entry = analyse(str(path), keras_version=KERAS_VERSIONS[flavour])
    claimed = {s["path"]: s for s in entry["stochastic"]}
    for name in CUSTOM:
        if name in claimed and random[name]:
            assert claimed[name]["active"]["predict"], (
                f"{name}: said off in predict(), Keras draws anew"
            )
    assert not set(claimed) & set(CUSTOM), f"custom classes taken for Keras's: {sorted(claimed)}"
    unknown = {u["path"]: u for u in entry["unknown_layers"]}
    assert set(unknown) == set(CUSTOM)
    assert {name: unknown[name]["resembles_dropout"] for name in CUSTOM} == dropout_like


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_text_says_maybe_mc_dropout(tmp_path: Path, flavour: str) -> None:
    """The text report names the dropout-like custom classes as possible MC dropouts."""
    from graphcheck.api import load as load_static
    from graphcheck.reporters.analysis_text import model_text

    path = save_model(custom_model(flavour), flavour, FORMATS[flavour][0], tmp_path)
    text = model_text(load_static(path).analyse(KERAS_VERSIONS[flavour]))
    assert "mc_dropout (MCDropout) is not a Keras class" in text or (
        "mc_dropout (Custom>MCDropout)" in text
    )
    assert "may be a custom (often MC) dropout" in text
    assert "rwa (RandomWeightedAverage) is not a Keras class" not in text


_NOT_AUGMENTATION = frozenset(
    {
        "AlphaDropout",
        "Attention",
        "ConvLSTM1D",
        "ConvLSTM2D",
        "ConvLSTM3D",
        "Dropout",
        "GRU",
        "GRUCell",
        "GaussianDropout",
        "GaussianNoise",
        "GroupQueryAttention",
        "JaxLayer",
        "LSTM",
        "LSTMCell",
        "MultiHeadAttention",
        "SimpleRNN",
        "SimpleRNNCell",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
    }
)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_augmentation_lists_are_the_installed_keras_classes(flavour: str) -> None:
    """graphcheck's augmentation classes of a dialect are exactly that Keras's seeded layers.

    Every class of ``layers`` whose constructor takes a ``seed`` draws random numbers;
    less the noise, recurrent and attention layers (known by their own kind), the
    rest are the augmentation layers. A Keras release that adds one fails here.
    """
    import inspect

    from graphcheck.layers import Stochastic, keras_layer_info

    module = __import__("keras" if flavour == "keras3" else "tf_keras")
    seeded = set()
    for name in dir(module.layers):
        cls = getattr(module.layers, name)
        if inspect.isclass(cls) and "seed" in inspect.signature(cls.__init__).parameters:
            seeded.add(cls.__name__ if flavour == "tfkeras" else name)
    dialect = "keras3" if flavour == "keras3" else "keras2"
    augmentation = {
        name
        for name in seeded | {"RandomWeightedAverage", "RandomFourierFeatures"}
        if keras_layer_info(name, dialect).stochastic is Stochastic.AUGMENTATION
    }
    assert augmentation == seeded - _NOT_AUGMENTATION
