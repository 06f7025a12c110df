"""Stochastic layers held inside other layers, found on a built model object.

A KerasHub ``TransformerEncoder`` keeps its attention and feed-forward dropouts as
sublayers and calls them inside its own ``call``: they have no call in the layer
graph. Keras (3 and tf_keras) hands a sublayer called without ``training=`` the
value of the enclosing call through its call context, so each such sublayer acts
exactly when the holding call receives ``training=True`` -- unless the holding
layer's code passes a value of its own, which no config records.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphcheck.analyses.frozen import FrozenBy, FrozenStates
from graphcheck.analyses.stochastic import is_active
from graphcheck.analyses.training import TrainingValues
from graphcheck.graph import CallGraph
from graphcheck.layers import StochasticSpec, stochastic_spec
from graphcheck.semantics import Scenario

__all__ = ["InnerStochasticCall", "analyse_inner_stochastic"]


@dataclass(frozen=True, slots=True)
class InnerStochasticCall:
    """One stochastic sublayer, per call of the layer that holds it.

    ``frozen_by`` is the enclosing submodel declared frozen, else the holder
    itself when its own flag is False, else the sublayer itself (its ``path``) when
    its own flag is False, else None; ``frozen_by_kind`` says which
    (the values of ``analyses.frozen.FrozenBy``, as for a ``StochasticCall``).
    """

    path: str
    holder: str
    holder_class: str
    class_name: str
    spec: StochasticSpec
    frozen_by: str | None
    frozen_by_kind: str | None
    active: dict[Scenario, bool]


def analyse_inner_stochastic(
    graph: CallGraph, training: TrainingValues, frozen: FrozenStates
) -> list[InnerStochasticCall]:
    """Every stochastic sublayer of every call, in execution order, active as its holder's call."""
    found = []
    dialect = graph.source.dialect
    for call in graph.calls():
        path = call.path
        for inner in call.layer.inner_stochastic:
            spec = stochastic_spec(inner.class_name, inner.config, dialect, inner.origin)
            if spec is None:
                continue
            state = frozen.calls[path]
            frozen_by, kind = state.frozen_by, state.frozen_by_kind
            if frozen_by is None and call.layer.trainable is False:
                frozen_by, kind = path, FrozenBy.LAYER
            elif frozen_by is None and inner.trainable is False:
                # Its own flag, as for a top-level layer: it freezes weights, not dropout.
                frozen_by, kind = f"{path}/{inner.path}", FrozenBy.LAYER
            received = training[path]
            found.append(
                InnerStochasticCall(
                    path=f"{path}/{inner.path}",
                    holder=path,
                    holder_class=call.layer.class_name,
                    class_name=inner.class_name,
                    spec=spec,
                    frozen_by=frozen_by,
                    frozen_by_kind=kind,
                    active={s: is_active(spec, received[s]) for s in Scenario},
                )
            )
    return found
