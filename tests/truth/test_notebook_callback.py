"""The notebook display and the fit() callback, on live models run for real."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest
from builders import FLAVOURS, KERAS_VERSIONS, keras_module, submodel_training_false

import graphcheck
from graphcheck.keras import GraphcheckCallback, GraphcheckFindingsError

pytestmark = pytest.mark.truth


def test_analysis_displays_lines_and_svg_in_jupyter() -> None:
    """_repr_html_ holds the report's lines and an SVG with the frozen panel and masked edge."""
    pytest.importorskip("graphviz")
    model = submodel_training_false("keras3")
    model.get_layer("base").trainable = False
    page = graphcheck.load(model).analyse()._repr_html_()
    assert "base/base_dropout (Dropout, rate 0.5)" in page
    assert "live object (keras" in page
    assert "<svg" in page and "base_dropout" in page.split("<svg", 1)[1]
    # The findings, as `graphcheck MODEL` lists them: the frozen base's firing dropout.
    assert "GC101</code>" in page.split("<svg", 1)[0]


def test_callback_stops_fit_on_findings(caplog: pytest.LogCaptureFixture) -> None:
    """Keras 3, fail_on="error": the frozen base's firing dropout stops fit() before any step."""
    model = submodel_training_false("keras3")
    model.get_layer("base").trainable = False
    model.compile(optimizer="sgd", loss="mse")
    weights = [w.copy() for w in model.get_weights()]
    x, y = np.ones((4, 8), "float32"), np.ones((4, 1), "float32")
    with caplog.at_level(logging.WARNING, logger="graphcheck"), pytest.raises(GraphcheckFindingsError):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GraphcheckCallback("error")])
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))
    assert ("base/base_dropout (Dropout) fires in fit(), inside frozen submodel base"
            in caplog.text)
    # Keras 3.0-3.15 ignore base(x, training=False) in fit()
    assert "base is called with training=False, which this Keras ignores" in caplog.text


def test_tf_keras_callback_honours_the_call_site_flag(caplog: pytest.LogCaptureFixture) -> None:
    """tf_keras honours base(x, training=False): the base's dropout is quiet, fit() runs."""
    model = submodel_training_false("tfkeras")
    model.get_layer("base").trainable = False
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 8), "float32"), np.ones((4, 1), "float32")
    with caplog.at_level(logging.WARNING, logger="graphcheck"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[GraphcheckCallback("error", package="tf_keras")])
    assert "head_dropout (Dropout) fires in fit()" in caplog.text
    assert "base/base_dropout" not in caplog.text.split("GC")[0]


def test_callback_with_fail_on_never_lets_fit_run(caplog: pytest.LogCaptureFixture) -> None:
    """fail_on="never" only logs; fit() runs and the head trains."""
    model = submodel_training_false("keras3")
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 8), "float32"), np.ones((4, 1), "float32")
    with caplog.at_level(logging.WARNING, logger="graphcheck"):
        history = model.fit(x, y, epochs=1, verbose=0, callbacks=[GraphcheckCallback("never")])
    assert history.history["loss"]
    assert "head_dropout (Dropout) fires in fit()" in caplog.text


def test_callback_on_frozen_kerashub_classifier(caplog: pytest.LogCaptureFixture) -> None:
    """The KerasHub example of docs/kerashub.md: GC101 is a warning, so fail_on="error" logs it and
    fit() runs; fail_on="warning" stops fit() before any weight changes."""
    pytest.importorskip("keras_hub")
    from hub_builders import bert_classifier_frozen

    model = bert_classifier_frozen()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = {
        "token_ids": np.ones((4, 8), "int32"),
        "segment_ids": np.zeros((4, 8), "int32"),
        "padding_mask": np.ones((4, 8), "int32"),
    }
    y = np.array([0, 1, 0, 1])
    with caplog.at_level(logging.WARNING, logger="graphcheck"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GraphcheckCallback("error")])
    assert "warning GC101 bert_backbone/embeddings_dropout" in caplog.text
    assert "warning GC101 bert_backbone/transformer_layer_1/self_attention_dropout" in caplog.text
    assert ("bert_backbone/transformer_layer_0/feedforward_dropout (Dropout, inside "
            "TransformerEncoder) fires in fit(), inside frozen submodel bert_backbone"
            ) in caplog.text
    weights = [w.copy() for w in model.get_weights()]
    with pytest.raises(GraphcheckFindingsError, match="at or above warning before fit"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GraphcheckCallback("warning")])
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights(), strict=True))


def test_callback_gate_settings_ignore_a_rule(caplog: pytest.LogCaptureFixture) -> None:
    """ignore= (or a GateConfig) takes a rule out: GC102 ignored, fail_on="error" lets the
    frozen base's fit() run, and the weights of the trainable head change for real."""
    from graphcheck.errors import ConfigError
    from graphcheck.gate_config import GateConfig

    x, y = np.ones((4, 8), "float32"), np.ones((4, 1), "float32")
    by_slug = GateConfig(ignore=("training-false-ignored-in-fit",))
    for callback in (GraphcheckCallback("error", ignore=["GC102"]),
                     GraphcheckCallback(config=by_slug)):
        model = submodel_training_false("keras3")
        model.get_layer("base").trainable = False
        model.compile(optimizer="sgd", loss="mse")
        before = model.get_layer("head").get_weights()[0].copy()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="graphcheck"):
            model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
        assert not np.array_equal(before, model.get_layer("head").get_weights()[0])
        assert "GC102" not in caplog.text and "warning GC101 base/base_dropout" in caplog.text
        assert {f.rule for f in callback.findings} >= {"GC101"} and "GC102" not in {
            f.rule for f in callback.findings}
    with pytest.raises(ConfigError, match="unknown rule 'GC999'"):
        GraphcheckCallback(ignore=["GC999"])


