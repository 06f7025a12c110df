"""Disagreements the truth fuzzer (``benchmarks/truth_fuzz.py``) found, each minimised.

Every test builds the smallest model that showed the disagreement, saves and reloads
it, and compares graphcheck's static answer (file and live object) with real runs
(``agreement.assert_saved_model_agrees``). A finding graphcheck does not handle yet
is a strict xfail whose reason names the Keras mechanism.
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import assert_saved_model_agrees
from builders import KERAS_VERSIONS, keras_module
from test_live import assert_matches_runtime

pytestmark = pytest.mark.truth


def explicit_none_after_mc_dropout(flavour: str) -> Any:
    """``Dropout(.5)(x, training=True)``, then ``TimeDistributed(Dropout)(h, training=None)``."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(4, 8), name="x")
    h = K.layers.Dropout(0.5, name="mc")(inputs, training=True)
    inner = K.layers.Dropout(0.5, name="inner")
    h = K.layers.TimeDistributed(inner, name="td")(h, training=None)
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(h))
    return K.Model(inputs, outputs, name="explicit_none")


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "Keras >= 3.10 Layer._resolve_and_populate_arg (keras-team/keras#21204): an "
        "explicitly passed training=None (stored as null in the node) counts as passed, so "
        "under model(x) the call takes None instead of the True the MC Dropout left in the "
        "shared call context, and resets the context to None; graphcheck reads a stored "
        "null as no flag, as Keras 3.0-3.9 did (one profile covers both)"
    ),
)
def test_explicit_training_none_blocks_the_context_keras3(roundtrip: Any) -> None:
    """Keras 3.15: ``td`` is inactive under model(x); graphcheck says it inherits True."""
    from graphcheck import analyse

    pytest.importorskip("keras")
    model = explicit_none_after_mc_dropout("keras3")
    assert_matches_runtime(analyse(model), model)
    path, loaded = roundtrip(model, "keras3", "keras")
    assert_saved_model_agrees(path, loaded, KERAS_VERSIONS["keras3"])


def test_explicit_training_none_tf_keras(roundtrip: Any) -> None:
    """tf_keras reads an explicit ``training=None`` as no flag: graphcheck agrees."""
    pytest.importorskip("tf_keras")
    path, loaded = roundtrip(explicit_none_after_mc_dropout("tfkeras"), "tfkeras", "h5")
    assert_saved_model_agrees(path, loaded, KERAS_VERSIONS["tfkeras"])


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason=(
        "Keras >= 3.10 Layer._resolve_and_populate_arg (keras-team/keras#21204): an "
        "explicit training=None reaches RandomFlip.call as None, not its call default "
        "True, so model(x) does not flip; graphcheck reads the stored null as no flag and "
        "applies the default"
    ),
)
def test_explicit_training_none_random_flip_keras3(roundtrip: Any) -> None:
    """Keras 3.15: ``RandomFlip(...)(img, training=None)`` is off in model(x)."""
    from graphcheck import analyse

    pytest.importorskip("keras")
    K = keras_module("keras3")
    img = K.Input(shape=(6, 6, 3), name="img")
    h = K.layers.RandomFlip("horizontal", seed=3, name="flip")(img, training=None)
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(h))
    model = K.Model(img, outputs, name="explicit_none_flip")
    assert_matches_runtime(analyse(model), model)
    path, loaded = roundtrip(model, "keras3", "keras")
    assert_saved_model_agrees(path, loaded, KERAS_VERSIONS["keras3"])
