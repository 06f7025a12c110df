"""One record per stochastic kind (graphcheck.kinds), and its readers reading it."""

from __future__ import annotations

import json
import re

import pytest
from helpers import ROOT, call, input_layer, layer, model, ref, saved

from graphcheck.analyses.model_analysis import analyse_graph
from graphcheck.analyses.training_transform import training_transform
from graphcheck.graph import build_graph
from graphcheck.kinds import (
    INVERTED_CLASSES,
    INVERTED_KINDS,
    KINDS,
    NOISE_CLASSES,
    Stochastic,
    kinds_as_data,
)
from graphcheck.layers import stochastic_spec
from graphcheck.profile_choice import ProfileChoice
from graphcheck.reporters.drawing import mask_label
from graphcheck.rules.runner import run_rules
from graphcheck.semantics import profile_for_version

VIEWER = ROOT / "graphcheck" / "reporters" / "html_assets" / "viewer.js"


class TestRecords:
    def test_every_kind_has_one_record(self) -> None:
        """KINDS holds exactly one record per Stochastic member, keyed by its own kind."""
        assert set(KINDS) == set(Stochastic)
        assert all(facts.kind is kind for kind, facts in KINDS.items())

    def test_a_class_belongs_to_one_kind(self) -> None:
        """No Keras class is listed under two kinds."""
        classes = [c for facts in KINDS.values() for c in facts.classes]
        assert len(classes) == len(set(classes)) == len(NOISE_CLASSES)

    def test_the_dropout_family_as_keras_names_it(self) -> None:
        """The layers whose only job is noise, and those of them that are inverted dropout."""
        assert {
            "Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
            "AlphaDropout", "GaussianDropout", "GaussianNoise",
        } == NOISE_CLASSES
        assert {Stochastic.DROPOUT, Stochastic.SPATIAL_DROPOUT} == INVERTED_KINDS
        inverted = {"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"}
        assert inverted == INVERTED_CLASSES

    def test_as_data_is_json_and_complete(self) -> None:
        """The records as the HTML page embeds them: every kind, every field, JSON-ready."""
        data = json.loads(json.dumps(kinds_as_data()))
        assert set(data) == {kind.value for kind in Stochastic}
        assert data["drop_path"]["verb"] == KINDS[Stochastic.DROP_PATH].verb


def _spec(class_name: str, **config: object) -> object:
    return stochastic_spec(class_name, {"name": "x", **config}, "keras3")


class TestReaders:
    @pytest.mark.parametrize("class_name", sorted(NOISE_CLASSES))
    def test_layer_table_reads_kind_and_config_key(self, class_name: str) -> None:
        """Each Dropout-family class gets its record's kind, and its strength from the
        config key the record names."""
        (kind,) = [k for k, facts in KINDS.items() if class_name in facts.classes]
        parameter = KINDS[kind].parameter
        spec = stochastic_spec(class_name, {"name": "x", parameter: 0.25}, "keras3")
        assert spec is not None and spec.kind is kind
        assert (spec.parameter, spec.rate) == (parameter, 0.25)
        assert spec.granularity.startswith(KINDS[kind].granularity)

    def test_training_transform_reads_the_unit(self) -> None:
        """The inverted-dropout text names the unit its kind's record gives."""
        for class_name, unit in (("Dropout", "units"), ("SpatialDropout2D", "channels")):
            spec = stochastic_spec(class_name, {"rate": 0.5}, "keras3")
            assert spec is not None
            transform = training_transform(spec)
            assert transform is not None and f"kept {unit} x1/(1-0.5) = x2," in transform.text

    def test_no_transform_for_kinds_without_a_family(self) -> None:
        """Augmentation, random ops and own-random draws have no formula."""
        from graphcheck.layers import OWN_RANDOM_SPEC

        assert training_transform(OWN_RANDOM_SPEC) is None


def _frozen_noise(class_name: str, **config: object) -> str:
    """GC101's message for one noise layer inside a frozen submodel."""
    inner = model("base", [input_layer("b_in"),
                           layer("noise", class_name, call(ref("b_in")), **config),
                           layer("dense", "Dense", call(ref("noise")))],
                  ["b_in"], [ref("dense")], trainable=False)
    top = model("top", [input_layer("x"), layer("base", "Functional", call(ref("x")),
                                                 trainable=False, submodel=inner)],
                ["x"], [ref("base")])
    profile = profile_for_version("3.15.1")
    analysis = analyse_graph(build_graph(saved(top)), ProfileChoice(profile, "3.15.1", "test"))
    (message,) = [f.message for f in run_rules(analysis) if f.rule == "GC101"]
    return message


class TestWords:
    @pytest.mark.parametrize(("class_name", "config", "words"), [
        ("Dropout", {"rate": 0.3}, "drops units"),
        ("GaussianNoise", {"stddev": 0.3}, "adds Gaussian noise"),
        ("GaussianDropout", {"rate": 0.3}, "multiplies by Gaussian noise"),
    ])
    def test_gc101_says_what_the_kind_does(
        self, class_name: str, config: dict[str, object], words: str
    ) -> None:
        """GC101 says what an active noise layer does, in its kind's words."""
        assert f"base/noise still {words} in fit()" in _frozen_noise(class_name, **config)
        (kind,) = [k for k, f in KINDS.items() if class_name in f.classes]
        assert KINDS[kind].what_it_does == words

    def test_edge_label_fills_the_rate(self) -> None:
        """The drawing's edge label is the kind's, with the rate filled in."""
        top = model("top", [input_layer("x"), layer("d", "Dense", call(ref("x"))),
                            layer("s", "SpatialDropout1D", call(ref("d")), rate=0.1)],
                    ["x"], [ref("s")])
        profile = profile_for_version("3.15.1")
        analysis = analyse_graph(build_graph(saved(top)), ProfileChoice(profile, "3.15.1", "t"))
        (item,) = analysis.stochastic
        assert mask_label(item) == "channels masked 10% in fit()"

    def test_viewer_restates_no_kind(self) -> None:
        """viewer.js names no stochastic kind and no activity phrase: it reads both from
        the page's data (the records, and each box's status precomputed per scenario)."""
        script = VIEWER.read_text(encoding="utf-8")
        named = [k.value for k in Stochastic if re.search(rf'"{k.value}"', script)]
        assert named == []
        for phrase in ('"ACTIVE in', '"off in ', "never acts", "frozen state unknown",
                       "drops whole samples"):
            assert phrase not in script, phrase


class TestActivityWords:
    def test_each_form_from_the_same_values(self) -> None:
        """The status line, the edge label's tail, the page's per-scenario words and the
        report's clause, for a call active in fit() and model(x)."""
        from graphcheck.reporters.activity import (
            in_and_off,
            in_scenario,
            when_active,
            when_masked,
        )
        from graphcheck.semantics import Scenario

        active = {Scenario.FIT: True, Scenario.PREDICT: False, Scenario.CALL: True}
        assert when_active(active) == "ACTIVE in fit(), model(x)"
        assert when_active({s: s is Scenario.FIT for s in Scenario}) == "active in fit() only"
        assert when_active(active, noop=True) == "never acts"
        assert when_masked(active) == "in fit(), model(x)"
        assert when_masked(dict.fromkeys(Scenario, False)) == "never active"
        assert in_scenario(False, Scenario.PREDICT) == "off in predict()"
        assert in_and_off(active) == "active in fit() and model(x), off in predict()"