def frozen_four_ways(flavour: str) -> tuple[Any, list[Any]]:
    """A Dropout frozen by its own flag, one inside a frozen submodel, a Dropout sublayer
    with its own trainable=False inside a custom layer's call, and one inside a custom
    layer frozen by its own flag; and the four Dropout objects, to watch in fit()."""
    K = keras_module(flavour)

    class Holder(K.layers.Layer):  # type: ignore[misc, name-defined]
        def __init__(self, freeze_inner: bool = False, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.inner_drop = K.layers.Dropout(0.5, name="inner_drop")
            self.inner_drop.trainable = not freeze_inner

        def call(self, inputs: Any) -> Any:
            return self.inner_drop(inputs)

    base_in = K.Input(shape=(8,), name="base_in")
    base = K.Model(base_in, K.layers.Dropout(0.5, name="base_dropout")(
        K.layers.Dense(8, name="base_dense")(base_in)), name="base")
    base.trainable = False
    x = K.Input(shape=(8,), name="x")
    own = K.layers.Dropout(0.5, name="own_drop")
    own.trainable = False
    holder = Holder(freeze_inner=True, name="holder")
    frozen_holder = Holder(name="frozen_holder")
    frozen_holder.trainable = False
    h = frozen_holder(holder(own(K.layers.Dense(8, name="dense")(base(x)))))
    model = K.Model(x, K.layers.Dense(1, name="head")(h), name="frozen_four_ways")
    return model, [base.get_layer("base_dropout"), own, holder.inner_drop, frozen_holder.inner_drop]


def dropped_in_fit(model: Any, layers: list[Any]) -> list[bool]:
    """Run one real fit() step and say, per layer, whether it dropped anything."""
    dropped = [False] * len(layers)
    for index, layer in enumerate(layers):
        original = layer.call

        def call(*args: Any, _i: int = index, _call: Any = original, **kwargs: Any) -> Any:
            out = _call(*args, **kwargs)
            dropped[_i] |= not np.allclose(np.asarray(args[0]), np.asarray(out))
            return out

        layer.call = call
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    model.fit(np.ones((4, 8), "float32"), np.ones((4, 1), "float32"), epochs=1, verbose=0)
    return dropped


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_callback_says_what_freezes_each_dropout(
    flavour: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Frozen by its own flag is not "inside frozen <itself>": each kind gets its words,
    and each of the three Dropouts really drops in fit() (watched in a real step)."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    model, layers = frozen_four_ways(flavour)
    package = {"keras3": "keras", "tfkeras": "tf_keras"}[flavour]
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((4, 8), "float32"), np.ones((4, 1), "float32")
    with caplog.at_level(logging.WARNING, logger="graphcheck"):
        model.fit(x, y, epochs=1, verbose=0,
                  callbacks=[GraphcheckCallback("never", package=package)])
    lines = [r.getMessage() for r in caplog.records]
    assert ("graphcheck: own_drop (Dropout) fires in fit(), trainable=False on this layer "
            "does not stop it") in lines
    assert ("graphcheck: base/base_dropout (Dropout) fires in fit(), "
            "inside frozen submodel base") in lines
    assert ("graphcheck: holder/inner_drop (Dropout, inside Holder) fires in fit(), "
            "trainable=False on this sublayer does not stop it") in lines
    assert ("graphcheck: frozen_holder/inner_drop (Dropout, inside Holder) fires in fit(), "
            "inside frozen_holder, whose own trainable=False does not stop it") in lines
    assert not any("inside frozen own_drop" in line or "inside frozen holder" in line
                   for line in lines)
    # GC101 says what is trainable=False, for the holder as for the layer itself.
    assert ("graphcheck: warning GC101 frozen_holder/inner_drop still drops units in fit() "
            "although the layer holding it, frozen_holder, is trainable=False") in lines
    assert ("graphcheck: warning GC101 own_drop still drops units in fit() although it is "
            "trainable=False itself") in lines
    assert dropped_in_fit(model, layers) == [True, True, True, True]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_callback_on_a_frozen_top_model(flavour: str, caplog: pytest.LogCaptureFixture) -> None:
    """A model frozen as a whole: its Dropout is inside the frozen top model, and drops."""
    if flavour not in KERAS_VERSIONS:
        pytest.skip(f"{flavour} is not installed")
    K = keras_module(flavour)
    x = K.Input(shape=(8,), name="x")
    drop = K.layers.Dropout(0.5, name="drop")
    model = K.Model(x, K.layers.Dense(1, name="head")(drop(K.layers.Dense(8, name="dense")(x))),
                    name="frozen_top")
    model.trainable = False
    model.compile(optimizer="sgd", loss="mse")
    package = {"keras3": "keras", "tfkeras": "tf_keras"}[flavour]
    with caplog.at_level(logging.WARNING, logger="graphcheck"):
        model.fit(np.ones((4, 8), "float32"), np.ones((4, 1), "float32"), epochs=1, verbose=0,
                  callbacks=[GraphcheckCallback("never", package=package)])
    assert ("graphcheck: drop (Dropout) fires in fit(), inside the frozen top model frozen_top "
            "(trainable=False does not stop it)") in [r.getMessage() for r in caplog.records]
    assert dropped_in_fit(model, [drop]) == [True]
