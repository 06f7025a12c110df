"""Who decides the training value each call receives, per semantics profile."""

from __future__ import annotations

import pytest
from helpers import call, graph_of, input_layer, layer, model, ref, three_levels

from graphcheck.analyses.execution_order import keras3_call_order
from graphcheck.analyses.training import resolve_training
from graphcheck.semantics import PROFILES, Scenario, TrainingSource, profile_for_version

FIT, PREDICT, CALL = Scenario.FIT, Scenario.PREDICT, Scenario.CALL


def values(top, profile: str) -> dict[str, dict[Scenario, bool]]:
    training = resolve_training(graph_of(top), PROFILES[profile])
    return {path: {s: r.value for s, r in by.items()} for path, by in training.by_call.items()}


class TestThreeLevelExample:
    """KERAS_SEMANTICS.md section 2's worked example, for each profile."""

    def test_keras2_innermost_stored_flag_wins(self) -> None:
        """Keras 2: level3's dropout always gets True, level2's always False."""
        got = values(three_levels(), "keras2")
        assert got["level2/level3/l3_drop"] == {FIT: True, PREDICT: True, CALL: True}
        assert got["level2/l2_drop"] == {FIT: False, PREDICT: False, CALL: False}

    def test_keras3_top_value_overrides_stored_flags(self) -> None:
        """Keras 3.0-3.15: both dropouts are active in fit only."""
        got = values(three_levels(), "keras3")
        for path in ("level2/l2_drop", "level2/level3/l3_drop"):
            assert got[path] == {FIT: True, PREDICT: False, CALL: False}

    def test_keras3_model_call_uses_outermost_stored_flag(self) -> None:
        """Under model(x), level2's stored False reaches level3 too (pushed down)."""
        training = resolve_training(graph_of(three_levels()), PROFILES["keras3"])
        received = training["level2/level3/l3_drop"][CALL]
        assert (received.value, received.source, received.site) == (False, TrainingSource.STORED, "level2")


class TestKeras3SharedContext:
    def test_flag_leaks_to_the_next_layer_without_one(self) -> None:
        """Keras 3.15 model(x): a BN after RandomFlip inherits training=True (keras#23166)."""
        top = model(
            "top",
            [
                input_layer("x"),
                layer("flip", "RandomFlip", call(ref("x"), training=True)),
                layer("bn", "BatchNormalization", call(ref("flip"))),
            ],
            ["x"],
            [ref("bn")],
        )
        training = resolve_training(graph_of(top), PROFILES["keras3"])
        assert training["bn"][CALL].value is True
        assert training["bn"][CALL].source is TrainingSource.INHERITED
        assert training["bn"][PREDICT].value is False
        keras2 = resolve_training(graph_of(top), PROFILES["keras2"])
        assert keras2["bn"][CALL].value is False

    def test_execution_order_follows_keras_depths(self) -> None:
        """Keras runs the deepest calls first, then by first discovery from the outputs."""
        top = model(
            "top",
            [
                input_layer("x"),
                layer("short", "Dense", call(ref("x"))),
                layer("long1", "Dense", call(ref("x"))),
                layer("long2", "Dense", call(ref("long1"))),
                layer("join", "Add", call(ref("short"), ref("long2"))),
            ],
            ["x"],
            [ref("join")],
        )
        assert keras3_call_order(top) == [("long1", 0), ("short", 0), ("long2", 0), ("join", 0)]


@pytest.mark.parametrize(
    ("version", "profile"),
    [("1.1.2", "keras2"), ("2.2.4-tf", "keras2"), ("2.21.0", "keras2"), ("3.0.0", "keras3"),
     ("3.15.1", "keras3"), ("3.16.0", "keras3-callsite"), ("4.0", "keras3-callsite")],
)
def test_profile_for_version(version: str, profile: str) -> None:
    """Each Keras version maps to the profile of its family."""
    assert profile_for_version(version).name == profile


def test_profile_for_version_rejects_garbage() -> None:
    """A string that is no version is a ValueError, not a silent default."""
    with pytest.raises(ValueError, match="not a Keras version"):
        profile_for_version("latest")
