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


def shared_sub_two_flags(flavour: str) -> Any:
    """A submodel with Dropout and BN called twice: training=False and training=True."""
    K = keras_module(flavour)
    i = K.Input(shape=(8,), name="s_in")
    h = K.layers.Dense(8, name="s_dense")(i)
    h = K.layers.BatchNormalization(name="s_bn")(h)
    h = K.layers.Dropout(0.5, name="s_drop")(h)
    sub = K.Model(i, h, name="sub")
    x = K.Input(shape=(8,), name="x")
    a = sub(x, training=False)
    b = sub(x, training=True)
    out = K.layers.Dense(1, name="head")(K.layers.Concatenate(name="cat")([a, b]))
    return K.Model(x, out, name="shared_sub_two_flags")


def nested_seq_func_seq(flavour: str) -> Any:
    """Sequential > Functional > Sequential, trainable flags differ at each level."""
    K = keras_module(flavour)
    inner = K.Sequential(
        [K.Input(shape=(8,)), K.layers.Dense(8, name="in_dense"),
         K.layers.Dropout(0.3, name="in_drop"), K.layers.BatchNormalization(name="in_bn")],
        name="inner_seq",
    )
    inner.trainable = False
    fi = K.Input(shape=(8,), name="f_in")
    fh = inner(fi)
    fh = K.layers.Dropout(0.4, name="mid_drop")(fh)
    fh = K.layers.Dense(8, name="mid_dense")(fh)
    mid = K.Model(fi, fh, name="mid_func")
    return K.Sequential(
        [K.Input(shape=(8,)), mid, K.layers.GaussianNoise(0.5, name="top_noise"),
         K.layers.Dense(1, name="top_dense")],
        name="nested_seq_func_seq",
    )


def dropout_on_input(flavour: str) -> Any:
    """Dropout directly on a model input; one Dropout feeding two consumers and an output."""
    K = keras_module(flavour)
    x = K.Input(shape=(8,), name="x")
    d0 = K.layers.Dropout(0.5, name="in_drop")(x)
    h = K.layers.Dense(8, name="dense")(d0)
    d1 = K.layers.Dropout(0.5, name="fan_drop")(h)
    a = K.layers.Dense(4, name="a")(d1)
    b = K.layers.Dense(4, name="b")(d1)
    return K.Model(x, [K.layers.Add(name="add")([a, b]), d1], name="dropout_on_input")


def misc_stochastic(flavour: str) -> Any:
    """SpatialDropout2D, GaussianNoise, AlphaDropout, ActivityRegularization, rate-0 drops."""
    K = keras_module(flavour)
    x = K.Input(shape=(6, 6, 2), name="img")
    h = K.layers.Conv2D(4, 3, name="conv")(x)
    h = K.layers.SpatialDropout2D(0.3, name="sd2")(h)
    h = K.layers.SpatialDropout2D(0.0, name="sd2_zero")(h)
    h = K.layers.Flatten(name="flat")(h)
    h = K.layers.GaussianNoise(0.0, name="gn_zero")(h)
    h = K.layers.AlphaDropout(0.2, name="alpha")(h)
    h = K.layers.ActivityRegularization(l1=0.01, name="actreg")(h)
    h = K.layers.GaussianDropout(0.0, name="gd_zero")(h)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="misc_stochastic")


def rnn_wrappers(flavour: str) -> Any:
    """Bidirectional(GRU(dropout, recurrent_dropout)), TimeDistributed(Dropout), SimpleRNN."""
    K = keras_module(flavour)
    x = K.Input(shape=(5, 4), name="seq")
    h = K.layers.TimeDistributed(K.layers.Dropout(0.3), name="td_drop")(x)
    gru = K.layers.GRU(4, dropout=0.2, recurrent_dropout=0.2, return_sequences=True)
    h = K.layers.Bidirectional(gru, name="bi_gru")(h)
    h = K.layers.SimpleRNN(4, dropout=0.0, recurrent_dropout=0.3, name="srnn")(h)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="rnn_wrappers")


