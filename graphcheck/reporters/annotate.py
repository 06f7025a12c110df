"""The call graph with analysis results as node and edge attributes.

Used by :meth:`graphcheck.api.LoadedModel.to_networkx` and by the GraphML and
node-link exporters (:mod:`graphcheck.reporters.graph_export`). Attributes are plain
strings, numbers and booleans only, because GraphML cannot hold objects.
"""

from __future__ import annotations

from typing import Any

import networkx as nx

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.semantics import Scenario

__all__ = ["annotated_graph"]


def annotated_graph(analysis: ModelAnalysis) -> nx.MultiDiGraph:
    """Copy the call graph of ``analysis`` with its results as scalar attributes.

    Parameters
    ----------
    analysis : ModelAnalysis
        The analysed model; its graph is not changed.

    Returns
    -------
    networkx.MultiDiGraph
        One node per layer call with ``name``, ``class_name``, submodel and frozen
        state, ``stochastic``/``mode_dependent`` and, per scenario,
        ``active_<scenario>`` or ``batch_statistics_<scenario>``; the stochastic
        sublayers the call holds (a built model only: a KerasHub TransformerEncoder's
        dropouts), ``stochastic_sublayers`` and per scenario how many are active,
        ``sublayers_active_<scenario>``; the graph's ``source`` (stored config,
        rebuilt, live object); one edge per tensor
        with its indices, ``shape`` and ``masked_by_consumer``. Yes/no facts are
        booleans; one that is not known (``trainable``, ``frozen``, ``will_train``,
        ``rate``) is left out, and an unknown ``shape`` is the string ``"unknown"``.
    """
    source = analysis.graph
    stochastic = {item.path: item for item in analysis.stochastic}
    modes = {item.path: item for item in analysis.mode_dependent}
    graph: nx.MultiDiGraph = nx.MultiDiGraph(
        name=analysis.saved.model.name,
        path=analysis.saved.path,
        keras_version=analysis.saved.keras_version or "",
        profile=analysis.profile.name,
        source=analysis.saved.source,
    )
    # Stochastic sublayers held by a call (found on a built model only), per holder.
    held: dict[str, list[Any]] = {}
    for inner in analysis.inner_stochastic:
        held.setdefault(inner.holder, []).append(inner)
    for call in source.calls():
        path = call.path
        state = analysis.frozen.calls[path]
        attrs: dict[str, Any] = {
            "name": call.layer.name,
            "class_name": call.layer.class_name,
            "submodel": call.submodel,
            "submodels": "|".join(call.submodels),
            "call_index": call.call_index,
            "stochastic": path in stochastic,
            "mode_dependent": path in modes,
        }
        # A yes/no fact is a boolean wherever it occurs, and left out where it is not
        # known: GraphML types each attribute once, for every node.
        for key, value in (("trainable", state.trainable), ("frozen", state.frozen),
                           ("will_train", state.will_train)):
            if value is not None:
                attrs[key] = value
        if path in stochastic:
            item = stochastic[path]
            if item.spec.rate is not None:
                attrs["rate"] = float(item.spec.rate)
            for scenario in Scenario:
                attrs[f"active_{scenario.value}"] = item.active[scenario]
        if path in modes:
            for scenario in Scenario:
                attrs[f"batch_statistics_{scenario.value}"] = modes[path].batch_statistics[scenario]
        # Counts, so that GraphML types them alike on every node.
        attrs["stochastic_sublayers"] = len(held.get(path, ()))
        for scenario in Scenario:
            attrs[f"sublayers_active_{scenario.value}"] = sum(
                1 for inner in held.get(path, ()) if inner.active[scenario]
            )
        graph.add_node(path, **attrs)
    masked = {(m.producer, item.path) for item in analysis.stochastic for m in item.masks}
    for producer, consumer, data in source.edges(data=True):
        graph.add_edge(
            producer,
            consumer,
            output_index=data["output_index"],
            input_index=data["input_index"],
            shape=_text(data["shape"]),
            masked_by_consumer=(producer, consumer) in masked,
        )
    return graph


def _text(value: Any) -> str:
    """A shape as a string: None -> "unknown", else "(None, 16)"."""
    if value is None:
        return "unknown"
    if isinstance(value, tuple):
        return "(" + ", ".join("None" if d is None else str(d) for d in value) + ")"
    return str(value)
