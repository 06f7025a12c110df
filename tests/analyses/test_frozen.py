"""Declared frozen state and what will train after loading."""

from __future__ import annotations

from helpers import call, graph_of, input_layer, layer, model, ref

from graphcheck.analyses.frozen import analyse_frozen
from graphcheck.semantics import PROFILES


def frozen_base(base_flag: bool | None, inner_flag: bool = True) -> object:
    base = model(
        "base",
        [input_layer("b_in"), layer("dense", "Dense", call(ref("b_in")), trainable=inner_flag)],
        ["b_in"],
        [ref("dense")],
        trainable=base_flag,
    )
    return model(
        "top",
        [input_layer("x"), layer("base", "Functional", call(ref("x")), trainable=base_flag, submodel=base),
         layer("head", "Dense", call(ref("base")))],
        ["x"],
        [ref("head")],
    )


class TestFrozen:
    def test_enclosing_false_freezes_declared_state(self) -> None:
        """A layer inside a trainable=False submodel is declared frozen by that submodel."""
        state = analyse_frozen(graph_of(frozen_base(False)), PROFILES["keras3"]).calls["base/dense"]
        assert (state.frozen, state.frozen_by) == (True, "base")

    def test_inner_true_under_outer_false_trains_after_load(self) -> None:
        """Own flag AND top flag decide training: an inner True under a frozen base trains."""
        state = analyse_frozen(graph_of(frozen_base(False)), PROFILES["keras3"]).calls["base/dense"]
        assert state.will_train is True
        assert state.declared_differs_from_loaded

    def test_unrecorded_container_flag_is_unknown(self) -> None:
        """Keras 2.2-2.8 files omit a nested model's flag: frozen is unknown, not False."""
        state = analyse_frozen(graph_of(frozen_base(None)), PROFILES["keras2"]).calls["base/dense"]
        assert state.frozen is None

    def test_tf_keras_savedmodel_keeps_container_flags(self) -> None:
        """tf_keras revives a SavedModel's frozen base with its flag: an inner True stays frozen."""
        graph = graph_of(frozen_base(False), keras_version="2.21.0", dialect="keras2", fmt="savedmodel")
        assert analyse_frozen(graph, PROFILES["keras2"]).calls["base/dense"].will_train is False
        rebuilt = graph_of(frozen_base(False), keras_version="2.21.0", dialect="keras2", fmt="h5")
        assert analyse_frozen(rebuilt, PROFILES["keras2"]).calls["base/dense"].will_train is True

    def test_savedmodel_revival_is_a_keras2_behaviour(self) -> None:
        """Keras 3 profiles never apply tf_keras's SavedModel container gating."""
        graph = graph_of(frozen_base(False), keras_version="2.21.0", dialect="keras2", fmt="savedmodel")
        assert analyse_frozen(graph, PROFILES["keras3-callsite"]).calls["base/dense"].will_train is True

    def test_frozen_sequential_top_savedmodel_does_not_train(self) -> None:
        """A trainable=False Sequential top revived from a SavedModel keeps its flag."""
        top = frozen_base(True)
        sequential_top = type(top)(top.name, "Sequential", top.layers, top.inputs, top.outputs, False, True)
        graph = graph_of(sequential_top, keras_version="2.21.0", dialect="keras2", fmt="savedmodel")
        assert analyse_frozen(graph, PROFILES["keras2"]).calls["head"].will_train is False

    def test_layers_without_weights_have_no_training_answer(self) -> None:
        """will_train is None for layers that hold no weights (an input, a Dropout)."""
        states = analyse_frozen(graph_of(frozen_base(True)), PROFILES["keras3"]).calls
        assert states["x"].will_train is None
        assert states["head"].will_train is True
