"""Write the sample models in samples/ with real Keras 3 and real tf_keras.

Run from the repository root::

    .venv/bin/python samples/make_samples.py

Every model is built from fixed seeds and trained (where it is trained at all)
on seeded random data, so the configs and weights are the same on every run.
The files are not byte-identical between runs: `.keras` archives record
`date_saved` in `metadata.json`.  See samples/README.md for what each file is.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

HERE = Path(__file__).resolve().parent
SEED = 0

# InceptionV3's own filter counts make the mixed7 base ~9M parameters (~35 MB),
# far too large for a sample.  The 75x75 `.h5` sample therefore divides every
# conv filter count by this factor; layer names, layer count and topology are
# InceptionV3's own.  The full-size JSON keeps the real filter counts.
NARROW = 16


def _inception_head(keras, base, input_shape):
    """Return the transfer model: frozen nested base called with training=False."""
    base.trainable = False
    inputs = keras.Input(shape=input_shape, name="image")
    x = base(inputs, training=False)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(512, activation="relu", name="dense_512")(x)
    x = keras.layers.Dense(1024, activation="relu", name="dense_1024")(x)
    x = keras.layers.Dropout(0.2, name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="prediction")(x)
    return keras.Model(inputs, outputs, name="transfer_inception")


def _inception_base(keras, input_shape, narrow=1):
    """Return InceptionV3 (include_top=False, weights=None) cut at mixed7."""
    from keras.src.applications import inception_v3

    original = inception_v3.conv2d_bn

    def narrow_conv2d_bn(x, filters, *args, **kwargs):
        return original(x, max(1, filters // narrow), *args, **kwargs)

    inception_v3.conv2d_bn = narrow_conv2d_bn
    try:
        full = keras.applications.InceptionV3(
            include_top=False, weights=None, input_shape=input_shape
        )
    finally:
        inception_v3.conv2d_bn = original
    return keras.Model(full.input, full.get_layer("mixed7").output, name="inception_v3_mixed7")


def make_transfer_inception():
    import keras

    keras.utils.set_random_seed(SEED)
    full = _inception_head(keras, _inception_base(keras, (299, 299, 3)), (299, 299, 3))
    (HERE / "transfer_inception_full.json").write_text(full.to_json(indent=1) + "\n")
    del full
    keras.backend.clear_session()

    keras.utils.set_random_seed(SEED)
    small = _inception_head(keras, _inception_base(keras, (75, 75, 3), NARROW), (75, 75, 3))
    small.compile(optimizer="sgd", loss="binary_crossentropy")
    small.save(HERE / "transfer_inception.h5")
    keras.backend.clear_session()


def _tower(layers, name, width):
    inputs = layers.Input(shape=(8,), name=f"{name}_in")
    x = layers.Dense(width, activation="relu", name=f"{name}_dense")(inputs)
    x = layers.Dropout(0.5, name=f"{name}_dropout")(x)
    outputs = layers.Dense(4, activation="relu", name=f"{name}_out")(x)
    return inputs, outputs


def _merged_frozen(keras, rng):
    """Two submodels trained a few steps, frozen, concatenated under a new Dense."""
    layers = keras.layers
    subs = []
    for name, width in (("left", 16), ("right", 12)):
        inputs, outputs = _tower(layers, name, width)
        head = layers.Dense(1, name=f"{name}_head")(outputs)
        trainer = keras.Model(inputs, head, name=f"{name}_trainer")
        trainer.compile(optimizer="sgd", loss="mse")
        x = rng.standard_normal((32, 8)).astype("float32")
        y = rng.standard_normal((32, 1)).astype("float32")
        trainer.fit(x, y, batch_size=16, epochs=1, verbose=0)
        sub = keras.Model(inputs, outputs, name=name)
        sub.trainable = False
        subs.append(sub)
    a = layers.Input(shape=(8,), name="a")
    b = layers.Input(shape=(8,), name="b")
    x = layers.Concatenate(name="concat")([subs[0](a), subs[1](b)])
    outputs = layers.Dense(1, activation="sigmoid", name="classifier")(x)
    model = keras.Model([a, b], outputs, name="merged_frozen")
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


def make_merged_frozen():
    import keras
    import tf_keras

    keras.utils.set_random_seed(SEED)
    _merged_frozen(keras, np.random.default_rng(SEED)).save(HERE / "merged_frozen.keras")
    keras.backend.clear_session()

    tf_keras.utils.set_random_seed(SEED)
    model = _merged_frozen(tf_keras, np.random.default_rng(SEED))
    model.save(HERE / "merged_frozen_tfkeras.h5")
    tf_keras.backend.clear_session()


def _frozen_base_dropout(keras, rng):
    """A pre-trained base holding a Dropout, frozen with ``base.trainable = False`` and
    called as ``base(x)``, under a new head with its own Dropout: freezing is expected to
    stop the base's dropout, and does not."""
    layers = keras.layers
    inputs = layers.Input(shape=(16,), name="features")
    x = layers.Dense(32, activation="relu", name="base_dense")(inputs)
    x = layers.Dropout(0.3, name="base_dropout")(x)
    outputs = layers.Dense(8, activation="relu", name="base_out")(x)
    # "Pre-trained": a few steps under a throw-away head, as a downloaded base would be.
    trainer = keras.Model(inputs, layers.Dense(1, name="pretrain_head")(outputs))
    trainer.compile(optimizer="sgd", loss="mse")
    x_train = rng.standard_normal((32, 16)).astype("float32")
    y_train = rng.standard_normal((32, 1)).astype("float32")
    trainer.fit(x_train, y_train, batch_size=16, epochs=1, verbose=0)
    base = keras.Model(inputs, outputs, name="base")
    base.trainable = False

    image = layers.Input(shape=(16,), name="x")
    x = base(image)
    x = layers.Dropout(0.5, name="head_dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="classifier")(x)
    model = keras.Model(image, outputs, name="frozen_base_dropout")
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    return model


def make_frozen_base_dropout():
    import keras

    keras.utils.set_random_seed(SEED)
    model = _frozen_base_dropout(keras, np.random.default_rng(SEED))
    model.save(HERE / "frozen_base_dropout.keras")
    keras.backend.clear_session()


def _inverted_dropout(keras):
    layers = keras.layers
    model = keras.Sequential(
        [
            keras.Input(shape=(10,)),
            layers.Dense(100, activation="relu", name="dense_1"),
            layers.Dropout(0.5, name="dropout"),
            layers.Dense(100, activation="relu", name="dense_2"),
            layers.Dense(1, name="output"),
        ],
        name="inverted_dropout",
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def make_inverted_dropout():
    import keras
    import tf_keras

    keras.utils.set_random_seed(SEED)
    model = _inverted_dropout(keras)
    model.save(HERE / "inverted_dropout.keras")
    model.save(HERE / "inverted_dropout.h5")
    keras.backend.clear_session()

    tf_keras.utils.set_random_seed(SEED)
    _inverted_dropout(tf_keras).save(HERE / "inverted_dropout_tfkeras.h5")
    tf_keras.backend.clear_session()


def make_bert_frozen():
    """KerasHub's BertTextClassifier with its BertBackbone frozen: a tiny config, no download."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(SEED)
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
        max_sequence_length=32, dropout=0.1,
    )
    model = keras_hub.models.BertTextClassifier(
        backbone, num_classes=2, preprocessor=None, dropout=0.2
    )
    backbone.trainable = False
    # In samples/rebuild/: its config stores no layer graph, so it needs --rebuild.
    model.save(HERE / "rebuild" / "bert_frozen_classifier.keras")
    keras.backend.clear_session()


def main():
    make_bert_frozen()
    make_frozen_base_dropout()
    make_inverted_dropout()
    make_merged_frozen()
    make_transfer_inception()
    for path in sorted(HERE.iterdir()):
        if path.suffix in {".h5", ".keras", ".json"}:
            print(f"{path.name:32} {path.stat().st_size:>10,d} bytes")


if __name__ == "__main__":
    main()