def frozen_mha(flavour: str) -> Any:
    """MultiHeadAttention(dropout) inside a frozen submodel, called with no flag."""
    K = keras_module(flavour)
    t = K.Input(shape=(4, 8), name="tok")
    a = K.layers.MultiHeadAttention(2, 4, dropout=0.3, name="mha")(t, t)
    a = K.layers.LayerNormalization(name="ln")(a)
    enc = K.Model(t, a, name="encoder")
    enc.trainable = False
    x = K.Input(shape=(4, 8), name="x")
    h = enc(x)
    h = K.layers.GlobalAveragePooling1D(name="pool")(h)
    h = K.layers.Dropout(0.2, name="head_drop")(h)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="frozen_mha")


def bn_frozen_mix(flavour: str) -> Any:
    """Frozen BN in a trainable submodel, trainable BN in a frozen one, BN called training=True."""
    K = keras_module(flavour)
    i1 = K.Input(shape=(8,), name="t_in")
    fb = K.layers.BatchNormalization(name="t_bn_frozen")
    fb.trainable = False
    h1 = K.layers.Dense(8, name="t_dense")(fb(i1))
    tsub = K.Model(i1, h1, name="tsub")
    i2 = K.Input(shape=(8,), name="f_in")
    h2 = K.layers.BatchNormalization(name="f_bn")(i2)
    h2 = K.layers.Dropout(0.3, name="f_drop")(h2)
    fsub = K.Model(i2, h2, name="fsub")
    fsub.trainable = False
    i3 = K.Input(shape=(8,), name="m_in")
    h3 = K.layers.BatchNormalization(name="m_bn")(i3)
    msub = K.Model(i3, h3, name="msub")
    x = K.Input(shape=(8,), name="x")
    h = tsub(x)
    h = fsub(h)
    h = msub(h, training=True)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="bn_frozen_mix")


def frozen_augment(flavour: str) -> Any:
    """RandomFlip/RandomContrast/RandomZoom in a frozen preprocessing submodel."""
    K = keras_module(flavour)
    pi = K.Input(shape=(8, 8, 3), name="p_in")
    p = K.layers.RandomFlip("horizontal", name="flip")(pi)
    p = K.layers.RandomContrast(0.3, name="contrast")(p)
    p = K.layers.RandomZoom(0.2, name="zoom")(p)
    prep = K.Model(pi, p, name="prep")
    prep.trainable = False
    x = K.Input(shape=(8, 8, 3), name="img")
    h = prep(x)
    h = K.layers.Conv2D(2, 3, name="conv")(h)
    h = K.layers.GlobalAveragePooling2D(name="gap")(h)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="frozen_augment")


def same_dropout_twice(flavour: str) -> Any:
    """One Dropout object called twice, once with training=True, once without."""
    K = keras_module(flavour)
    d = K.layers.Dropout(0.5, name="drop")
    x = K.Input(shape=(8,), name="x")
    a = d(K.layers.Dense(8, name="d1")(x), training=True)
    b = d(K.layers.Dense(8, name="d2")(x))
    outputs = K.layers.Dense(1, name="head")(K.layers.Add(name="add")([a, b]))
    return K.Model(x, outputs, name="same_dropout_twice")


def frozen_top_and_layer(flavour: str) -> Any:
    """Top model frozen; a Dropout with its own trainable=False; a frozen inner layer."""
    K = keras_module(flavour)
    x = K.Input(shape=(8,), name="x")
    h = K.layers.Dense(8, name="dense")(x)
    d = K.layers.Dropout(0.5, name="drop")
    d.trainable = False
    h = d(h)
    h = K.layers.BatchNormalization(name="bn")(h)
    m = K.Model(x, K.layers.Dense(1, name="head")(h), name="frozen_top_and_layer")
    m.layers[1].trainable = False
    return m


def sub_training_true_bn(flavour: str) -> Any:
    """A submodel holding BN and Dropout called training=True; a plain Dropout after it."""
    K = keras_module(flavour)
    i = K.Input(shape=(8,), name="s_in")
    h = K.layers.BatchNormalization(name="s_bn")(i)
    h = K.layers.Dropout(0.3, name="s_drop")(h)
    sub = K.Model(i, h, name="sub")
    x = K.Input(shape=(8,), name="x")
    h = sub(x, training=True)
    h = K.layers.Dense(8, name="dense")(h)
    h = K.layers.Dropout(0.3, name="after_drop")(h)
    h = K.layers.BatchNormalization(name="after_bn")(h)
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="sub_training_true_bn")


