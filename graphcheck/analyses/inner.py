"""Stochastic layers held inside other layers, found on a built model object.

A KerasHub ``TransformerEncoder`` keeps its attention and feed-forward dropouts as
sublayers and calls them inside its own ``call``: they have no call in the layer
graph. Keras (3 and tf_keras) hands a sublayer called without ``training=`` the
value of the enclosing call through its call context, so each such sublayer acts
exactly when the holding call receives ``training=True`` -- unless the holding
layer's code passes a value of its own, which no config records (Keras 3: see below).

A layer that draws random numbers in its own code (a KerasHub ``DropPath``, a
user's ``keras.random`` call; the holder itself or one of its sublayers) was called
symbolically with each ``training`` value (:mod:`graphcheck.runtime.random_draws`):
it acts in a scenario exactly when it drew under the value its holder's call
receives there. Where that call failed, its activity is not known (None).

The same symbolic calls show which held sublayers' ``call`` runs, and with which
``training`` value (``InnerLayer.ran_with``): a sublayer its holder never calls is
not listed at all; one whose holder's code passes a value of its own, or that runs
with its own ``call`` default where the holder received none (a RandomFlip called
inside a layer ``model(x)`` gives no value), acts as that value says.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphcheck.analyses.frozen import FrozenBy, FrozenStates
from graphcheck.analyses.stochastic import is_active
from graphcheck.analyses.training import TrainingValues
from graphcheck.graph import CallGraph
from graphcheck.layers import OWN_RANDOM_SPEC, StochasticSpec, stochastic_spec
from graphcheck.model import InnerLayer
from graphcheck.semantics import Received, Scenario, TrainingSource, measured_key

__all__ = ["InnerStochasticCall", "analyse_inner_stochastic"]


@dataclass(frozen=True, slots=True)
class InnerStochasticCall:
    """One stochastic sublayer, per call of the layer that holds it.

    ``frozen_by`` is the enclosing submodel declared frozen, else the holder
    itself when its own flag is False, else the sublayer itself (its ``path``) when
    its own flag is False, else None; ``frozen_by_kind`` says which
    (the values of ``analyses.frozen.FrozenBy``, as for a ``StochasticCall``).
    ``own_random`` marks a layer drawing random numbers in its own code; its
    ``draws`` are those measured per ``training`` value, and its ``active`` values
    are None where they are not known (the symbolic call failed: ``probe_error``).
    ``path`` equals ``holder`` when the holder itself draws.
    """

    path: str
    holder: str
    holder_class: str
    class_name: str
    spec: StochasticSpec
    frozen_by: str | None
    frozen_by_kind: str | None
    active: dict[Scenario, bool | None]
    own_random: bool = False
    draws: dict[str, bool] | None = None
    probe_error: str | None = None
    #: For a held sublayer of a known class: the ``training`` value its ``call`` ran
    #: with, per value its holder received, as measured (``InnerLayer.ran_with``).
    ran_with: dict[str, bool | None] | None = None


def analyse_inner_stochastic(
    graph: CallGraph, training: TrainingValues, frozen: FrozenStates
) -> list[InnerStochasticCall]:
    """Every stochastic sublayer of every call, in execution order, active as its holder's call."""
    found = []
    dialect = graph.source.dialect
    for call in graph.calls():
        path = call.path
        layer = call.layer
        # A stochastic call is reported as itself (MultiHeadAttention's attention
        # dropout, TimeDistributed(Dropout)), not again for the Dropout it keeps inside.
        holder_is_stochastic = (
            stochastic_spec(layer.class_name, layer.config, dialect, layer.origin) is not None
        )
        for inner in call.layer.inner_stochastic:
            if inner.own_random:
                spec: StochasticSpec | None = OWN_RANDOM_SPEC
            elif holder_is_stochastic:
                continue
            else:
                spec = stochastic_spec(inner.class_name, inner.config, dialect, inner.origin)
            if spec is None:
                continue
            own_path = f"{path}/{inner.path}" if inner.path else path
            state = frozen.calls[path]
            frozen_by, kind = state.frozen_by, state.frozen_by_kind
            if frozen_by is None and call.layer.trainable is False:
                frozen_by, kind = path, FrozenBy.LAYER
            elif frozen_by is None and inner.trainable is False:
                # Its own flag, as for a top-level layer: it freezes weights, not dropout.
                frozen_by, kind = own_path, FrozenBy.LAYER
            received = training[path]
            active: dict[Scenario, bool | None]
            if inner.own_random:
                active = {s: _draws(inner, received[s]) for s in Scenario}
            else:
                active = {s: _acts(spec, inner, received[s]) for s in Scenario}
            found.append(
                InnerStochasticCall(
                    path=own_path,
                    holder=path,
                    holder_class=call.layer.class_name,
                    class_name=inner.class_name,
                    spec=spec,
                    frozen_by=frozen_by,
                    frozen_by_kind=kind,
                    active=active,
                    own_random=inner.own_random,
                    draws=dict(inner.draws) if inner.draws is not None else None,
                    probe_error=inner.probe_error,
                    ran_with=dict(inner.ran_with) if inner.ran_with is not None else None,
                )
            )
    return found


def _acts(spec: StochasticSpec, inner: InnerLayer, received: Received) -> bool:
    """A held sublayer acts as the ``training`` value its ``call`` ran with when its
    holder received ``received`` (measured), else as its holder's value."""
    if received.source is TrainingSource.NOT_RUN or inner.ran_with is None:
        return is_active(spec, received)
    key = measured_key(received)
    if key not in inner.ran_with:
        return False  # its holder's call does not run it with that value
    return is_active(spec, Received(bool(inner.ran_with[key]), TrainingSource.DEFAULT))


def _draws(inner: InnerLayer, received: Received) -> bool | None:
    if received.source is TrainingSource.NOT_RUN:
        return False
    if inner.draws is None:
        return None
    return inner.draws.get(measured_key(received))
