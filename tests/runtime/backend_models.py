"""Small Keras 3 models for validating on the JAX and torch backends; no TensorFlow needed.

These builders use `keras` only (and the shared helpers of
`tests/truth/builders.py`, which import nothing else for the "keras3" flavour),
with whatever backend ``KERAS_BACKEND`` chose, and are run as a script in a
subprocess::

    KERAS_BACKEND=jax python tests/runtime/backend_models.py OUTDIR

which saves one ``NAME.keras`` per builder into OUTDIR.  Layer names are explicit
so that failures name them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "truth"))
from builders import _mlp_sub as _mlp  # noqa: E402
from builders import keras_module  # noqa: E402


def _keras() -> Any:
    return keras_module("keras3")


def noise_family() -> Any:
    """Dropout (plain and noise_shape), SpatialDropout1D/2D, GaussianNoise/Dropout, AlphaDropout."""
    K = _keras()
    seq = K.Input(shape=(6, 4), name="seq")
    img = K.Input(shape=(6, 6, 3), name="img")
    a = K.layers.Conv1D(8, 3, name="conv1d")(seq)
    a = K.layers.SpatialDropout1D(0.5, name="sdrop1d")(a)
    a = K.layers.GaussianNoise(0.5, name="gnoise")(a)
    a = K.layers.GaussianDropout(0.3, name="gdropout")(a)
    a = K.layers.AlphaDropout(0.3, name="adropout")(a)
    a = K.layers.Dropout(0.5, noise_shape=(None, 1, 8), name="shaped_dropout")(a)
    b = K.layers.Conv2D(8, 3, name="conv2d")(img)
    b = K.layers.SpatialDropout2D(0.5, name="sdrop2d")(b)
    x = K.layers.Concatenate(name="concat")(
        [K.layers.Flatten(name="flat_a")(a), K.layers.Flatten(name="flat_b")(b)]
    )
    x = K.layers.Dropout(0.5, name="dropout")(x)
    return K.Model([seq, img], K.layers.Dense(1, name="head")(x), name="noise_family")


def batchnorm() -> Any:
    """A frozen and a trainable BatchNormalization after a trainable Dense."""
    K = _keras()
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(8, name="dense")(inputs)
    frozen = K.layers.BatchNormalization(name="bn_frozen")
    frozen.trainable = False
    x = K.layers.BatchNormalization(name="bn_trainable")(frozen(x))
    return K.Model(inputs, K.layers.Dense(1, name="head")(x), name="batchnorm")


def frozen_nested() -> Any:
    """A frozen submodel holding a submodel with Dropout, called ``outer(x, training=False)``.

    Keras 3.0-3.15 ignore the stored ``training=False`` during fit(): both dropouts
    drop, although every weight under ``outer`` is frozen.
    """
    K = _keras()
    inner = _mlp(K, "inner")
    outer_in = K.Input(shape=(8,), name="outer_in")
    y = K.layers.Dense(8, name="outer_dense")(outer_in)
    y = K.layers.Dropout(0.5, name="outer_dropout")(y)
    outer = K.Model(outer_in, inner(y), name="outer")
    outer.trainable = False
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dropout(0.3, name="head_dropout")(outer(inputs, training=False))
    return K.Model(inputs, K.layers.Dense(1, name="head")(x), name="frozen_nested")


def shared_submodel() -> Any:
    """One tower submodel (Dense, Dropout) called on two inputs; a shared Dropout called twice."""
    K = _keras()
    tower = _mlp(K, "tower", rate=0.4)
    a = K.Input(shape=(8,), name="a")
    b = K.Input(shape=(8,), name="b")
    drop = K.layers.Dropout(0.5, name="shared_dropout")
    x = K.layers.Concatenate(name="concat")([drop(tower(a)), drop(tower(b))])
    return K.Model([a, b], K.layers.Dense(1, name="head")(x), name="shared_submodel")


def recurrent() -> Any:
    """LSTM with dropout and recurrent_dropout after a trainable Dense."""
    K = _keras()
    inputs = K.Input(shape=(5, 4), name="x")
    x = K.layers.Dense(4, name="embed")(inputs)
    x = K.layers.LSTM(6, dropout=0.3, recurrent_dropout=0.3, name="lstm")(x)
    return K.Model(inputs, K.layers.Dense(1, name="head")(x), name="recurrent")


def recurrent_on_input() -> Any:
    """LSTM with dropout and recurrent_dropout right on the model input."""
    K = _keras()
    inputs = K.Input(shape=(5, 4), name="x")
    x = K.layers.LSTM(6, dropout=0.3, recurrent_dropout=0.3, name="lstm")(inputs)
    return K.Model(inputs, K.layers.Dense(1, name="head")(x), name="recurrent_on_input")


def attention() -> Any:
    """MultiHeadAttention(dropout=0.2) used as self-attention."""
    K = _keras()
    inputs = K.Input(shape=(5, 8), name="x")
    x = K.layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.2, name="mha")(
        inputs, inputs
    )
    return K.Model(inputs, K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(x)),
                   name="attention")


def augmentation() -> Any:
    """RandomFlip, then a trainable BN and a flag-less submodel with a Dropout.

    Keras 3.0-3.15 leave RandomFlip's training=True in the shared call context under
    model(x): the BN and the submodel's Dropout inherit it.
    """
    K = _keras()
    base = _mlp(K, "base", width=48)
    inputs = K.Input(shape=(4, 4, 3), name="image")
    x = K.layers.RandomFlip("horizontal", seed=1, name="flip")(inputs)
    x = K.layers.BatchNormalization(name="bn_after_flip")(x)
    x = base(K.layers.Flatten(name="flatten")(x))
    return K.Model(inputs, K.layers.Dense(1, name="head")(x), name="augmentation")


def mc_dropout() -> Any:
    """Monte Carlo dropout, ``Dropout(0.5)(x, training=True)``: Keras 3.0-3.15 ignore the flag."""
    K = _keras()
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(16, activation="relu", name="dense")(inputs)
    x = K.layers.Dropout(0.5, name="mc_dropout")(x, training=True)
    return K.Model(inputs, K.layers.Dense(1, name="head")(x), name="mc_dropout")


def bfloat16() -> Any:
    """Dense and Dropout computing in bfloat16 (a dtype numpy knows only through ml_dtypes)."""
    K = _keras()
    inputs = K.Input(shape=(8,), dtype="bfloat16", name="x")
    x = K.layers.Dense(16, activation="relu", dtype="bfloat16", name="dense")(inputs)
    x = K.layers.Dropout(0.5, dtype="bfloat16", name="dropout")(x)
    return K.Model(inputs, K.layers.Dense(1, dtype="bfloat16", name="head")(x), name="bfloat16")


BUILDERS: dict[str, Callable[[], Any]] = {
    f.__name__: f
    for f in (
        noise_family,
        batchnorm,
        frozen_nested,
        shared_submodel,
        recurrent,
        recurrent_on_input,
        attention,
        augmentation,
        mc_dropout,
        bfloat16,
    )
}


def save_all(directory: Path) -> list[Path]:
    """Build every model and save it as ``directory/NAME.keras``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in BUILDERS.items():
        path = directory / f"{name}.keras"
        build().save(path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for saved in save_all(Path(sys.argv[1])):
        print(saved)
