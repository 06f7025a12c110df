"""Small real models, built with Keras 3 (`keras`) and Keras 2 (`tf_keras`), saved once.

Each builder makes one situation a rule must recognise; layer names are explicit so
that cases can name call paths. The models are saved in the writer's own format
(`.keras` for Keras 3, `.h5` for tf_keras) and analysed statically by the tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
pytest.importorskip("tensorflow")
pytest.importorskip("keras")
pytest.importorskip("tf_keras")


def _k3() -> Any:
    import keras

    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return keras


def _tf() -> Any:
    import tf_keras

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(0)
    return tf_keras


def _base(K: Any, frozen: bool) -> Any:
    inputs = K.Input(shape=(8,), name="base_in")
    x = K.layers.Dense(8, name="base_dense")(inputs)
    x = K.layers.BatchNormalization(name="base_bn")(x)
    x = K.layers.Dropout(0.5, name="base_dropout")(x)
    base = K.Model(inputs, x, name="base")
    base.trainable = not frozen
    return base


def k3_frozen_base() -> Any:
    """Keras 3: frozen base (Dense, BN, Dropout) called plainly, then a head."""
    K = _k3()
    base = _base(K, frozen=True)
    x = K.Input(shape=(8,), name="x")
    return K.Model(x, K.layers.Dense(1, name="head")(base(x)), name="k3_frozen_base")


def k3_transfer() -> Any:
    """Keras 3: trainable base with a trainable BN and Dropout, called base(x, training=False)."""
    K = _k3()
    base = _base(K, frozen=False)
    x = K.Input(shape=(8,), name="x")
    return K.Model(x, K.layers.Dense(1, name="head")(base(x, training=False)), name="k3_transfer")


def tf_frozen_transfer() -> Any:
    """tf_keras: frozen base called base(x, training=False): the Keras 2 idiom."""
    K = _tf()
    base = _base(K, frozen=True)
    x = K.Input(shape=(8,), name="x")
    return K.Model(x, K.layers.Dense(1, name="head")(base(x, training=False)), name="tf_frozen_transfer")


def _mc(K: Any, name: str) -> Any:
    x = K.Input(shape=(8,), name="x")
    h = K.layers.Dense(16, activation="relu", name="dense")(x)
    h = K.layers.Dropout(0.5, name="mc_dropout")(h, training=True)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name=name)


def k3_mc() -> Any:
    """Keras 3: Monte Carlo dropout, Dropout(0.5)(h, training=True)."""
    return _mc(_k3(), "k3_mc")


def tf_mc() -> Any:
    """tf_keras: Monte Carlo dropout."""
    return _mc(_tf(), "tf_mc")


def k3_plain() -> Any:
    """Keras 3: Dense -> Dropout(0.3) -> Dense; nothing wrong under Keras 3.15."""
    K = _k3()
    x = K.Input(shape=(8,), name="x")
    h = K.layers.Dropout(0.3, name="dropout")(K.layers.Dense(8, name="dense")(x))
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="k3_plain")


def k3_structure() -> Any:
    """Keras 3: rate 0, rate 0.7, two noise layers in a row into BN, recurrent dropout, output dropout."""
    K = _k3()
    x = K.Input(shape=(8,), name="x")
    seq = K.Input(shape=(5, 3), name="seq")
    h = K.layers.Dense(8, name="dense_1")(x)
    h = K.layers.Dropout(0.0, name="zero_dropout")(h)
    h = K.layers.Dense(8, name="dense_2")(h)
    h = K.layers.Dropout(0.7, name="high_dropout")(h)
    h = K.layers.GaussianNoise(0.1, name="noise")(h)
    h = K.layers.BatchNormalization(name="bn")(h)
    r = K.layers.LSTM(4, recurrent_dropout=0.2, name="lstm")(seq)
    h = K.layers.Concatenate(name="concat")([h, r])
    h = K.layers.Dense(1, name="dense_out")(h)
    out = K.layers.Dropout(0.2, name="out_dropout")(h)
    return K.Model([x, seq], out, name="k3_structure")


def k3_partial_unfreeze() -> Any:
    """Keras 3: frozen base whose last Dense is set trainable=True again."""
    K = _k3()
    inputs = K.Input(shape=(8,), name="base_in")
    h = K.layers.Dense(8, name="base_dense_1")(inputs)
    h = K.layers.Dense(8, name="base_dense_2")(h)
    base = K.Model(inputs, h, name="base")
    base.trainable = False
    base.get_layer("base_dense_2").trainable = True
    x = K.Input(shape=(8,), name="x")
    return K.Model(x, K.layers.Dense(1, name="head")(base(x)), name="k3_partial_unfreeze")


def tf_nested_sequential() -> Any:
    """tf_keras: a Sequential nested in a Sequential (Keras 2 omits the inner trainable key)."""
    K = _tf()
    inner = K.Sequential([K.layers.Dense(8, name="inner_dense")], name="inner")
    inner.build((None, 8))
    model = K.Sequential([K.Input(shape=(8,)), inner, K.layers.Dense(1, name="head")], name="tf_nested")
    return model


def k3_code() -> Any:
    """Keras 3: a Lambda inside a nested submodel, and a custom registered layer class."""
    K = _k3()

    @K.saving.register_keras_serializable(package="graphcheck_tests")
    class Scale(K.layers.Layer):
        def call(self, inputs: Any) -> Any:
            return inputs * 2.0

    inputs = K.Input(shape=(8,), name="sub_in")
    h = K.layers.Lambda(lambda t: t * 0.5, name="halve")(inputs)
    sub = K.Model(inputs, h, name="sub")
    x = K.Input(shape=(8,), name="x")
    h = Scale(name="scale")(sub(x))
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="k3_code")


def k3_hub() -> Any:
    """Keras 3 with KerasHub layers (None when keras-hub is not installed)."""
    K = _k3()
    try:
        import keras_hub
    except ImportError:
        return None
    x = K.Input(shape=(8,), dtype="int32", name="ids")
    h = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=20, sequence_length=8, embedding_dim=8, name="embed"
    )(x)
    h = keras_hub.layers.TransformerEncoder(intermediate_dim=16, num_heads=2, dropout=0.1, name="enc")(h)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="k3_hub")


BUILDERS: dict[str, Callable[[], Any]] = {
    "k3_frozen_base": k3_frozen_base,
    "k3_transfer": k3_transfer,
    "tf_frozen_transfer": tf_frozen_transfer,
    "k3_mc": k3_mc,
    "tf_mc": tf_mc,
    "k3_plain": k3_plain,
    "k3_structure": k3_structure,
    "k3_partial_unfreeze": k3_partial_unfreeze,
    "tf_nested_sequential": tf_nested_sequential,
    "k3_code": k3_code,
    "k3_hub": k3_hub,
}


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every builder's model, saved once per test module: name -> file."""
    directory = tmp_path_factory.mktemp("rule_models")
    paths = {}
    for name, build in BUILDERS.items():
        model = build()
        if model is None:  # an optional library (keras-hub) is missing
            continue
        path = directory / (f"{name}.keras" if name.startswith("k3_") else f"{name}.h5")
        model.save(path)
        paths[name] = path
    return paths
