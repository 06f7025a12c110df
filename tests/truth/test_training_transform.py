"""The third question on real Keras: how an active stochastic layer transforms its input.

Each layer is built alone in a model, saved, and reloaded with the Keras that wrote it;
graphcheck's static ``training_transform`` (from the saved file) is compared with what
the layer does to a known input with ``training=True`` (the scale of kept units, the
value of dropped ones, the spread of the noise) and with ``training=False`` (identity).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from builders import FLAVOURS, KERAS_VERSIONS, keras_module
from saving import FORMATS

import graphcheck

pytestmark = pytest.mark.truth

#: (layer class, its strength argument, value): one layer of each kind that acts alone.
LAYERS = [
    ("Dropout", "rate", 0.2),
    ("Dropout", "rate", 0.5),
    ("SpatialDropout1D", "rate", 0.3),
    ("AlphaDropout", "rate", 0.2),
    ("GaussianDropout", "rate", 0.2),
    ("GaussianNoise", "stddev", 0.3),
]
SIZE = 200_000  # noise statistics to ~0.3% (standard error of a std over 200k draws)
CONSTANT = 0.75
STEPS = 10  # SpatialDropout1D draws one mask value per channel: 20,000 of them


def _saved(flavour: str, cls: str, arg: str, value: float, directory: Path) -> Path:
    keras = keras_module(flavour)
    inputs = keras.Input(shape=(STEPS, SIZE // STEPS), name="x")
    layer = getattr(keras.layers, cls)(**{arg: value}, name="noise")
    model = keras.Model(inputs, layer(inputs), name=f"{cls.lower()}_{int(value * 100)}")
    path = directory / f"{model.name}.{FORMATS[flavour][0]}"
    model.save(path)
    return path


def _run(flavour: str, path: Path, training: bool) -> np.ndarray:
    keras = keras_module(flavour)
    model = keras.models.load_model(path)
    x = np.full((1, STEPS, SIZE // STEPS), CONSTANT, dtype="float32")
    return np.asarray(model(x, training=training)).ravel()


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize(("cls", "arg", "value"), LAYERS)
def test_static_transform_matches_keras(tmp_path: Path, flavour: str, cls: str, arg: str, value: float) -> None:
    """Kept-unit scale, dropped value and noise spread measured on the reloaded layer."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    path = _saved(flavour, cls, arg, value, tmp_path)
    entry = graphcheck.analyse(path, KERAS_VERSIONS[flavour])
    (item,) = entry["stochastic"]
    static = item["training_transform"]
    np.testing.assert_array_equal(_run(flavour, path, training=False), CONSTANT)
    assert static["inference"] == "identity"
    out = _run(flavour, path, training=True)
    measured: dict[str, Any] = {}
    if static["transform"] in ("inverted_dropout", "alpha_dropout"):
        values, counts = np.unique(np.round(out, 5), return_counts=True)
        assert len(values) == 2, f"{cls} should give kept and dropped values, got {values[:5]}"
        # The input is positive, so a dropped unit (0, or SELU's negative saturation
        # after the affine step) is below a kept one.
        dropped, kept = values
        assert counts[0] / out.size == pytest.approx(item["rate"], abs=0.01)
        offset = static["offset"] or 0.0
        measured["kept_scale"] = (kept - offset) / CONSTANT
        measured["dropped_value"] = dropped
    else:
        centre = 1.0 if static["transform"] == "gaussian_multiplicative" else 0.0
        noise = out / CONSTANT if centre else out - CONSTANT
        assert abs(noise.mean() - centre) < 0.01
        measured["noise_stddev"] = noise.std()
    for key, value_measured in measured.items():
        assert value_measured == pytest.approx(static[key], rel=0.01, abs=1e-4), key


def test_op_dropout_keeps_dropping_at_inference(tmp_path: Path) -> None:
    """tf.nn.dropout in a tf_keras model: inverted dropout, rate not in its config, also at inference."""
    if "tfkeras" not in KERAS_VERSIONS:
        pytest.skip("tf_keras is not installed")
    import tensorflow as tf

    keras = keras_module("tfkeras")
    inputs = keras.Input(shape=(SIZE,), name="x")
    model = keras.Model(inputs, tf.nn.dropout(inputs, rate=0.5), name="op_dropout")
    path = tmp_path / "op_dropout.h5"
    model.save(path)
    entry = graphcheck.analyse(path, KERAS_VERSIONS["tfkeras"])
    (item,) = entry["stochastic"]
    static = item["training_transform"]
    assert item["kind"] == "op_dropout" and item["rate"] is None
    assert static["transform"] == "inverted_dropout" and "1/(1-rate)" in static["text"]
    assert static["kept_scale"] is None  # the rate, so the factor, is not in the file
    for training in (True, False):
        out = np.asarray(keras.models.load_model(path)(np.full((1, SIZE), CONSTANT, "float32"),
                                                     training=training)).ravel()
        values = np.unique(np.round(out, 5))
        np.testing.assert_allclose(values, [static["dropped_value"], CONSTANT * 2], rtol=1e-4)
        # Dropped at inference too: what the static inference text says.
        assert (static["inference"] == "identity") is (len(values) == 1)
