"""Who decides the training value each call receives, per semantics profile."""

from __future__ import annotations

from dataclasses import replace

import pytest
from helpers import call, graph_of, input_layer, layer, model, ref, three_levels

from graphcheck.analyses.execution_order import keras3_call_order
from graphcheck.analyses.training import resolve_training
from graphcheck.model import CallDesc, ContextWrite
from graphcheck.semantics import (
    PROFILES,
    PROVEN_BUILDS,
    Scenario,
    TrainingSource,
    is_newer_than_measured,
    profile_for_version,
)

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

    def test_a_value_left_inside_a_call_reaches_the_next_layers(self) -> None:
        """A layer whose call leaves True in the context with none resolved (a Resizing
        made inside DeepLabV3's SpatialPyramidPooling.call, measured on the built
        object) passes it on under Keras 3.0-3.15's model(x), with the layer that set
        it; a stored flag after it still wins. Keras 3.16 keeps defaults local: no
        effect there. fit() and predict() push their own value."""
        written = ContextWrite(True, "a Resizing layer created inside Pool's call")
        pool = replace(
            layer("pool", "Pool", call(ref("x"))), leaves_training={"none": written}
        )
        top = model(
            "top",
            [
                input_layer("x"),
                pool,
                layer("bn", "BatchNormalization", call(ref("pool"))),
                layer("bn2", "BatchNormalization", call(ref("bn"), training=False)),
                layer("bn3", "BatchNormalization", call(ref("bn2"))),
            ],
            ["x"],
            [ref("bn3")],
        )
        training = resolve_training(graph_of(top), PROFILES["keras3"])
        bn = training["bn"][CALL]
        assert (bn.value, bn.source, bn.site, bn.set_by) == (
            True, TrainingSource.INHERITED, "pool", written.set_by)
        assert training["bn3"][CALL].value is False  # bn2's stored flag left False
        assert training["bn"][PREDICT].value is False
        assert values(top, "keras3-callsite")["bn"][CALL] is False
        # Left under another resolved value only: nothing changes under model(x).
        other = replace(top, layers=(
            top.layers[0], replace(pool, leaves_training={"false": written}), *top.layers[2:]))
        assert values(other, "keras3")["bn"][CALL] is False

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


def mc_then_plain():
    """MC dropout (stored True), then a Dropout with no stored flag (a Keras 2 file)."""
    return model(
        "top",
        [
            input_layer("x"),
            layer("mc", "Dropout", call(ref("x"), training=True), rate=0.5),
            layer("plain", "Dropout", call(ref("mc")), rate=0.5),
        ],
        ["x"],
        [ref("plain")],
    )


class TestKeras3StoredDefaults:
    def test_loading_stores_the_call_default(self) -> None:
        """Keras 3.15 model(x): a flag-less Dropout after MC dropout keeps its default False.

        Keras 3.0-3.15 write the call() default into each node they build, loading a
        Keras 2 file included, so nothing is inherited.
        """
        training = resolve_training(graph_of(mc_then_plain(), keras_version="2.15.0",
                                             dialect="keras2", fmt="h5"), PROFILES["keras3"])
        assert (training["plain"][CALL].value, training["plain"][CALL].source) == (False, TrainingSource.DEFAULT)
        assert training["mc"][CALL].value is True


class TestKeras3NestedPythonCall:
    """Keras 3.0-3.15: a subclassed model's traced ``call`` inside a Functional."""

    @staticmethod
    def top(before: list, first: str) -> object:
        """A subclass whose ``call`` takes no ``training`` (its traces say what its
        Dropout resolved under each context value; fit() and predict() traced as
        model(x)), then a BatchNormalization with no flag, inside a Functional."""
        traced = {"fit": False, "predict": False, "call": False, "call_true": True,
                  "call_false": False}
        drop = CallDesc((ref("s_in"),), False, by_scenario=traced)
        inner = replace(
            model("sub", [input_layer("s_in"), layer("drop", "Dropout", drop, rate=0.5)],
                  ["s_in"], [ref("drop")]),
            receives_training=False,
        )
        return model(
            "top",
            [input_layer("x"), *before,
             layer("sub", "NoTrainingArgument", call(ref(first)), submodel=inner),
             layer("bn", "BatchNormalization", call(ref("sub")))],
            ["x"],
            [ref("bn")],
        )

    def test_calls_inside_read_the_trace_of_the_value_the_subclass_received(self) -> None:
        """fit() pushes True into the subclass's call, though its ``call`` takes no
        ``training``: its Dropout gets the trace under True, not fit()'s own trace."""
        got = values(self.top([], "x"), "keras3")
        assert got["sub/drop"] == {FIT: True, PREDICT: False, CALL: False}

    def test_the_value_the_subclass_leaves_reaches_the_next_call(self) -> None:
        """model(x) after an MC dropout: the subclass inherits True, its Dropout reads
        the trace under True, and the BN after it inherits what its last call left."""
        mc = layer("mc", "Dropout", call(ref("x"), training=True), rate=0.5)
        training = resolve_training(graph_of(self.top([mc], "mc")), PROFILES["keras3"])
        assert training["sub/drop"][CALL].value is True
        received = training["bn"][CALL]
        assert (received.value, received.source, received.site) == (
            True, TrainingSource.INHERITED, "sub/drop")


