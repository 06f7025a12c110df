"""Small real models, one per Keras situation that graphcheck must get right.

Each builder takes ``flavour`` ("keras3" for `keras`, "tfkeras" for `tf_keras`) and
returns a fresh model.  Sizes are tiny so that building, saving, loading and
running one is well under a second.  Layer names are explicit so that test
expectations can name them.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from typing import Any

FLAVOURS = ("keras3", "tfkeras")
_PACKAGES = {"keras3": "keras", "tfkeras": "tf_keras"}


def _installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:  # e.g. no tf_keras on a JAX/torch machine
        return None


# The static answer is computed for the Keras that runs the model: the installed one.
KERAS_VERSIONS = {
    flavour: version
    for flavour, package in _PACKAGES.items()
    if (version := _installed_version(package)) is not None
}


def keras_module(flavour: str) -> Any:
    """Return the `keras` (flavour "keras3") or `tf_keras` ("tfkeras") module, seeded."""
    if flavour == "keras3":
        import keras as module
    elif flavour == "tfkeras":
        import tf_keras as module
    else:
        msg = f"unknown flavour {flavour!r} (expected one of {FLAVOURS})"
        raise ValueError(msg)
    module.backend.clear_session()
    module.utils.set_random_seed(0)
    return module


def _mlp_sub(K: Any, name: str, rate: float = 0.5, width: int = 8) -> Any:
    inputs = K.Input(shape=(width,), name=f"{name}_in")
    x = K.layers.Dense(width, activation="relu", name=f"{name}_dense")(inputs)
    x = K.layers.Dropout(rate, name=f"{name}_dropout")(x)
    return K.Model(inputs, x, name=name)


def frozen_submodel_dropout(flavour: str) -> Any:
    """A `trainable=False` submodel with a Dropout, under a trainable head."""
    K = keras_module(flavour)
    base = _mlp_sub(K, "base")
    base.trainable = False
    inputs = K.Input(shape=(8,), name="x")
    outputs = K.layers.Dense(1, name="head")(base(inputs))
    return K.Model(inputs, outputs, name="frozen_submodel_dropout")


def submodel_training_false(flavour: str) -> Any:
    """The transfer-learning idiom ``base(x, training=False)``; base has Dropout and a trainable BN."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="base_in")
    x = K.layers.Dense(8, name="base_dense")(inputs)
    x = K.layers.BatchNormalization(name="base_bn")(x)
    x = K.layers.Dropout(0.5, name="base_dropout")(x)
    base = K.Model(inputs, x, name="base")
    top_in = K.Input(shape=(8,), name="x")
    y = base(top_in, training=False)
    y = K.layers.Dropout(0.3, name="head_dropout")(y)
    outputs = K.layers.Dense(1, name="head")(y)
    return K.Model(top_in, outputs, name="submodel_training_false")