def frozen_sublayer_weights(flavour: str) -> Any:
    """MultiHeadAttention(dropout) in a frozen submodel; a ConvLSTM1D frozen by its own flag.

    Both keep their weights in sublayers made in ``build()``: after loading, Keras 3
    trains them although the layer says ``trainable=False``; Keras 2 does not.
    """
    K = keras_module(flavour)
    tokens = K.Input(shape=(4, 8), name="tok")
    a = K.layers.MultiHeadAttention(2, 4, dropout=0.3, name="mha")(tokens, tokens)
    encoder = K.Model(tokens, K.layers.LayerNormalization(name="ln")(a), name="encoder")
    encoder.trainable = False
    x = K.Input(shape=(4, 8), name="x")
    h = K.layers.GlobalAveragePooling1D(name="pool")(encoder(x))
    seq = K.layers.Reshape((4, 8, 1), name="to_frames")(x)
    conv_lstm = K.layers.ConvLSTM1D(2, 2, dropout=0.2, recurrent_dropout=0.2, name="conv_lstm")
    c = K.layers.Flatten(name="flat")(conv_lstm(seq))
    conv_lstm.trainable = False
    h = K.layers.Dropout(0.2, name="head_drop")(K.layers.Concatenate(name="cat")([h, c]))
    return K.Model(x, K.layers.Dense(1, name="head")(h), name="frozen_sublayer_weights")


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

#: Further situations (nesting, sharing, wrappers, rate 0, frozen preprocessing and
#: attention), compared by ``test_more_truth.py`` only, in one format per flavour
#: and save path, to keep the suite fast.
MORE_BUILDERS: dict[str, Callable[[str], Any]] = {
    f.__name__: f
    for f in (
        shared_sub_two_flags,
        nested_seq_func_seq,
        dropout_on_input,
        misc_stochastic,
        rnn_wrappers,
        frozen_mha,
        bn_frozen_mix,
        frozen_augment,
        same_dropout_twice,
        frozen_top_and_layer,
        sub_training_true_bn,
        frozen_sublayer_weights,
    )
}


def explicit_none_after_mc(flavour: str) -> Any:
    """``Dropout(.5)(x, training=True)``, then ``TimeDistributed(Dropout)(h, training=None)``."""
    K = keras_module(flavour)
    inputs = K.Input(shape=(4, 8), name="x")
    h = K.layers.Dropout(0.5, name="mc")(inputs, training=True)
    inner = K.layers.Dropout(0.5, name="inner")
    h = K.layers.TimeDistributed(inner, name="td")(h, training=None)
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(h))
    return K.Model(inputs, outputs, name="explicit_none")


def explicit_none_flip(flavour: str) -> Any:
    """``RandomFlip(...)(img, training=None)``: its ``call`` default is True."""
    K = keras_module(flavour)
    img = K.Input(shape=(6, 6, 3), name="img")
    h = K.layers.RandomFlip("horizontal", seed=3, name="flip")(img, training=None)
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(h))
    return K.Model(img, outputs, name="explicit_none_flip")


def explicit_none_submodel(flavour: str) -> Any:
    """An MC Dropout, then ``sub(h, training=None)`` holding a BatchNormalization and a
    TimeDistributed Dropout, which store no flag of their own."""
    K = keras_module(flavour)
    sub_in = K.Input(shape=(4, 8), name="sub_in")
    s = K.layers.BatchNormalization(name="sub_bn")(sub_in)
    s = K.layers.TimeDistributed(K.layers.Dropout(0.5, name="sub_inner"), name="sub_td")(s)
    sub = K.Model(sub_in, s, name="sub")
    inputs = K.Input(shape=(4, 8), name="x")
    h = K.layers.Dropout(0.5, name="mc")(inputs, training=True)
    h = sub(h, training=None)
    outputs = K.layers.Dense(1, name="head")(K.layers.Flatten(name="flat")(h))
    return K.Model(inputs, outputs, name="explicit_none_submodel")


#: Explicit ``training=None`` at a call site: Keras 3.10 and later take it as passed
#: (keras-team/keras#21204), 3.0-3.9 and Keras 2 as no flag. Run by
#: ``test_fuzz_findings_truth.py`` and by every build of ``test_matrix.py``.
EXPLICIT_NONE_BUILDERS: dict[str, Callable[[str], Any]] = {
    f.__name__: f for f in (explicit_none_after_mc, explicit_none_flip, explicit_none_submodel)
}
