"""Plain-words explanations of why a call is active or not in each scenario."""

from __future__ import annotations

from graphcheck.analyses.inner import InnerStochasticCall
from graphcheck.kinds import Stochastic, facts_of
from graphcheck.semantics import (
    ContextRule,
    Received,
    Scenario,
    SemanticsProfile,
    TrainingSource,
    measured_key,
)

__all__ = ["explain_batch_statistics", "explain_inner", "explain_received", "explain_stochastic"]

# How the measured training values read in a sentence.
_DRAW_VALUES = {"true": "training=True", "false": "training=False", "none": "no training value"}


def explain_received(
    received: Received, scenario: Scenario, profile: SemanticsProfile, path: str
) -> str:
    """Say where the ``training`` value a call receives comes from."""
    value = str(received.value)
    if received.source is TrainingSource.TOP:
        if profile.top_overrides_stored:
            return f"{profile.title} pass {scenario.label}'s training={value} to every call"
        if profile.context_rule is ContextRule.STICKY:
            return f"gets training={value} from {scenario.label}; no stored flag runs before it"
        return f"gets training={value} from {scenario.label}; no flag is stored on its call path"
    if received.source is TrainingSource.STORED:
        if received.site == path:
            return f"its call stores training={value}"
        return f"call site {received.site} stores training={value}"
    if received.source is TrainingSource.STORED_NONE:
        where = "its call stores" if received.site == path else f"call site {received.site} stores"
        return f"{where} training=None, so it receives None, not its call() default"
    if received.source is TrainingSource.INHERITED:
        if received.set_by is not None:
            return (
                f"inherits training={value}, which {received.set_by} left in the shared "
                f"call context during the call of {received.site} (Keras 3.0-3.15 write "
                "every resolved value, a call() default included, into the context)"
            )
        if profile.top_overrides_stored:
            return (
                f"inherits training={value} left in the shared call context by {received.site} "
                "(Keras 3.0-3.15, keras-team/keras#23166)"
            )
        return (
            f"inherits training={value}, stored at {received.site} and left in the call "
            f"context shared by the whole call ({profile.title})"
        )
    if received.source is TrainingSource.NOT_RUN:
        return "not on a path to a model output, so never run"
    if not received.value and profile.context_rule is ContextRule.PATH:
        return "no training value reaches it: learning phase 0"
    return f"its call() default is training={value}"


def explain_stochastic(
    received: dict[Scenario, Received],
    active: dict[Scenario, bool],
    kind: Stochastic,
    is_noop: bool,
    profile: SemanticsProfile,
    path: str,
) -> str:
    """One sentence per scenario: active or off, and why."""
    if kind is Stochastic.OP_DROPOUT:
        return "a tf.nn.dropout op ignores training: active in every scenario"
    if facts_of(kind).ignores_training:
        return "a TensorFlow random op ignores training: it draws in every scenario"
    parts = []
    for scenario in Scenario:
        state = "active" if active[scenario] else "off"
        why = explain_received(received[scenario], scenario, profile, path)
        if is_noop and received[scenario].value:
            why += ", but its rate is 0"
        parts.append(f"{scenario.label}: {state} ({why})")
    return "; ".join(parts)


def explain_batch_statistics(
    received: dict[Scenario, Received],
    batch_statistics: dict[Scenario, bool],
    trainable: bool | None,
    profile: SemanticsProfile,
    path: str,
) -> str:
    """One sentence per scenario for a BatchNormalization call: which statistics, and why."""
    if trainable is False:
        return "trainable=False: BatchNormalization always uses its moving statistics"
    parts = []
    for scenario in Scenario:
        state = "batch statistics" if batch_statistics[scenario] else "moving statistics"
        why = explain_received(received[scenario], scenario, profile, path)
        parts.append(f"{scenario.label}: {state} ({why})")
    return "; ".join(parts)


def explain_inner(item: InnerStochasticCall, received: dict[Scenario, Received]) -> str:
    """Why a layer held inside another (or drawing in its own code) is active or not.

    ``received`` is what the holder's call receives in each scenario.
    """
    passed = (
        f"the training value of the call of {item.holder} through Keras's call context, "
        f"unless {item.holder_class}'s code passes training itself"
    )
    if not item.own_random and item.ran_with is not None:
        runs = ", ".join(
            f"training={value} when it gets {_DRAW_VALUES[key]}"
            for key, value in item.ran_with.items()
        )
        return (
            f"no call of its own in the graph; in symbolic calls of {item.holder}, "
            f"its call runs with {runs}"
        )
    if not item.own_random:
        return f"no call of its own in the graph: it receives {passed}"
    itself = "it" if item.path == item.holder else f"{item.holder} (holding it)"
    if item.path == item.holder:
        passed = "the training value of its own call in the graph"
    if item.draws is None:
        return (
            f"may draw random numbers in its own code (it keeps a keras.random.SeedGenerator, "
            f"drew before the failure, or is the layer whose call failed); a symbolic call "
            f"of {item.holder} failed ({item.probe_error}), so whether and when it draws is "
            "not known statically: `graphcheck validate` observes it"
        )
    drew = [_DRAW_VALUES[k] for k, v in item.draws.items() if v]
    kept = [_DRAW_VALUES[k] for k, v in item.draws.items() if not v]
    measured = (
        f"draws random numbers in its own code (keras.random): called symbolically, "
        f"{itself} drew with {' and '.join(drew) or 'no value'}"
        + (f", not with {' or '.join(kept)}" if kept else "")
    )
    parts = []
    for scenario in Scenario:
        state = "active" if item.active[scenario] else "off"
        drawn_under = _DRAW_VALUES[measured_key(received[scenario])]
        parts.append(f"{scenario.label}: {state} ({drawn_under})")
    return f"{measured}; it receives {passed}; " + "; ".join(parts)
