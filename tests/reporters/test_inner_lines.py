"""The text report's lines for stochastic sublayers of a built layer (a live KerasHub model)."""

from __future__ import annotations

import pytest

import graphcheck
from graphcheck.reporters.analysis_text import model_text


def _encoder_model(dropout: float) -> object:
    keras = pytest.importorskip("keras")
    keras_hub = pytest.importorskip("keras_hub")
    inputs = keras.Input((4, 8), name="tokens")
    encoded = keras_hub.layers.TransformerEncoder(
        intermediate_dim=8, num_heads=1, dropout=dropout, name="encoder"
    )(inputs)
    return keras.Model(inputs, encoded, name="one_encoder")


@pytest.mark.keras
@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_sublayer_line_says_why_it_is_off(dropout: float) -> None:
    """A rate-0 sublayer is a no-op, not "the same as its holder's call" (which fires in fit())."""
    analysis = graphcheck.load(_encoder_model(dropout)).analyse()
    assert analysis.inner_stochastic, "the encoder's dropouts were not found"
    text = model_text(analysis)
    count = len(analysis.inner_stochastic)
    assert f"plus {count} stochastic sublayer(s)" in text
    lines = [line for line in text.splitlines() if "a sublayer of TransformerEncoder" in line]
    assert len(lines) == count
    for line in lines:
        if dropout == 0.0:
            assert "never active" in line and "(rate 0: a no-op)" in line
            assert "holder's call" not in line
        else:
            assert "active in fit()" in line and "the same as its holder's call" in line
