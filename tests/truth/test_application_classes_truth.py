"""The layer classes keras.applications defines for its own models, on real Keras.

ConvNeXt's ``LayerScale`` (a trained ``gamma``) and InceptionResNetV2's
``CustomScaleLayer`` (``inputs[0] + inputs[1] * scale``) are in every ConvNeXt and
InceptionResNetV2 file. graphcheck knows them by the module the file records, as
deterministic layers, the first with weights: no GC301 for them. A small Functional
model holds both, one LayerScale inside a frozen submodel; saved as ``.keras`` by
Keras 3 and by tf_keras, its static answers (stochastic: none, which weights train)
are compared with the loaded file's runs (every call observed in fit(), predict() and
model(x); which weights one fit() step moved), and the loaded model gives the same
output in predict() and in a training-mode call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from agreement import assert_saved_model_agrees, model_entry
from builders import KERAS_VERSIONS, keras_module

import graphcheck
from graphcheck.api import findings

pytestmark = pytest.mark.truth


def _applications(flavour: str) -> tuple[Any, Any]:
    if flavour == "keras3":
        from keras.src.applications import convnext, inception_resnet_v2
    else:
        from tf_keras.src.applications import convnext, inception_resnet_v2
    return convnext, inception_resnet_v2


def _model(flavour: str) -> Any:
    keras = keras_module(flavour)
    convnext, inception = _applications(flavour)
    sub_in = keras.Input((6,), name="sub_in")
    scaled = convnext.LayerScale(0.5, 6, name="inner_scale")(
        keras.layers.Dense(6, name="sub_dense")(sub_in))
    branch = keras.Model(sub_in, scaled, name="branch")
    branch.trainable = False
    inputs = keras.Input((6,), name="x")
    x = keras.layers.Dense(6, name="dense")(inputs)
    x = convnext.LayerScale(0.1, 6, name="outer_scale")(x)
    x = inception.CustomScaleLayer(0.2, name="residual_scale")([x, branch(x)])
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x), name="applications")
    model.compile(optimizer="sgd", loss="mse")
    return model


@pytest.mark.parametrize("flavour", ["keras3", "tfkeras"])
def test_application_classes_are_known_and_agree(tmp_path: Path, flavour: str) -> None:
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    keras = keras_module(flavour)
    convnext, inception = _applications(flavour)
    path = tmp_path / f"applications_{flavour}.keras"
    _model(flavour).save(path)
    version = KERAS_VERSIONS[flavour]

    entry = model_entry(graphcheck.analyse(str(path), keras_version=version))
    assert entry["unknown_layers"] == [] and entry["stochastic"] == []
    layers = {layer["path"]: layer for layer in entry["layers"]}
    assert layers["outer_scale"]["has_weights"] is True
    assert layers["outer_scale"]["will_train"] is True
    assert layers["branch/inner_scale"]["will_train"] is False
    assert layers["residual_scale"]["has_weights"] is False
    rules = {f.rule for f in findings(graphcheck.load(str(path)).analyse(version))}
    assert "GC301" not in rules

    # tf_keras finds no unregistered class by the module its file records: name them.
    custom = {"LayerScale": convnext.LayerScale,
              "CustomScaleLayer": inception.CustomScaleLayer}
    loaded = keras.models.load_model(path, custom_objects=custom)
    assert_saved_model_agrees(path, loaded, version)
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    runs = [loaded.predict(x, verbose=0), np.asarray(loaded(x, training=True)),
            np.asarray(loaded(x, training=True))]
    for run in runs[1:]:
        np.testing.assert_allclose(run, runs[0], rtol=1e-6)
