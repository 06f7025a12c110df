"""validate compares the stochastic sublayers a layer holds, not only the graph's calls.

The static report lists a KerasHub TransformerEncoder's dropouts and attention, and a
custom layer's Dropout, below their holder, "active as its holder's call". validate
observes each of them in the real run and holds the claim to it: agreement on the
KerasHub sample, and a disagreement where the holder's own code passes
``training=True`` to its Dropout (which no static reading of a config can see).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.keras
keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parents[2]
HUB_SAMPLE = ROOT / "samples" / "rebuild" / "bert_frozen_classifier.keras"


@pytest.mark.skipif(importlib.util.find_spec("keras_hub") is None, reason="needs keras_hub")
def test_every_sublayer_claim_of_the_kerashub_sample_is_observed_and_agrees() -> None:
    from click.testing import CliRunner

    from graphcheck import analyse
    from graphcheck.cli import main

    inner = {item["path"] for item in analyse(str(HUB_SAMPLE), rebuild=True)["inner_stochastic"]}
    assert len(inner) >= 6, "attention, attention dropout and feed-forward dropout per block"
    run = CliRunner().invoke(main, ["validate", "--rebuild", "--format", "json", str(HUB_SAMPLE)])
    assert run.exit_code == 0, run.output
    (entry,) = json.loads(run.stdout)["models"]
    calls = {call["path"]: call for call in entry["validation"]["calls"]}
    assert inner <= set(calls), f"not compared: {sorted(inner - set(calls))}"
    for path in inner:
        call = calls[path]
        assert call["observed"] and call["agree"], call
        assert call["scenarios"]["fit"]["runtime"]["active"] == [True], path
        assert call["scenarios"]["predict"]["runtime"]["active"] == [False], path
    # Each inner Dropout's zeroed fraction is checked against its rate, as a graph Dropout's.
    dropouts = [calls[p] for p in inner if calls[p]["class_name"] == "Dropout"]
    assert dropouts and all(call["dropout"] for call in dropouts)


@keras.saving.register_keras_serializable(package="graphcheck_tests")
class AlwaysDropping(keras.layers.Layer):
    """A custom layer whose code calls its Dropout with training=True: MC dropout inside."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(8, name="inner_dense")
        self.drop = keras.layers.Dropout(0.5, name="inner_dropout")

    def call(self, x: Any) -> Any:
        return self.drop(self.dense(x), training=True)


def test_a_holder_passing_its_own_training_is_seen(tmp_path: Path) -> None:
    """The holder's code calls its Dropout with training=True: the symbolic calls of
    the holder show it (the sublayer runs with True whatever the holder gets), so it
    is claimed active in predict() too, and validate --rebuild agrees with the run."""
    from graphcheck import analyse
    from graphcheck.runtime.validate import ValidationOptions, validate_model

    inputs = keras.Input((8,))
    outputs = keras.layers.Dense(1, name="head")(AlwaysDropping(name="block")(inputs))
    path = tmp_path / "mc_inside.keras"
    keras.Model(inputs, outputs).save(path)
    (claim,) = analyse(keras.saving.load_model(path))["inner_stochastic"]
    assert claim["path"] == "block/inner_dropout"
    assert claim["active"] == {"fit": True, "predict": True, "call": True}

    # From the file's stored graph the custom layer is opaque: nothing claimed, nothing compared.
    stored = validate_model(str(path), ValidationOptions(trust_model=True, timeout=None))
    assert stored.agree and "block/inner_dropout" not in {c.path for c in stored.calls}
    # Built (--rebuild), its Dropout is found, claimed as its holder's code runs it,
    # observed and compared: every scenario agrees.
    result = validate_model(
        str(path), ValidationOptions(rebuild=True, trust_model=True, timeout=None)
    )
    assert result.agree, result.disagreements
    assert "block/inner_dropout" in {c.path for c in result.calls}
