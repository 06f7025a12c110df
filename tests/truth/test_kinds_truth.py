"""The kind records (graphcheck.kinds) and the Lambda's weights, against real Keras.

Each Dropout-family class of a record exists in Keras 3 and tf_keras, keeps its
strength under the config key the record names, and is every noise layer Keras
exports. A Lambda holds no weights, not even a variable its function uses: graphcheck
says so, and its drawing shows no weights line for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from builders import KERAS_VERSIONS, keras_module

import graphcheck
from graphcheck.kinds import KINDS, NOISE_CLASSES
from graphcheck.reporters.drawing import render_graph

pytestmark = pytest.mark.truth

FLAVOURS = ["keras3", "tfkeras"]


def _installed(flavour: str, fresh: bool = True) -> Any:
    """The Keras of ``flavour``; ``fresh``: its session cleared and seeded (for models)."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    if fresh:
        return keras_module(flavour)
    import importlib

    return importlib.import_module("keras" if flavour == "keras3" else "tf_keras")


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_noise_classes_keep_their_strength_under_the_recorded_key(flavour: str) -> None:
    """Every noise class Keras exports is a record's, and its config holds the strength it
    was built with under the record's ``parameter``."""
    keras = _installed(flavour, fresh=False)
    exported = {n for n in dir(keras.layers) if "Dropout" in n or "Noise" in n}
    assert exported == NOISE_CLASSES
    for facts in KINDS.values():
        for name in facts.classes:
            config = getattr(keras.layers, name)(**{facts.parameter: 0.3}).get_config()
            assert config[facts.parameter] == pytest.approx(0.3), name


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_lambda_holds_no_weights(flavour: str, tmp_path: Path) -> None:
    """A Lambda tracks no weights, even of a variable its function uses; loaded from its
    file neither. graphcheck says it has none, and its box says nothing of weights."""
    keras = _installed(flavour)
    scale = keras.Variable(2.0) if flavour == "keras3" else keras.backend.variable(2.0)
    captured = keras.layers.Lambda(lambda t: t * scale, name="captured")
    inputs = keras.Input((3,), name="x")
    captured(inputs)
    assert captured.weights == []

    hidden = keras.layers.Dense(3, name="dense")(inputs)
    outputs = keras.layers.Lambda(lambda t: t * 2.0, name="twice")(hidden)
    path = tmp_path / ("lambda.keras" if flavour == "keras3" else "lambda.h5")
    keras.Model(inputs, outputs, name="with_lambda").save(path)
    kwargs = {"safe_mode": False} if flavour == "keras3" else {}
    loaded = keras.models.load_model(path, **kwargs)
    assert loaded.get_layer("twice").weights == []
    assert loaded.get_layer("dense").weights != []

    analysis = graphcheck.load(str(path)).analyse(KERAS_VERSIONS[flavour])
    state = analysis.frozen.calls["twice"]
    assert (state.has_weights, state.will_train) == (False, None)
    source = render_graph(analysis, "dot").decode("utf-8")
    (line,) = [line for line in source.splitlines() if 'id="gc:twice"' in line]
    assert "weights" not in line.split(" class=")[0]
