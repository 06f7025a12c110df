"""The static prediction for every runtime scenario, from one `ModelAnalysis`.

The static report covers ``fit()``, ``predict()`` and ``model(x)``.  The validator
also runs ``model(x, training=True)`` and ``model(x, training=False)``: every Keras
resolves ``training`` from the top-level value alone, so they receive exactly what
``fit()`` (True) and ``predict()`` (False) give, shared call context included.

Imports no Keras: this is plain bookkeeping over the analysis.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.analyses.stochastic import is_active, uses_batch_statistics
from graphcheck.kinds import INVERTED_KINDS, KINDS
from graphcheck.semantics import RUN_SCENARIOS, Scenario

__all__ = ["Expectation", "expected_behaviour"]

#: A per-scenario value: what a call receives, or whether it is active.
V = TypeVar("V")

# The top-level `training` value each explicit call passes.
_EXPLICIT_TOP = {"call_true": True, "call_false": False}
# The static scenario that passes the same top-level value.
_SAME_TOP = {True: Scenario.FIT, False: Scenario.PREDICT}
# TensorFlow ops recorded in a tf_keras graph: no `training` reaches them.
_OPS = frozenset(kind for kind, facts in KINDS.items() if facts.ignores_training)


@dataclass(frozen=True, slots=True)
class Expectation:
    """What the static analysis claims one call does, per runtime scenario.

    ``kind`` is ``"stochastic"`` (``active``: the call perturbs its input),
    ``"own_random"`` (a layer drawing random numbers in its own code; ``active``: it
    draws, None where not known statically; ``training`` is its holder's),
    ``"inner"`` (a stochastic sublayer of a Keras class held by a layer, a KerasHub
    TransformerEncoder's Dropout; ``active`` as its holder's call runs it, ``training``
    the holder's), ``"op"`` (a TensorFlow op a tf_keras graph records, ``tf.nn.dropout``
    or ``tf.random.normal``: it knows no ``training``, so only whether it draws is
    claimed) or
    ``"batch_norm"`` (``active``: it uses batch statistics and updates its moving
    statistics).  ``rate`` is the configured rate of an inverted Dropout-family call
    (Dropout, SpatialDropout*), else None.
    """

    path: str
    class_name: str
    kind: str
    training: dict[str, bool]
    active: dict[str, bool | None]
    rate: float | None = None


def expected_behaviour(analysis: ModelAnalysis) -> list[Expectation]:
    """Return the static claim for every stochastic and BatchNormalization call.

    Examples
    --------
    >>> import graphcheck
    >>> analysis = graphcheck.load("samples/inverted_dropout.keras").analyse("3.15.1")
    >>> [(e.path, e.active["call_true"]) for e in expected_behaviour(analysis)]
    [('dropout', True)]
    """
    found = []
    for item in analysis.stochastic:
        received = _all_scenarios(item.received, analysis.training.explicit.get(item.path))
        found.append(
            Expectation(
                item.path,
                item.class_name,
                "op" if item.spec.kind in _OPS else "stochastic",
                {s: r.value for s, r in received.items()},
                {s: is_active(item.spec, r) for s, r in received.items()},
                item.spec.rate if item.spec.kind in INVERTED_KINDS else None,
            )
        )
    for inner in analysis.inner_stochastic:
        received = _all_scenarios(analysis.training[inner.holder])
        active = _all_scenarios(inner.active)
        found.append(
            Expectation(
                inner.path,
                inner.class_name,
                "own_random" if inner.own_random else "inner",
                {s: r.value for s, r in received.items()},
                active,
                (None if inner.own_random or inner.spec.kind not in INVERTED_KINDS
                 else inner.spec.rate),
            )
        )
    for mode in analysis.mode_dependent:
        received = _all_scenarios(mode.received, analysis.training.explicit.get(mode.path))
        found.append(
            Expectation(
                mode.path,
                mode.class_name,
                "batch_norm",
                {s: r.value for s, r in received.items()},
                {s: uses_batch_statistics(r, mode.trainable) for s, r in received.items()},
            )
        )
    return found



def _all_scenarios(
    static: Mapping[Scenario, V], explicit: Mapping[str, V] | None = None
) -> dict[str, V]:
    values = {scenario.value: static[scenario] for scenario in Scenario}
    for name, top in _EXPLICIT_TOP.items():
        values[name] = static[_SAME_TOP[top]]
    values.update(explicit or {})  # a subclassed call that takes no training
    return {name: values[name] for name in RUN_SCENARIOS}


