"""The ``training`` value every call receives under fit(), predict() and model(x).

Two mechanisms, chosen by the semantics profile:

- per call path (Keras 2, and Keras 3 whenever the top-level value is set): the
  value depends only on the stored flags along the call's own path of submodel
  calls, :meth:`SemanticsProfile.received`;
- one shared call context (Keras 3.0-3.15 under ``model(x)``): each layer resolves
  its value (its stored flag, else the value left in the context by the layer run
  before it, else its ``call`` default) and leaves it in the context, so the result
  depends on Keras's execution order (:mod:`.execution_order`).
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from graphcheck.analyses.execution_order import keras3_call_order
from graphcheck.graph import LayerCall, SubmodelCall, call_path
from graphcheck.layers import layer_info
from graphcheck.model import ModelDesc
from graphcheck.semantics import Received, Scenario, SemanticsProfile, TrainingSource

__all__ = ["TrainingValues", "resolve_training", "stored_flags"]


@dataclass(frozen=True, slots=True)
class TrainingValues:
    """Per call path, the :class:`Received` value in each scenario."""

    by_call: dict[str, dict[Scenario, Received]]

    def __getitem__(self, path: str) -> dict[Scenario, Received]:
        return self.by_call[path]


def resolve_training(graph: nx.MultiDiGraph, profile: SemanticsProfile) -> TrainingValues:
    """Resolve the ``training`` value of every layer call in every scenario.

    Parameters
    ----------
    graph : networkx.MultiDiGraph
        A graph from :func:`graphcheck.graph.build_graph`.
    profile : SemanticsProfile
        The Keras family that will run the model.

    Returns
    -------
    TrainingValues
        Input layers are left out; they receive nothing.
    """
    submodels: dict[str, SubmodelCall] = graph.graph["submodels"]
    by_call: dict[str, dict[Scenario, Received]] = {}
    shared = None
    if profile.top_overrides_stored:  # Keras 3.0-3.15: one context per top-level call
        shared = _simulate_shared_context(graph.graph["source"].model)
    for path, data in graph.nodes(data=True):
        call: LayerCall = data["call"]
        class_name = call.layer.class_name
        if class_name == "InputLayer" and not call.layer.calls:
            continue
        stored = stored_flags(call, submodels)
        default = layer_info(class_name).training_default
        values = {}
        for scenario in Scenario:
            if shared is not None and scenario.top_value is None:
                values[scenario] = shared.get(path, Received(False, TrainingSource.NOT_RUN))
            else:
                values[scenario] = profile.received(stored, scenario, default)
        by_call[path] = values
    return TrainingValues(by_call)


def stored_flags(
    call: LayerCall, submodels: dict[str, SubmodelCall]
) -> list[tuple[str, bool | None]]:
    """The stored ``training=`` flags on a call's path, outermost submodel call first."""
    stored = [(site, submodels[site].training) for site in call.submodels]
    stored.append((call.path, call.training))
    return stored


def _simulate_shared_context(top: ModelDesc) -> dict[str, Received]:
    """Run ``model(x)`` the way Keras 3.0-3.15 resolve ``training`` (no value given).

    A submodel call that resolves a value passes it explicitly to every call inside
    it (``functional.operation_fn``); every layer, with or without a ``training``
    argument, leaves its resolved value in the shared context
    (``Layer._resolve_and_populate_arg``), where the next layer finds it.
    """
    results: dict[str, Received] = {}
    context: Received | None = None

    def run_scope(model: ModelDesc, prefix: str, injected: Received | None) -> None:
        nonlocal context
        layers = {layer.name: layer for layer in model.layers}
        for name, index in keras3_call_order(model):
            layer = layers[name]
            path = call_path(prefix, layer, index)
            stored = layer.calls[index].training
            if injected is not None:
                resolved: Received | None = injected
            elif stored is not None:
                resolved = Received(stored, TrainingSource.STORED, path)
            elif context is not None:
                resolved = Received(context.value, TrainingSource.INHERITED, context.site)
            else:
                default = layer_info(layer.class_name).training_default
                resolved = (
                    None if default is None else Received(default, TrainingSource.DEFAULT, path)
                )
            context = resolved
            if layer.submodel is not None:
                run_scope(layer.submodel, path + "/", resolved)
            else:
                results[path] = resolved or Received(False, TrainingSource.DEFAULT)

    run_scope(top, "", None)
    return results
