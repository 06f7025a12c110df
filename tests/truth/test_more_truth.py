"""More situations compared with what Keras really does: nesting, sharing, wrappers, rate 0.

Like ``test_truth.py`` (every call's activity and BN mode in fit(), predict() and
model(x), and which weights one fit() step changed), for ``builders.MORE_BUILDERS``
(``.keras`` for Keras 3, ``.h5`` for tf_keras).
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import assert_saved_model_agrees
from builders import FLAVOURS, KERAS_VERSIONS, MORE_BUILDERS

pytestmark = pytest.mark.truth

# One format per flavour keeps the file near a minute; the cases of the will_train
# fix for sublayer weights also run as Keras 3 legacy .h5.
FORMATS = {"keras3": ("keras",), "tfkeras": ("h5",)}
CASES = [
    (flavour, builder, fmt)
    for flavour in FLAVOURS
    for builder in MORE_BUILDERS
    for fmt in FORMATS[flavour]
] + [("keras3", "frozen_mha", "h5"), ("keras3", "frozen_sublayer_weights", "h5")]


@pytest.mark.parametrize(("flavour", "builder", "fmt"), CASES)
def test_static_matches_runtime(roundtrip: Any, flavour: str, builder: str, fmt: str) -> None:
    """Per layer and scenario, static activity, BN mode and will_train equal the observed ones."""
    path, model = roundtrip(MORE_BUILDERS[builder](flavour), flavour, fmt)
    assert_saved_model_agrees(path, model, KERAS_VERSIONS[flavour])


def test_keras_ops_in_a_graph_are_deterministic_and_weightless(tmp_path: Any) -> None:
    """``keras.ops`` calls a Functional graph records (GetItem for ``x[:, 0]``, ops.add,
    ops.mean, ...) are read from a file as Keras's own deterministic operations: not
    unknown, not stochastic, no weights. Real runs: the loaded model gives the same
    output in predict() and in training mode, and only the Dense layers hold weights.
    ``ops.image.elastic_transform`` draws a new seed at every call: it stays unknown."""
    keras = pytest.importorskip("keras")
    import numpy as np

    from graphcheck import analyse

    inputs = keras.Input((4, 6), name="x")
    hidden = keras.layers.Dense(6, name="proj")(inputs)
    first = hidden[:, 0]
    pooled = keras.ops.mean(hidden, axis=1)
    merged = keras.ops.concatenate([keras.ops.add(first, 1.0), keras.ops.softmax(pooled)])
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(merged), name="ops_model")
    path = tmp_path / "ops_model.keras"
    model.save(path)

    entry = analyse(str(path))
    ops = [layer for layer in entry["layers"] if layer["class_name"] not in
           ("InputLayer", "Dense")]
    assert {layer["class_name"] for layer in ops} >= {"GetItem", "Add", "Mean", "Softmax"}
    assert entry["unknown_layers"] == [] and entry["stochastic"] == []
    assert all(layer["has_weights"] is False for layer in ops)

    keras.backend.clear_session()
    loaded = keras.saving.load_model(path, compile=False)
    x = np.random.default_rng(0).normal(size=(3, 4, 6)).astype("float32")
    runs = [loaded.predict(x, verbose=0), loaded.predict(x, verbose=0),
            np.asarray(loaded(x, training=True)), np.asarray(loaded(x, training=True))]
    for run in runs[1:]:
        np.testing.assert_array_equal(run, runs[0])
    holders = {w.path.split("/")[0] for w in loaded.weights}
    assert holders == {"proj", "head"}

    images = keras.Input((8, 8, 1), name="image")
    elastic = keras.Model(images, keras.ops.image.elastic_transform(images), name="elastic")
    elastic_path = tmp_path / "elastic.keras"
    elastic.save(elastic_path)
    unknown = [item["path"] for item in analyse(str(elastic_path))["unknown_layers"]]
    assert len(unknown) == 1
    picture = np.random.default_rng(1).normal(size=(2, 8, 8, 1)).astype("float32")
    assert np.any(np.asarray(elastic(picture)) != np.asarray(elastic(picture)))
