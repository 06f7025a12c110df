"""All analyses of one model under one semantics profile, gathered in one result."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphcheck.analyses.frozen import FrozenStates, analyse_frozen
from graphcheck.analyses.inner import InnerStochasticCall, analyse_inner_stochastic
from graphcheck.analyses.stochastic import (
    ModeDependentCall,
    StochasticCall,
    analyse_stochastic,
    is_active,
    uses_batch_statistics,
)
from graphcheck.analyses.training import TrainingValues, resolve_training
from graphcheck.graph import CallGraph, LayerCall
from graphcheck.layers import KERAS_FAMILY, keras_layer_info, layer_info
from graphcheck.model import SavedModelDesc
from graphcheck.profile_choice import ProfileChoice
from graphcheck.readers.source import JSON_SCALARS
from graphcheck.semantics import Scenario, SemanticsProfile, profile_for_version

__all__ = ["FlagConflict", "ModelAnalysis", "analyse_graph", "register_html_display"]


# How an analysis shows itself in Jupyter. The report's lines and the drawing are made
# by the reporters, downstream of this module, so graphcheck.api (which sits above
# both) registers that function here rather than this module importing upward.
_HTML_DISPLAY: list[Callable[[ModelAnalysis], str]] = []


def register_html_display(display: Callable[[ModelAnalysis], str]) -> None:
    """Make ``display`` what an analysis shows in Jupyter (graphcheck.api registers it)."""
    _HTML_DISPLAY[:] = [display]


@dataclass(frozen=True, slots=True)
class FlagConflict:
    """A call whose activity differs between the saving and the running Keras."""

    path: str
    class_name: str
    scenario: Scenario
    saving: bool
    running: bool


@dataclass(frozen=True, slots=True)
class ModelAnalysis:
    """Everything graphcheck works out about one saved model."""

    saved: SavedModelDesc
    graph: CallGraph
    choice: ProfileChoice
    frozen: FrozenStates
    training: TrainingValues
    stochastic: list[StochasticCall]
    mode_dependent: list[ModeDependentCall]
    saving_profile: SemanticsProfile | None
    conflicts: list[FlagConflict]
    # Stochastic sublayers of non-model layers; only a built object reveals them.
    inner_stochastic: list[InnerStochasticCall] = field(default_factory=list)
    # Found once, as several rules and reports ask: calls of layers that store Python
    # code (a walk of every layer config), and calls of classes graphcheck does not know.
    code: tuple[LayerCall, ...] = ()
    unknown: tuple[LayerCall, ...] = ()

    def __repr__(self) -> str:
        # One line for a REPL; the dataclass repr would print every call (hundreds of KB).
        fit = Scenario.FIT
        frozen_firing = sum(1 for s in self.stochastic if s.frozen_by and s.active.get(fit))
        path = self.saved.path if len(self.saved.path) <= 120 else "..." + self.saved.path[-117:]
        return (
            f"<ModelAnalysis {path!r} for {self.profile.title}: {len(self.layer_calls())} calls, "
            f"{len(self.stochastic)} stochastic, {frozen_firing} active in fit() inside "
            "something frozen>"
        )

    def _repr_html_(self) -> str | None:
        """Jupyter display: the report's key lines and the drawing (see register_html_display)."""
        return _HTML_DISPLAY[0](self) if _HTML_DISPLAY else None

    @property
    def profile(self) -> SemanticsProfile:
        return self.choice.profile

    def layer_calls(self) -> list[LayerCall]:
        """Every call of a real layer (model inputs left out), in execution order."""
        return _layer_calls(self.graph)

    def code_calls(self) -> list[LayerCall]:
        """Calls of layers that store Python code (Lambda), also inside wrappers
        (``TimeDistributed(Lambda)``): never run, unsafe to load."""
        return list(self.code)

    def unknown_calls(self) -> list[LayerCall]:
        """Calls of classes graphcheck does not know: their stochasticity is unknown."""
        return list(self.unknown)

    def opened_calls(self) -> list[LayerCall]:
        """Unknown calls of Keras's own classes on a built object (live or --rebuild).

        A KerasHub ``TransformerEncoder``, Keras's ``ReversibleEmbedding`` or a
        ``keras.ops`` op layer (``GetItem``): no class graphcheck's tables list, but
        not a user's either, and the object's sublayers were walked, so each
        stochastic sublayer of a known class is in ``inner_stochastic``; so is each
        layer drawing random numbers in its own code (a KerasHub ``DropPath``), found
        by a symbolic call of the holder (``own_random``).
        """
        if not self.saved.from_object:
            return []
        return [c for c in self.unknown_calls() if _keras_defined(c.layer.origin)]




