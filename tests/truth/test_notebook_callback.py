"""The notebook display and the fit() callback, on live models run for real."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from builders import submodel_training_false

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
    assert "base/base_dropout (Dropout) fires in fit(), inside frozen base" in caplog.text
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
    """The README's KerasHub example: GC101 is a warning, so fail_on="error" logs it and
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
            "TransformerEncoder) fires in fit(), inside frozen bert_backbone") in caplog.text
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