def mc_dropout(flavour: str) -> Any:
    """Monte Carlo dropout: ``Dropout(0.5)(x, training=True)``."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(16, activation="relu", name="dense")(inputs)
    x = K.layers.Dropout(0.5, name="mc_dropout")(x, training=True)
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="mc_dropout")


def three_levels(flavour: str) -> Any:
    """level2 (frozen, called training=False) holds level3 (trainable, called training=True)."""
    K = keras_module(flavour)
    level3 = _mlp_sub(K, "level3")
    l2_in = K.Input(shape=(8,), name="level2_in")
    x = K.layers.Dense(8, name="level2_dense")(l2_in)
    x = K.layers.Dropout(0.5, name="level2_dropout")(x)
    x = level3(x, training=True)
    level2 = K.Model(l2_in, x, name="level2")
    level2.trainable = False
    level3.trainable = True
    inputs = K.Input(shape=(8,), name="x")
    y = level2(inputs, training=False)
    y = K.layers.Dropout(0.5, name="top_dropout")(y)
    outputs = K.layers.Dense(1, name="head")(y)
    return K.Model(inputs, outputs, name="three_levels")


def shared_layer(flavour: str) -> Any:
    """One Dense and one Dropout object, each called twice in the same model."""
    K = keras_module(flavour)
    dense = K.layers.Dense(8, activation="relu", name="shared_dense")
    drop = K.layers.Dropout(0.5, name="shared_dropout")
    inputs = K.Input(shape=(8,), name="x")
    x = drop(dense(inputs))
    x = drop(dense(x))
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="shared_layer")


def siamese_three(flavour: str) -> Any:
    """A tower submodel with Dropout called on three inputs."""
    K = keras_module(flavour)
    tower = _mlp_sub(K, "tower", rate=0.4)
    inputs = [K.Input(shape=(8,), name=n) for n in ("anchor", "positive", "negative")]
    x = K.layers.Concatenate(name="concat")([tower(i) for i in inputs])
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="siamese_three")


def spatial_dropout(flavour: str) -> Any:
    """SpatialDropout1D after a Conv1D and SpatialDropout2D after a Conv2D."""
    K = keras_module(flavour)
    seq = K.Input(shape=(6, 4), name="seq")
    img = K.Input(shape=(6, 6, 3), name="img")
    a = K.layers.Conv1D(8, 3, name="conv1d")(seq)
    a = K.layers.SpatialDropout1D(0.5, name="sdrop1d")(a)
    b = K.layers.Conv2D(8, 3, name="conv2d")(img)
    b = K.layers.SpatialDropout2D(0.5, name="sdrop2d")(b)
    x = K.layers.Concatenate(name="concat")(
        [K.layers.Flatten(name="flat_a")(a), K.layers.Flatten(name="flat_b")(b)]
    )
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model([seq, img], outputs, name="spatial_dropout")


def noise_layers(flavour: str) -> Any:
    """GaussianNoise, GaussianDropout, AlphaDropout, Dropout(noise_shape) and Dropout(0.0)."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(5, 8), name="x")
    x = K.layers.GaussianNoise(0.5, name="gnoise")(inputs)
    x = K.layers.GaussianDropout(0.3, name="gdropout")(x)
    x = K.layers.AlphaDropout(0.3, name="adropout")(x)
    x = K.layers.Dropout(0.5, noise_shape=(None, 1, 8), name="shaped_dropout")(x)
    x = K.layers.Dropout(0.0, name="zero_dropout")(x)
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(x))
    return K.Model(inputs, outputs, name="noise_layers")


def recurrent_dropout(flavour: str) -> Any:
    """LSTM and GRU with dropout and recurrent_dropout."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(5, 4), name="x")
    x = K.layers.LSTM(6, dropout=0.3, recurrent_dropout=0.3, return_sequences=True, name="lstm")(
        inputs
    )
    x = K.layers.GRU(6, dropout=0.3, recurrent_dropout=0.3, name="gru")(x)
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="recurrent_dropout")


def wrappers(flavour: str) -> Any:
    """Bidirectional(LSTM(dropout)) and TimeDistributed(Dropout)."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(5, 4), name="x")
    x = K.layers.TimeDistributed(K.layers.Dropout(0.5, name="inner_dropout"), name="td_dropout")(
        inputs
    )
    x = K.layers.Bidirectional(K.layers.LSTM(6, dropout=0.3, name="lstm"), name="bilstm")(x)
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="wrappers")


def self_attention(flavour: str) -> Any:
    """MultiHeadAttention(dropout=0.1) used as self-attention."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(5, 8), name="x")
    x = K.layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1, name="mha")(
        inputs, inputs
    )
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(x))
    return K.Model(inputs, outputs, name="self_attention")


def augmentation(flavour: str) -> Any:
    """RandomFlip and RandomRotation in front of a small conv net."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(8, 8, 3), name="img")
    x = K.layers.RandomFlip("horizontal_and_vertical", seed=1, name="flip")(inputs)
    x = K.layers.RandomRotation(0.2, seed=2, name="rotate")(x)
    x = K.layers.Conv2D(4, 3, name="conv")(x)
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(x))
    return K.Model(inputs, outputs, name="augmentation")


def multi_io(flavour: str) -> Any:
    """Two inputs, two outputs, a Dropout on each branch and one after the merge."""
    K = keras_module(flavour)
    a = K.Input(shape=(6,), name="a")
    b = K.Input(shape=(4,), name="b")
    xa = K.layers.Dropout(0.5, name="drop_a")(K.layers.Dense(8, name="dense_a")(a))
    xb = K.layers.Dropout(0.5, name="drop_b")(K.layers.Dense(8, name="dense_b")(b))
    x = K.layers.Dropout(0.2, name="drop_merged")(K.layers.Concatenate(name="concat")([xa, xb]))
    out1 = K.layers.Dense(1, name="out1")(x)
    out2 = K.layers.Dense(2, name="out2")(xb)
    return K.Model([a, b], [out1, out2], name="multi_io")