def _keras_defined(origin: tuple[str | None, str | None] | None) -> bool:
    """True for a class whose module is in a Keras package and whose registered name,
    if any, is one of them too (a user's class registers a package of its own)."""
    if origin is None:
        return False
    module, registered = origin
    if module is None or module.split(".", 1)[0] not in KERAS_FAMILY:
        return False
    return registered is None or registered.split(">", 1)[0] in KERAS_FAMILY


def _wraps_code(config: Mapping[str, Any]) -> bool:
    """True when a layer config nests a Lambda config (``TimeDistributed(Lambda(...))``)."""
    # Every layer's whole config is walked: most values are leaves, which the exact
    # type tests skip before the slower abstract-class test (a live object's config).
    stack: list[Any] = [config]
    while stack:
        item = stack.pop()
        values = item if type(item) is list else item.values()
        for value in values:
            kind = type(value)
            if kind in JSON_SCALARS:
                continue
            if kind is dict or (kind is not list and isinstance(value, Mapping)):
                if value.get("class_name") == "Lambda":
                    return True
                stack.append(value)
            elif kind is list:
                stack.append(value)
    return False



def analyse_graph(
    graph: CallGraph, choice: ProfileChoice, *, same_graph: ModelAnalysis | None = None
) -> ModelAnalysis:
    """Run every analysis on a built graph under the chosen profile.

    ``same_graph``: an analysis of this graph under another profile, whose facts that
    no profile changes (the calls that store code, the unknown classes) are kept.
    """
    saved: SavedModelDesc = graph.source
    frozen, training, stochastic, modes = _analyse_under(graph, choice.profile)
    saving_profile = None
    if saved.keras_version:
        try:
            saving_profile = profile_for_version(saved.keras_version)
        except ValueError:
            saving_profile = None
    conflicts: list[FlagConflict] = []
    # A graph built by the running Keras (live, --rebuild) holds that Keras's flags,
    # not the ones the saving Keras wrote: there is no stored graph to compare.
    if saving_profile is not None and saving_profile != choice.profile and not saved.from_object:
        conflicts = _conflicts(graph, saving_profile, stochastic, modes)
    inner = analyse_inner_stochastic(graph, training, frozen)
    if same_graph is not None and same_graph.graph is graph:
        code, unknown = same_graph.code, same_graph.unknown
    else:
        calls = _layer_calls(graph)
        code = _code_calls(calls)
        unknown = tuple(
            c for c in calls
            if not keras_layer_info(c.layer.class_name, saved.dialect, c.layer.origin).known
        )
    return ModelAnalysis(
        saved, graph, choice, frozen, training, stochastic, modes, saving_profile, conflicts,
        inner, code, unknown,
    )


def _layer_calls(graph: CallGraph) -> list[LayerCall]:
    inputs = graph.inputs
    return [call for call in graph.calls() if call.path not in inputs]


def _code_calls(calls: list[LayerCall]) -> tuple[LayerCall, ...]:
    """Calls of layers that store code; a shared layer's config is walked once."""
    stores: dict[int, bool] = {}
    found = []
    for call in calls:
        layer = call.layer
        if id(layer) not in stores:
            stores[id(layer)] = layer_info(layer.class_name).has_code or _wraps_code(layer.config)
        if stores[id(layer)]:
            found.append(call)
    return tuple(found)


def _analyse_under(
    graph: CallGraph, profile: SemanticsProfile
) -> tuple[FrozenStates, TrainingValues, list[StochasticCall], list[ModeDependentCall]]:
    frozen = analyse_frozen(graph, profile)
    training = resolve_training(graph, profile)
    stochastic, modes = analyse_stochastic(graph, training, frozen)
    return frozen, training, stochastic, modes


def _conflicts(
    graph: CallGraph,
    saving: SemanticsProfile,
    stochastic: list[StochasticCall],
    modes: list[ModeDependentCall],
) -> list[FlagConflict]:
    """Calls that the saving Keras and the running Keras would run differently.

    Only the ``training`` values depend on the profile's flag rules, so only they
    are resolved again.
    """
    before = resolve_training(graph, saving)
    found = []
    for call in stochastic:
        for scenario in Scenario:
            was = is_active(call.spec, before[call.path][scenario])
            if was != call.active[scenario]:
                now = call.active[scenario]
                found.append(FlagConflict(call.path, call.class_name, scenario, was, now))
    for mode in modes:
        for scenario in Scenario:
            was = uses_batch_statistics(before[mode.path][scenario], mode.trainable)
            if was != mode.batch_statistics[scenario]:
                found.append(
                    FlagConflict(
                        mode.path, mode.class_name, scenario, was, mode.batch_statistics[scenario]
                    )
                )
    return found
