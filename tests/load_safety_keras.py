"""Run as a script (``python tests/load_safety_keras.py OUTDIR``) by test_load_safety.py.

Writes models of many built-in layers and op layers with Keras 3 and tf_keras in
every format they save (the load-safety rules must stay quiet on them), and proof
files: a Keras 3 model edited to carry one technique each, loaded with
``safe_mode=True`` in OUTDIR to record what Keras did. Payloads only read a
harmless temporary file or would write a marker file. Results: OUTDIR/results.json.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import os
import sys
import zipfile
from pathlib import Path
from typing import Any


def _keras3_models(keras: Any) -> dict[str, Any]:
    layers, ops = keras.layers, keras.ops
    x = keras.Input((6, 8), name="seq")
    y = layers.Conv1D(
        4,
        3,
        padding="same",
        kernel_regularizer=keras.regularizers.L2(1e-4),
        kernel_constraint=keras.constraints.MaxNorm(2.0),
    )(x)
    y = layers.BatchNormalization()(y)
    y = layers.LayerNormalization()(y)
    y = layers.Bidirectional(layers.LSTM(4, return_sequences=True, dropout=0.1))(y)
    y = layers.TimeDistributed(layers.Dense(4, activation="gelu"))(y)
    y = layers.MultiHeadAttention(2, 4, dropout=0.1)(y, y)
    y = layers.GRU(4)(y)
    y = ops.cast(y, "float32")
    y = ops.exp(ops.sum(y, axis=-1, keepdims=True))
    y = layers.Dropout(0.2)(y)
    out = layers.Dense(1, activation="sigmoid", kernel_initializer="he_normal")(y)
    model = keras.Model(x, out, name="k3_builtins")
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy", "auc"])
    words = keras.Input((1,), dtype="string", name="words")
    ids = layers.StringLookup(vocabulary=["a", "b", "c"])(words)
    ids = layers.IntegerLookup(vocabulary=[1, 2, 3])(ids)
    emb = layers.Embedding(8, 4)(ids)
    emb = layers.Flatten()(emb)
    emb = layers.Rescaling(0.5)(layers.Normalization(mean=0.0, variance=1.0)(emb))
    lookup = keras.Model(words, layers.Dense(2)(emb), name="k3_lookup")
    return {"k3_builtins": model, "k3_lookup": lookup}


def _tf_keras_models(tf_keras: Any) -> dict[str, Any]:
    import tensorflow as tf

    layers = tf_keras.layers
    x = tf_keras.Input((6, 8), name="seq")
    y = layers.Conv1D(4, 3, padding="same")(x)
    y = layers.BatchNormalization()(y)
    y = tf.nn.relu(y)
    y = tf.math.add(y, 1.0)
    y = y[:, :3, :]
    y = tf.reduce_mean(y, axis=1)
    y = tf.cast(y, tf.float32)
    y = layers.Dropout(0.3)(y)
    y = layers.Dense(4, activation="relu", kernel_regularizer="l2")(y)
    out = layers.Dense(1)(tf.math.sigmoid(y))
    model = tf_keras.Model(x, out, name="tf_ops")
    model.compile(loss="mse", optimizer="adam", metrics=["mae"])
    words = tf_keras.Input((1,), dtype="string")
    ids = layers.StringLookup(vocabulary=["a", "b"])(words)
    lookup = tf_keras.Model(words, layers.Embedding(4, 2)(ids), name="tf_lookup")
    return {"tf_ops": model, "tf_lookup": lookup}


def _keras_hub_models(keras: Any) -> dict[str, Any]:
    """A Functional model of KerasHub layers, when keras-hub is installed (else none)."""
    try:
        import keras_hub
    except ImportError:
        return {}
    x = keras.Input((8,), dtype="int32")
    y = keras_hub.layers.TokenAndPositionEmbedding(
        vocabulary_size=50, sequence_length=8, embedding_dim=8
    )(x)
    y = keras_hub.layers.TransformerEncoder(intermediate_dim=16, num_heads=2, dropout=0.1)(y)
    y = keras_hub.layers.TransformerDecoder(intermediate_dim=16, num_heads=2)(y)
    return {"hub_layers": keras.Model(x, y, name="hub_layers")}


def _graphless(keras: Any, directory: Path) -> dict[str, str]:
    """Files whose config stores no layer graph: a subclassed keras.Model (clean, and
    edited to carry a payload in a nested layer's config) and, with keras-hub, a
    KerasHub task."""

    @keras.saving.register_keras_serializable(package="graphcheck_tests")
    class Tower(keras.Model):
        def __init__(self, units: int = 4, head: Any = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.units = units
            self.head = keras.layers.deserialize(head) if isinstance(head, dict) else (
                head or keras.layers.Dense(units, activation="relu", name="head")
            )
            self.drop = keras.layers.Dropout(0.5)

        def call(self, x: Any, training: Any = None) -> Any:
            return self.drop(self.head(x), training=training)

        def get_config(self) -> dict:
            return {
                **super().get_config(),
                "units": self.units,
                "head": keras.layers.serialize(self.head),
            }

    model = Tower(name="tower")
    model(keras.ops.zeros((1, 3)))
    clean = directory / "subclassed_clean.keras"
    model.save(clean)
    code = base64.b64encode(marshal.dumps((lambda t: t).__code__)).decode()

    def activation(value: Any) -> Any:
        def edit(config: dict) -> None:
            config["config"]["head"]["config"]["activation"] = value

        return edit

    lam = {"class_name": "__lambda__", "config": {"code": code, "defaults": None, "closure": None}}
    files = {
        "clean": clean,
        "lambda": _edit(clean, directory / "subclassed_lambda.keras", activation(lam)),
        "get_file": _edit(clean, directory / "subclassed_get_file.keras", activation(
            {"module": "keras.utils", "class_name": "function", "config": "get_file",
             "registered_name": "function"}
        )),
    }
    try:
        import keras_hub
    except ImportError:
        return {k: str(v) for k, v in files.items()}
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8, intermediate_dim=16,
        max_sequence_length=8,
    )
    task = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    files["hub_task"] = directory / "bert_classifier.keras"
    task.save(files["hub_task"])
    return {k: str(v) for k, v in files.items()}


def _save_all(models: dict[str, Any], directory: Path, formats: tuple[str, ...]) -> list[str]:
    files = []
    for name, model in models.items():
        for fmt in formats:
            path = directory / f"{name}.{fmt}"
            if fmt == "json":
                path.write_text(model.to_json())
            else:
                model.save(path)
            files.append(str(path))
    return files


def _edit(source: Path, target: Path, config_edit: Any = None, weights_edit: Any = None) -> Path:
    """Copy a .keras archive, changing its config.json and/or model.weights.h5."""
    import h5py

    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if config_edit is not None:
        config = json.loads(members["config.json"])
        config_edit(config)
        members["config.json"] = json.dumps(config).encode()
    if weights_edit is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "a") as handle:
            weights_edit(handle)
        members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _layer(config: dict, name: str) -> dict:
    return next(item for item in config["config"]["layers"] if item["name"] == name)


def _proofs(keras: Any, directory: Path) -> dict[str, str]:
    layers = keras.layers
    words = keras.Input((1,), dtype="string", name="words")
    ids = layers.StringLookup(vocabulary=["a", "b"], name="lookup")(words)
    base_vocab = directory / "base_vocab.keras"
    keras.Model(words, ids).save(base_vocab)
    x = keras.Input((4,), name="x")
    lam = layers.Lambda(lambda t: t, name="lam")(x)
    out = layers.Dense(2, name="dense")(lam)
    base = directory / "base_dense.keras"
    keras.Model(x, out).save(base)
    y = keras.Input((4,), name="x")
    plain = directory / "base_plain.keras"
    keras.Model(y, layers.Dense(2, name="dense")(y)).save(plain)
    harmless = directory / "harmless.txt"
    harmless.write_text("a\nb\n" + "x" * 64)
    marker = directory / "marker"

    def trap(t: Any) -> Any:
        with open(os.environ["GRAPHCHECK_TRAP_MARKER"], "w") as handle:
            handle.write("ran")
        return t

    code = base64.b64encode(marshal.dumps(trap.__code__)).decode()

    def function_ref(module: str, name: str) -> Any:
        def edit(config: dict) -> None:
            _layer(config, "lam")["config"]["function"] = {
                "module": module,
                "class_name": "function",
                "config": name,
                "registered_name": "function",
            }

        return edit

    def lambda_activation(config: dict) -> None:
        _layer(config, "dense")["config"]["activation"] = {
            "class_name": "__lambda__",
            "config": {"code": code, "defaults": None, "closure": None},
        }

    def vocabulary(config: dict) -> None:
        _layer(config, "lookup")["config"]["vocabulary"] = str(harmless)

    def external(handle: Any) -> None:
        group = handle["layers/dense/vars"]
        shape, dtype = group["0"].shape, group["0"].dtype
        del group["0"]
        group.create_dataset("0", shape=shape, dtype=dtype, external=[(str(harmless), 0, 64)])

    edits = {
        "vocabulary_path": (base_vocab, vocabulary, None),
        "get_file_reference": (base, function_ref("keras.utils", "get_file"), None),
        "unsafe_deserialization_reference": (
            base,
            function_ref("keras.config", "enable_unsafe_deserialization"),
            None,
        ),
        "lambda_in_activation": (base, lambda_activation, None),
        "hdf5_external_storage": (plain, None, external),
    }
    outcomes = {}
    os.environ["GRAPHCHECK_TRAP_MARKER"] = str(marker)
    for technique, (source, config_edit, weights_edit) in edits.items():
        path = _edit(source, directory / f"proof_{technique}.keras", config_edit, weights_edit)
        try:
            keras.saving.load_model(path, safe_mode=True)
            outcomes[technique] = "loaded"
        except Exception as exc:
            outcomes[technique] = f"{type(exc).__name__}: {exc}"[-20000:]
        if marker.exists():
            outcomes["marker"] = technique
    outcomes.update(_asset_extraction(keras, plain, directory))
    return outcomes


def _asset_extraction(keras: Any, plain: Path, directory: Path) -> dict[str, Any]:
    """What Keras does with an archive's assets on load: a real DEFLATE bomb of zeros
    (about 1,011:1) as ``assets/bomb.bin``, small (16 MiB) and large (300 MiB). An
    audit hook records the files Keras opens for writing."""
    import shutil

    from load_safety_samples import append_deflate_bomb

    written: list[str] = []

    def hook(event: str, args: tuple) -> None:
        is_open = event == "open" and len(args) > 1 and isinstance(args[0], str)
        if is_open and "w" in str(args[1]) and args[0].endswith("bomb.bin"):
            written.append(args[0])

    sys.addaudithook(hook)
    outcomes: dict[str, Any] = {}
    for label, size in (("zip_bomb_small", 16 << 20), ("zip_bomb_large", 300 << 20)):
        path = directory / f"proof_{label}.keras"
        shutil.copy(plain, path)
        append_deflate_bomb(path, "assets/bomb.bin", size)
        try:
            keras.saving.load_model(path, safe_mode=True)
            outcomes[label] = "loaded"
        except Exception as exc:
            outcomes[label] = f"{type(exc).__name__}: {exc}"[-2000:]
        outcomes[f"{label}_written"] = list(written)
        written.clear()
    return outcomes


def main(directory: Path) -> None:
    import keras
    import tf_keras

    files = _save_all(_keras3_models(keras), directory, ("keras", "h5", "json"))
    files += _save_all(_tf_keras_models(tf_keras), directory, ("h5", "keras", "json"))
    hub = _save_all(_keras_hub_models(keras), directory, ("keras", "h5", "json"))
    proofs = _proofs(keras, directory)
    graphless = _graphless(keras, directory)
    results = {"files": files, "hub_files": hub, "proofs": proofs, "graphless": graphless}
    (directory / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