class TestStickyContext:
    """Keras 3.16 pre-releases: a stored flag stays in the shared call context."""

    def test_stored_flag_reaches_later_calls_in_every_scenario(self) -> None:
        """After MC dropout, a plain Dropout fires in predict() and model(x) too."""
        got = values(mc_then_plain(), "keras3-callsite")
        assert got["plain"] == {FIT: True, PREDICT: True, CALL: True}
        received = resolve_training(graph_of(mc_then_plain()), PROFILES["keras3-callsite"])
        assert (received["plain"][PREDICT].source, received["plain"][PREDICT].site) == (
            TrainingSource.INHERITED, "mc")

    def test_submodel_flag_leaks_out_of_the_submodel(self) -> None:
        """After base(x, training=False), the head's Dropout gets False in fit()."""
        base = model(
            "base",
            [input_layer("b_in"), layer("b_drop", "Dropout", call(ref("b_in")), rate=0.5)],
            ["b_in"],
            [ref("b_drop")],
        )
        top = model(
            "top",
            [
                input_layer("x"),
                layer("base", "Functional", call(ref("x"), training=False), submodel=base),
                layer("head", "Dropout", call(ref("base")), rate=0.5),
            ],
            ["x"],
            [ref("head")],
        )
        got = values(top, "keras3-callsite")
        assert got["head"][FIT] is False and got["base/b_drop"][FIT] is False
        assert values(top, "keras2")["head"][FIT] is True

    def test_default_stays_local(self) -> None:
        """A RandomFlip's call() default True does not reach the BN after it."""
        top = model(
            "top",
            [
                input_layer("x"),
                layer("flip", "RandomFlip", call(ref("x"))),
                layer("bn", "BatchNormalization", call(ref("flip"))),
            ],
            ["x"],
            [ref("bn")],
        )
        got = values(top, "keras3-callsite")
        assert got["flip"][CALL] is True and got["bn"][CALL] is False
        assert got["bn"][FIT] is True


@pytest.mark.parametrize(
    ("version", "profile"),
    [("1.1.2", "keras2"), ("2.2.4-tf", "keras2"), ("2.21.0", "keras2"), ("3.0.0", "keras3"),
     ("3.9.2", "keras3"), ("3.10.0", "keras3.10"), ("3.15.1", "keras3.10"),
     ("3.16.0", "keras3-callsite"), ("4.0", "keras3-callsite")],
)
def test_profile_for_version(version: str, profile: str) -> None:
    """Each Keras version maps to the profile of its family."""
    assert profile_for_version(version).name == profile


def test_profile_ranges_cover_every_version_once() -> None:
    """profile_for_version relies on the ranges tiling the versions: no gap, no overlap."""
    for major in range(6):
        for minor in range(300):  # pre-releases parse to large minors ("3.16rc0" -> 160)
            covering = [p.name for p in PROFILES.values() if p.covers((major, minor))]
            assert len(covering) == 1, (major, minor, covering)


def test_profile_for_version_keeps_prereleases_in_their_major() -> None:
    """A pre-release minor past ANY_MINOR ("2.21rc0" -> 210) stays in its major's profile."""
    assert profile_for_version("2.21rc0").name == "keras2"
    assert profile_for_version("3.16rc0").name == "keras3-callsite"


def test_profile_for_version_rejects_garbage() -> None:
    """A string that is no version is a ValueError, not a silent default."""
    with pytest.raises(ValueError, match="not a Keras version"):
        profile_for_version("latest")


