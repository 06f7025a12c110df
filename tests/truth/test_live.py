"""Live models: graphcheck's answers for an object in memory, against real runs of it.

Every truth-suite builder, in Keras 3 and tf_keras, is analysed as the object it
returns (``graphcheck.analyse(model)``, no file) and then observed in ``fit()``,
``predict()`` and ``model(x)``. Trainable flags are those in memory: in tf_keras a
frozen container keeps its sublayers frozen even where their own flag says True
(``three_levels``), which an ``.h5`` round trip would undo.
"""

from __future__ import annotations

from typing import Any

import pytest
from agreement import STATIC_SCENARIOS, assert_agrees
from builders import BUILDERS, FLAVOURS, KERAS_VERSIONS, keras_module

from graphcheck.runtime import observe, synthesise_inputs, synthesise_targets

pytestmark = pytest.mark.truth


def assert_matches_runtime(entry: dict[str, Any], model: Any) -> None:
    """Per layer and scenario, static activity, BN mode and trained weights equal observed ones."""
    inputs = synthesise_inputs(model)
    # Targets first: for a subclassed model they take an inference call to shape.
    targets = synthesise_targets(model, inputs)
    obs = observe(model, inputs, scenarios=STATIC_SCENARIOS, targets=targets)
    assert_agrees(
        entry, obs.active, obs.bn_batch_stats, obs.class_names, obs.weights_changed, obs.fit_error
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_live_model_matches_runtime(flavour: str, builder: str) -> None:
    """A live model's report agrees with what the same object does in fit/predict/call."""
    from graphcheck import analyse

    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    model = BUILDERS[builder](flavour)
    entry = analyse(model)
    assert entry["format"] == "live"
    assert entry["source"].startswith("live object (")
    assert entry["profile"]["keras_version"] == KERAS_VERSIONS[flavour]
    assert_matches_runtime(entry, model)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_frozen_top_sequential_in_memory(flavour: str) -> None:
    """A frozen top Sequential in memory trains nothing (a reload would reset its flag)."""
    from graphcheck import analyse

    K = keras_module(flavour)
    model = K.Sequential(
        [K.Input(shape=(8,)), K.layers.Dense(8, name="d1"), K.layers.Dropout(0.5, name="drop"),
         K.layers.Dense(1, name="d2")],
        name="frozen_top",
    )
    model.trainable = False
    entry = analyse(model)
    assert {layer["will_train"] for layer in entry["layers"] if layer["has_weights"]} == {False}
    assert_matches_runtime(entry, model)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_live_entry_matches_the_published_schema(flavour: str) -> None:
    """A live model's entry (format live, source, weight_counts) fits docs/report.schema.json."""
    import json
    from pathlib import Path

    jsonschema = pytest.importorskip("jsonschema")
    from graphcheck import analyse

    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "report.schema.json").read_text()
    )
    entry = analyse(BUILDERS["three_levels"](flavour))
    jsonschema.validate(entry, {"$ref": "#/$defs/model", "$defs": schema["$defs"]})
    assert all(layer["weight_counts"] is not None for layer in entry["layers"] if layer["has_weights"])