def sequential_plain(flavour: str) -> Any:
    """Sequential: Dense, Dropout, Dense."""
    K = keras_module(flavour)
    return K.Sequential(
        [
            K.Input(shape=(8,)),
            K.layers.Dense(8, activation="relu", name="dense"),
            K.layers.Dropout(0.5, name="dropout"),
            K.layers.Dense(1, name="head"),
        ],
        name="sequential_plain",
    )


def sequential_nested(flavour: str) -> Any:
    """A frozen Sequential (built without its own Input) inside a Functional model."""
    K = keras_module(flavour)
    block = K.Sequential(
        [K.layers.Dense(8, name="block_dense"), K.layers.Dropout(0.5, name="block_dropout")],
        name="block",
    )
    block.trainable = False
    inputs = K.Input(shape=(8,), name="x")
    outputs = K.layers.Dense(1, name="head")(block(inputs))
    return K.Model(inputs, outputs, name="sequential_nested")


def batchnorm(flavour: str) -> Any:
    """One frozen and one trainable BatchNormalization."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(8, name="dense")(inputs)
    frozen = K.layers.BatchNormalization(name="bn_frozen")
    frozen.trainable = False
    x = frozen(x)
    x = K.layers.BatchNormalization(name="bn_trainable")(x)
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="batchnorm")


def context_leak(flavour: str) -> Any:
    """RandomFlip, then a trainable BN and a flag-less submodel with a Dropout.

    Keras 3.0-3.15 leave RandomFlip's training=True in the shared call context under
    model(x): the BN and the submodel inherit it (keras-team/keras#23166).
    """
    K = keras_module(flavour)
    base = _mlp_sub(K, "base", width=48)
    inputs = K.Input(shape=(4, 4, 3), name="image")
    x = K.layers.RandomFlip("horizontal", name="flip")(inputs)
    x = K.layers.BatchNormalization(name="bn_after_flip")(x)
    x = K.layers.Flatten(name="flatten")(x)
    x = base(x)
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="context_leak")


def sibling_branches(flavour: str) -> Any:
    """MC dropout on one branch, a trainable BN on its sibling: run order decides the BN."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="x")
    a = K.layers.Dense(8, name="dense_a")(inputs)
    a = K.layers.Dropout(0.5, name="mc_branch")(a, training=True)
    b = K.layers.BatchNormalization(name="bn_sibling")(inputs)
    x = K.layers.Add(name="join")([a, b])
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="sibling_branches")


def mc_then_plain(flavour: str) -> Any:
    """MC dropout ``Dropout(0.5)(x, training=True)``, then a plain Dropout further on.

    Keras 3.16 pre-releases leave the MC call's True in the shared call context, so
    the plain Dropout fires in predict(); Keras 3.0-3.15 running a Keras 2 file keep
    it off under model(x), because they store its ``call`` default when they load it.
    """
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(8, activation="relu", name="dense")(inputs)
    x = K.layers.Dropout(0.5, name="mc_dropout")(x, training=True)
    x = K.layers.Dense(8, activation="relu", name="middle")(x)
    x = K.layers.Dropout(0.5, name="plain_dropout")(x)
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="mc_then_plain")


def bn_after_dropout(flavour: str) -> Any:
    """A trainable BatchNormalization after a plain Dropout.

    A Keras 3.0-3.15 file stores ``training: false`` on the Dropout; a Keras that
    honours stored flags and shares one call context runs the BN in inference mode
    in fit().
    """
    K = keras_module(flavour)
    inputs = K.Input(shape=(8,), name="x")
    x = K.layers.Dense(8, name="dense")(inputs)
    x = K.layers.Dropout(0.5, name="dropout")(x)
    x = K.layers.BatchNormalization(name="bn")(x)
    outputs = K.layers.Dense(1, name="head")(x)
    return K.Model(inputs, outputs, name="bn_after_dropout")


BUILDERS: dict[str, Callable[[str], Any]] = {
    f.__name__: f
    for f in (
        frozen_submodel_dropout,
        submodel_training_false,
        mc_dropout,
        three_levels,
        shared_layer,
        siamese_three,
        spatial_dropout,
        noise_layers,
        recurrent_dropout,
        wrappers,
        self_attention,
        augmentation,
        multi_io,
        sequential_plain,
        sequential_nested,
        batchnorm,
        context_leak,
        sibling_branches,
        mc_then_plain,
        bn_after_dropout,
    )
}
