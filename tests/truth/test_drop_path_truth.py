"""keras.applications ConvNeXt's ``StochasticDepth`` on real Keras: known by its module.

A Functional model holds two of them, one inside a frozen submodel, saved as ``.keras``
by Keras 3 and by tf_keras; graphcheck's static answers for the file (kind
``drop_path``, rate, active per scenario, no GC301) are compared with every call
observed in ``fit()``, ``predict()`` and ``model(x)``, and the transform it claims
(whole samples kept x1/(1-rate) or zeroed) with a real ``training=True`` call. A
user's class of the same name stays opaque; a built model's live analysis lists the
layer once, as a known stochastic class, not again as drawing in its own code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from agreement import assert_saved_model_agrees, model_entry
from builders import KERAS_VERSIONS, keras_module

import graphcheck
from graphcheck.api import findings

pytestmark = pytest.mark.truth

OUTER, INNER = 0.3, 0.5


def _convnext_module(flavour: str) -> Any:
    if flavour == "keras3":
        from keras.src.applications import convnext
    else:
        from tf_keras.src.applications import convnext
    return convnext


def _model(flavour: str) -> Any:
    keras = keras_module(flavour)
    depth = _convnext_module(flavour).StochasticDepth
    sub_in = keras.Input((6,), name="sub_in")
    hidden = keras.layers.Dense(6, name="sub_dense")(sub_in)
    branch = keras.Model(sub_in, depth(INNER, name="inner_depth")(hidden), name="branch")
    branch.trainable = False
    inputs = keras.Input((6,), name="x")
    x = keras.layers.Dense(6, name="dense")(inputs)
    x = keras.layers.Add(name="residual")([x, depth(OUTER, name="outer_depth")(x)])
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Add(name="join")([x, branch(x)]))
    model = keras.Model(inputs, outputs, name="drop_path_model")
    model.compile(optimizer="sgd", loss="mse")
    return model


def _saved(flavour: str, directory: Path) -> tuple[Path, Any]:
    keras = keras_module(flavour)
    path = directory / f"drop_path_{flavour}.keras"
    _model(flavour).save(path)
    # tf_keras finds no unregistered class by the module its file records: name it.
    custom = {"StochasticDepth": _convnext_module(flavour).StochasticDepth}
    return path, keras.models.load_model(path, custom_objects=custom)


@pytest.mark.parametrize("flavour", ["keras3", "tfkeras"])
def test_saved_stochastic_depth_matches_real_runs(tmp_path: Path, flavour: str) -> None:
    """Both calls are drop_path at their drop_path_rate, active in fit() only (the frozen
    one too), and agree with every call observed; nothing is left unknown."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    path, reloaded = _saved(flavour, tmp_path)
    entry = model_entry(graphcheck.analyse(str(path), keras_version=KERAS_VERSIONS[flavour]))
    found = {s["path"]: s for s in entry["stochastic"]}
    assert set(found) == {"outer_depth", "branch/inner_depth"}
    for path_, rate in (("outer_depth", OUTER), ("branch/inner_depth", INNER)):
        item = found[path_]
        assert (item["kind"], item["rate"], item["rate_parameter"], item["granularity"]) == (
            "drop_path", rate, "drop_path_rate", "sample")
        assert item["active"] == {"fit": True, "predict": False, "call": False}
        assert item["training_transform"]["kept_scale"] == pytest.approx(1 / (1 - rate))
    assert found["branch/inner_depth"]["inside_frozen"] is True
    analysis = graphcheck.load(str(path)).analyse(KERAS_VERSIONS[flavour])
    rules = {f.rule for f in findings(analysis)}
    assert "GC301" not in rules
    (gc101,) = [f for f in findings(analysis) if f.rule == "GC101"]
    assert gc101.path == "branch/inner_depth" and "still drops whole samples" in gc101.message
    assert_saved_model_agrees(path, reloaded, KERAS_VERSIONS[flavour])