@pytest.mark.parametrize(
    ("version", "newer"),
    [("4.0", True), ("3.16.0", True), ("3.16.0.dev2026102704", False), ("3.15.1", False),
     ("2.21.0", False), ("2.99", False)],
)
def test_newer_than_measured(version: str, newer: bool) -> None:
    """Only a version above every build in PROVEN_BUILDS is flagged as unproven."""
    assert is_newer_than_measured(version) is newer


def test_proven_builds_cover_every_profile_with_their_own_versions() -> None:
    """Each proven build's version maps back to the profile it proves."""
    assert set(PROVEN_BUILDS) == set(PROFILES)
    for name, builds in PROVEN_BUILDS.items():
        assert builds
        assert {profile_for_version(b.version).name for b in builds} == {name}


class TestExplicitNone:
    """A stored ``training=None``: passed from Keras 3.10 (keras-team/keras#21204)."""

    @staticmethod
    def top():
        """An MC Dropout, then a Dropout-holding wrapper and a BN whose calls store null."""
        none = replace(call(ref("mc")), training_null=True)
        return model(
            "top",
            [
                input_layer("x"),
                layer("mc", "Dropout", call(ref("x"), training=True), rate=0.5),
                layer("td", "TimeDistributed", none),
                layer("bn", "BatchNormalization", replace(call(ref("td")), training_null=True)),
                layer("flip", "RandomFlip", replace(call(ref("bn")), training_null=True)),
            ],
            ["x"],
            [ref("flip")],
        )

    @pytest.mark.parametrize("profile", ["keras3.10", "keras3-callsite"])
    def test_passed_none_is_its_own_value(self, profile: str) -> None:
        """Under model(x) each call gets None, not the MC Dropout's True or its default."""
        received = resolve_training(graph_of(self.top()), PROFILES[profile])
        for path in ("td", "bn", "flip"):
            got = received[path][CALL]
            assert (got.value, got.source, got.site) == (False, TrainingSource.STORED_NONE, path)
        assert received["td"][FIT].value is (profile == "keras3.10")

    def test_keras3_before_3_10_reads_no_flag(self) -> None:
        """Keras 3.0-3.9: the None is no flag, so the context's True and the default decide."""
        got = values(self.top(), "keras3")
        assert got["td"][CALL] is True and got["bn"][CALL] is True and got["flip"][CALL] is True

    def test_keras2_reads_no_flag(self) -> None:
        """Keras 2: no flag; the Random* default True decides under model(x)."""
        got = values(self.top(), "keras2")
        assert got["td"][CALL] is False and got["flip"][CALL] is True

    def test_keras3_before_3_10_none_hides_the_default(self) -> None:
        """Keras 3.0-3.9: with no value in the context a passed None still reaches the
        call (``CallSpec.arguments_dict`` holds it), not the RandomFlip's default True."""
        top = model(
            "top",
            [
                input_layer("x"),
                layer("flip", "RandomFlip", replace(call(ref("x")), training_null=True)),
            ],
            ["x"],
            [ref("flip")],
        )
        received = resolve_training(graph_of(top), PROFILES["keras3"])["flip"][CALL]
        assert (received.value, received.source) == (False, TrainingSource.STORED_NONE)


class TestPushIntoCallsWithoutTraining:
    """Keras 3.0-3.9 push a submodel's value only into calls that take ``training``."""

    @staticmethod
    def top():
        """A layer that leaves False in the context, then one whose call takes no training."""
        leaver = replace(
            layer("leaver", "LeavesFalse", call(ref("x"))),
            leaves_training={k: ContextWrite(False, "bn") for k in ("true", "false", "none")},
        )
        holder = replace(layer("holder", "HoldsDropout", call(ref("leaver"))), takes_training=False)
        return model("top", [input_layer("x"), leaver, holder], ["x"], [ref("holder")])

    def test_keras3_before_3_10_inherits_the_context(self) -> None:
        """3.0-3.9: the holder gets the False the leaver left, in fit() too."""
        received = resolve_training(graph_of(self.top()), PROFILES["keras3"])["holder"]
        assert received[FIT].value is False and received[FIT].source is TrainingSource.INHERITED

    def test_keras3_10_pushes_into_every_call(self) -> None:
        """3.10-3.15: fit()'s True is pushed into the holder as into every call."""
        received = resolve_training(graph_of(self.top()), PROFILES["keras3.10"])["holder"]
        assert received[FIT].value is True and received[FIT].source is TrainingSource.TOP