@pytest.mark.parametrize("flavour", ["keras3", "tfkeras"])
def test_legacy_h5_records_no_module_so_it_stays_unknown(tmp_path: Path, flavour: str) -> None:
    """A legacy .h5 keeps only the class name, which a user's class may share: the
    calls are reported unknown (GC301), never guessed stochastic or not."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    path = tmp_path / f"drop_path_{flavour}.h5"
    _model(flavour).save(path)
    analysis = graphcheck.load(str(path)).analyse(KERAS_VERSIONS[flavour])
    assert not analysis.stochastic
    unknown = sorted(f.path for f in findings(analysis) if f.rule == "GC301")
    assert unknown == ["branch/inner_depth", "outer_depth"]


@pytest.mark.parametrize("flavour", ["keras3", "tfkeras"])
def test_kept_samples_are_scaled_and_dropped_ones_zeroed(flavour: str) -> None:
    """A real training=True call: each sample is wholly kept x1/(1-rate) (the scale
    graphcheck claims) or wholly 0, about rate of them dropped; training=False is the
    identity."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    from graphcheck.analyses.training_transform import training_transform
    from graphcheck.layers import stochastic_spec

    convnext = _convnext_module(flavour)
    layer = convnext.StochasticDepth(OUTER)
    origin = (convnext.__name__, "StochasticDepth")
    dialect = "keras3" if flavour == "keras3" else "keras2"
    spec = stochastic_spec("StochasticDepth", layer.get_config(), dialect, origin)
    assert spec is not None
    claimed = training_transform(spec)
    assert claimed is not None and claimed.kept_scale is not None
    x = np.full((4000, 3, 2), 0.75, dtype="float32")
    y = np.asarray(layer(x, training=True)).reshape(len(x), -1)
    dropped = np.all(y == 0, axis=1)
    kept = np.allclose(y[~dropped], 0.75 * claimed.kept_scale, rtol=1e-5)
    assert kept and claimed.dropped_value == 0.0
    assert abs(dropped.mean() - OUTER) < 4 * (OUTER * (1 - OUTER) / len(x)) ** 0.5
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # call(x, training=None)


def test_a_users_class_of_that_name_stays_opaque(tmp_path: Path) -> None:
    """Known by its module, not its name: a user's StochasticDepth is no Keras class."""
    import keras

    class StochasticDepth(keras.layers.Layer):
        def __init__(self, drop_path_rate: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.drop_path_rate = drop_path_rate

        def call(self, x: Any) -> Any:
            return x

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "drop_path_rate": self.drop_path_rate}

    inputs = keras.Input((4,))
    path = tmp_path / "user.keras"
    keras.Model(inputs, StochasticDepth(0.3, name="mine")(inputs)).save(path)
    analysis = graphcheck.load(str(path)).analyse(KERAS_VERSIONS["keras3"])
    assert not analysis.stochastic
    assert "GC301" in {f.rule for f in findings(analysis)}


def test_live_analysis_lists_it_once_as_known(tmp_path: Path) -> None:
    """On the built Keras 3 model (live, as --rebuild reads it) each StochasticDepth is a
    drop_path call, and no own-code draw is listed for it."""
    from click.testing import CliRunner

    from graphcheck.cli import main

    path, _ = _saved("keras3", tmp_path)
    result = CliRunner().invoke(main, ["validate", "--rebuild", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["models"]
    validation = entry["validation"]
    assert validation["status"] == "agree", validation
    assert not [c for c in validation["calls"] if c["kind"] == "own_random"]
    compared = {c["path"] for c in validation["calls"] if c["kind"] == "stochastic"}
    assert compared == {"outer_depth", "branch/inner_depth"}


def test_held_by_a_users_layer_it_is_listed_once_and_agrees() -> None:
    """A user's block holding a StochasticDepth (Keras 3, live): the sublayer is listed
    once, as drop_path, not as a layer drawing in its own code, and is active exactly
    where its real calls act."""
    import keras

    from agreement import assert_agrees
    from graphcheck.runtime import observe, synthesise_inputs

    depth_class = _convnext_module("keras3").StochasticDepth

    class Block(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(4, name="dense")
            self.depth = depth_class(OUTER, name="depth")

        def call(self, x: Any, training: Any = None) -> Any:
            return x + self.depth(self.dense(x), training=training)

    inputs = keras.Input((4,), name="x")
    model = keras.Model(inputs, Block(name="block")(inputs))
    model.compile(optimizer="sgd", loss="mse")
    entry = model_entry(graphcheck.analyse(model))
    (held,) = entry["inner_stochastic"]
    assert (held["path"], held["kind"], held["own_random"], held["rate"]) == (
        "block/depth", "drop_path", False, OUTER)
    assert held["active"] == {"fit": True, "predict": False, "call": False}
    obs = observe(model, synthesise_inputs(model))
    assert obs.active["fit"].get("block/depth"), "the held StochasticDepth was observed"
    assert_agrees(entry, obs.active, obs.bn_batch_stats, obs.class_names)
